import { writeFileSync } from 'node:fs';
import { buildArchive, durationFlag, str, timeFlag, type ManifestRoute } from '../archive/index.js';
import { PeerwebError } from '../errors/index.js';
import { loadPrivateKey } from '../integrity/keys.js';
import { parseFlags } from './flags.js';
import type { CliIo, Subcommand } from './io.js';

export const command: Subcommand = {
  summary: 'Build a signed site archive (.pwar) from a folder',
  usage: `Usage: peerweb archive build DIR --origin URL --prefix P --valid-for D -o FILE.pwar [--key KEY]
       [--route PATTERN=HANDLER]... [--version N] [--not-before TIME] [--stale-if-unverified D]

Packs every file of DIR into FILE.pwar with a manifest (origin, prefix, version, validity, the
SHA-256 of each file, routes) signed with KEY (an Ed25519 PEM from peerweb keygen). Without --key
the archive is unsigned; sign it with peerweb archive sign. A route sends URLs under the prefix to
a handler module of DIR: --route /search=handlers/search.js, --route '/api/*=api.js'.

The build is reproducible: the same folder, options and key give the same bytes. The validity
starts at --not-before (ISO 8601 or epoch seconds), else at $SOURCE_DATE_EPOCH, else now; the
version defaults to that start in epoch seconds.`,
  async run(argv: readonly string[], io: CliIo): Promise<number> {
    const f = parseFlags(argv, {
      origin: { type: 'string' }, prefix: { type: 'string' }, 'valid-for': { type: 'string' }, key: { type: 'string' },
      out: { type: 'string', short: 'o' }, route: { type: 'string', multiple: true }, version: { type: 'string' },
      'not-before': { type: 'string' }, 'stale-if-unverified': { type: 'string' },
    }, false);
    const dir = f.positionals[0];
    const origin = str(f.own.origin);
    const out = str(f.own.out);
    if (!dir || f.positionals.length !== 1 || !origin || !out) throw new PeerwebError('PW_ERR_CLI_USAGE', { reason: 'archive build needs DIR, --origin URL and -o FILE' });
    const validFor = durationFlag(f.own['valid-for'] ?? '30d', 'valid-for')!;
    const epoch = io.env.SOURCE_DATE_EPOCH;
    const notBefore = timeFlag(f.own['not-before'], 'not-before') ?? (epoch !== undefined ? timeFlag(epoch, 'SOURCE_DATE_EPOCH') : undefined) ?? Date.now();
    const staleMs = durationFlag(f.own['stale-if-unverified'], 'stale-if-unverified');
    const routes: ManifestRoute[] = [];
    for (const r of (f.own.route as string[] | undefined) ?? []) {
      const eq = r.indexOf('=');
      if (eq <= 0) throw new PeerwebError('PW_ERR_CLI_USAGE', { reason: `--route ${JSON.stringify(r)} must be PATTERN=HANDLER` });
      routes.push({ pattern: r.slice(0, eq), handler: r.slice(eq + 1) });
    }
    const version = str(f.own.version);
    if (version !== undefined && !/^\d{1,15}$/.test(version)) throw new PeerwebError('PW_ERR_CLI_USAGE', { reason: `--version ${JSON.stringify(version)} must be a non-negative integer` });
    const keyFile = str(f.own.key);
    const bytes = buildArchive({
      dir, origin, prefix: str(f.own.prefix) ?? '/', notBefore, validFor, routes,
      ...(staleMs !== undefined ? { staleIfUnverified: Math.floor(staleMs / 1000) } : {}),
      ...(version !== undefined ? { version: Number(version) } : {}),
      ...(keyFile ? { key: loadPrivateKey(keyFile) } : {}),
    });
    writeFileSync(out, bytes);
    io.stdout.write(`Wrote ${out} (${bytes.length} bytes${keyFile ? '' : ', unsigned'})\n`);
    return 0;
  },
};
