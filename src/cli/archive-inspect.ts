import { readFileSync } from 'node:fs';
import { bufferSource, inspectArchive, manifestDigest, parseSignature } from '../archive/index.js';
import { PeerwebError } from '../errors/index.js';
import { parseFlags } from './flags.js';
import type { CliIo, Subcommand } from './io.js';

export const command: Subcommand = {
  summary: 'Show what a site archive holds (without verifying it)',
  usage: `Usage: peerweb archive inspect FILE.pwar [--json]

Prints the manifest (origin, prefix, version, validity, key id, routes, files). Nothing is
verified: use peerweb archive verify for that.`,
  async run(argv: readonly string[], io: CliIo): Promise<number> {
    const f = parseFlags(argv, { json: { type: 'boolean' } }, false);
    const file = f.positionals[0];
    if (!file || f.positionals.length !== 1) throw new PeerwebError('PW_ERR_CLI_USAGE', { reason: 'archive inspect needs FILE' });
    const { manifest: m, manifestBytes: mb, sigBytes, files } = await inspectArchive(bufferSource(readFileSync(file)), file);
    const sig = sigBytes ? parseSignature(sigBytes) : undefined;
    if (f.own.json) {
      const list = Object.fromEntries(files.map(({ path, sha256, size, type, chunks }) => [path, { sha256, size, type, ...(chunks ? { chunks: chunks.length } : {}) }]));
      io.stdout.write(`${JSON.stringify({ manifest: m, digest: manifestDigest(mb), keyId: sig?.keyId ?? null, files: list }, null, 2)}\n`);
      return 0;
    }
    const lines = [
      `Origin:     ${m.origin}`, `Prefix:     ${m.prefix}`, `Version:    ${m.version}`,
      `Valid:      ${m.notBefore} .. ${m.notAfter}${m.staleIfUnverified ? ` (stale allowed ${m.staleIfUnverified} s)` : ''}`,
      `Signed by:  ${sig ? sig.keyId : '(unsigned)'}`, `Digest:     ${manifestDigest(mb)}`,
      ...(m.previous ? [`Previous:   version ${m.previous.version} ${m.previous.digest}`] : []),
      `Routes:     ${m.routes.length === 0 ? '(none)' : ''}`, ...m.routes.map((r) => `  ${r.pattern} -> ${r.handler}`),
      `Files:      ${files.length} (index: ${m.index.length} shard${m.index.length === 1 ? '' : 's'})`,
      ...files.map((x) => `  ${String(x.size).padStart(10)}  ${x.sha256.slice(0, 16)}  ${x.type.padEnd(28)}  ${x.path}`),
    ];
    io.stdout.write(`${lines.join('\n')}\n`);
    return 0;
  },
};
