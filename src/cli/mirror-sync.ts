import { PeerwebError, isPeerwebError } from '../errors/index.js';
import { loadPublicKey } from '../integrity/index.js';
import { parseFlags } from './flags.js';
import type { CliIo, Subcommand } from './io.js';

/** `http://host:port/prefix/` → origin and prefix ("/" when none). */
export function parseMirrorSpec(spec: string): { origin: string; prefix: string } {
  let u: URL;
  try {
    u = new URL(spec);
  } catch {
    throw new PeerwebError('PW_ERR_CLI_USAGE', { reason: `${JSON.stringify(spec)} is not ORIGIN[/PREFIX/]` });
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new PeerwebError('PW_ERR_CLI_USAGE', { reason: `${spec} must be http or https` });
  return { origin: u.origin, prefix: u.pathname || '/' };
}

export const command: Subcommand = {
  summary: 'Copy or update mirrored prefixes from their origin (only what changed)',
  usage: `Usage: peerweb mirror sync ORIGIN[/PREFIX/]... --dir DIR [--origin-key KEY | --dns IP[:PORT]] [--base URL] [--offer]

Reads the origin's signed index of each prefix (/.well-known/peerweb/index), checks its signature
with the publisher key, fetches only entries whose digest changed, verifies each against the
index, and stores the copy under DIR (content addressed). Entries removed at the origin are
removed here.

Options:
  --dir DIR          Folder of the mirror copy (created if needed)
  --origin-key KEY   Origin publisher public key: base64 p= value or PEM file. Without it the key
                     is taken from the TXT record _peerweb-key.<host> of the origin's host
  --dns IP[:PORT]    DNS server for that record (default: the system resolvers)
  --allow-unsigned   Accept an unsigned index (closed networks and tests only)
  --base URL         Public base URL of this mirror for the origin (used with --offer)
  --offer            After syncing, offer this mirror to the origin
  --quiet            No progress bar or summary

Exit codes: 0 done; 1 an entry or the sync failed; 2 usage; 3 no publisher key (none given and
none found in DNS).`,
  async run(argv: readonly string[], io: CliIo): Promise<number> {
    const flags = parseFlags(argv, {
      dir: { type: 'string' }, 'origin-key': { type: 'string' }, dns: { type: 'string' }, 'allow-unsigned': { type: 'boolean' }, base: { type: 'string' },
      offer: { type: 'boolean' }, quiet: { type: 'boolean' },
    }, false);
    if (!flags.positionals.length || typeof flags.own.dir !== 'string') throw new PeerwebError('PW_ERR_CLI_USAGE', { reason: 'peerweb mirror sync needs ORIGIN[/PREFIX/] and --dir' });
    const specs = flags.positionals.map(parseMirrorSpec);
    const origins = [...new Set(specs.map((s) => s.origin))];
    if (origins.length !== 1) throw new PeerwebError('PW_ERR_CLI_USAGE', { reason: 'sync one origin at a time' });
    const origin = origins[0] as string;
    const { parseDnsServer, publisherKeysFromDns } = await import('../client/index.js');
    const dns = typeof flags.own.dns === 'string' ? parseDnsServer(flags.own.dns) : undefined;
    const quiet = flags.own.quiet === true;
    const keys = [];
    if (typeof flags.own['origin-key'] === 'string') {
      try {
        keys.push(loadPublicKey(flags.own['origin-key']));
      } catch (err) {
        throw new PeerwebError('PW_ERR_CLI_USAGE', { reason: `--origin-key: ${(err as Error).message}` });
      }
    } else if (flags.own['allow-unsigned'] !== true) {
      // The publisher key from DNS: _peerweb-key.<host> TXT.
      const host = new URL(origin).hostname;
      try {
        keys.push(...await publisherKeysFromDns(host, { server: dns }));
      } catch (err) {
        if (!isPeerwebError(err, 'PW_ERR_ORIGIN_KEY_UNKNOWN')) throw err;
        io.stderr.write(`peerweb: ${err.message} [${err.code}]\n`);
        return 3;
      }
      if (!quiet) io.stderr.write(`peerweb: publisher key${keys.length > 1 ? 's' : ''} of ${host} from DNS: ${keys.map((k) => k.keyId).join(', ')}\n`);
    }
    const base = typeof flags.own.base === 'string' ? flags.own.base : `http://127.0.0.1:8080/${new URL(origin).host}/`;
    const { createMirror } = await import('../mirror/index.js');
    const mirror = createMirror({
      origin, prefixes: specs.map((s) => s.prefix), base: base.endsWith('/') ? base : `${base}/`, originKeys: keys, dir: flags.own.dir,
      maxObjectSize: 1024 ** 3, allowUnsigned: flags.own['allow-unsigned'] === true,
    });
    let bar: { start(total: number, v: number): void; update(v: number): void; stop(): void } | undefined;
    if (!quiet && (io.stderr as { isTTY?: boolean }).isTTY === true) {
      const { SingleBar, Presets } = await import('cli-progress');
      bar = new SingleBar({ format: 'mirror sync [{bar}] {percentage}% {value}/{total} bytes', stream: io.stderr as NodeJS.WritableStream }, Presets.shades_classic);
    }
    let started = false;
    try {
      const r = await mirror.sync({
        ...(io.signal ? { signal: io.signal } : {}),
        onProgress: (done, total) => {
          if (!bar) return;
          if (!started) { bar.start(total, done); started = true; } else bar.update(done);
        },
      });
      bar?.stop();
      if (!quiet) io.stdout.write(`added ${r.added}, updated ${r.updated}, removed ${r.removed}, unchanged ${r.unchanged}, ${r.bytes} bytes copied${r.failed.length ? `, ${r.failed.length} failed` : ''}\n`);
      for (const f of r.failed) io.stderr.write(`peerweb: ${f.path}: ${f.reason}\n`);
      if (flags.own.offer === true) {
        const o = await mirror.offer();
        if (!quiet) io.stdout.write(`offered ${mirror.base} to ${origin}: ${o.state}\n`);
      }
      return r.failed.length ? 1 : 0;
    } finally {
      bar?.stop();
      await mirror.close();
    }
  },
};
