import { basename } from 'node:path';
import { PeerwebError, isPeerwebError } from '../errors/index.js';
import { loadPublicKey, parseDigestText } from '../integrity/index.js';
import { parseDuration } from '../util/units.js';
import { parseFlags } from './flags.js';
import type { CliIo, Subcommand } from './io.js';

/** Exit codes of `peerweb get` (documented in docs/p2p.md). */
export const GET_EXIT = { ok: 0, error: 1, usage: 2, digestUnknown: 3, noVerifiedSource: 4, interrupted: 130 } as const;

export const command: Subcommand = {
  summary: 'Download a file from mirrors and peers, verified against the publisher digest',
  usage: `Usage: peerweb get URL [-o FILE] [--digest sha-256=:BASE64:] [--mirror URL]... [options]

Learns the expected digest (HEAD at the origin, or --digest), asks the origin for its mirrors,
downloads in parallel ranges from several mirrors, verifies every piece as it arrives (Metalink
piece hashes, else the whole-file hash computed in order), re-fetches a bad piece elsewhere and
reports the mirror, falls back to the origin, and resumes an interrupted run. The output file
appears only once every byte is verified.

Options:
  -o, --output FILE   Output file (default: last path segment of URL)
  --digest D          Expected digest: sha-256=:BASE64:, SHA-256=BASE64 or 64 hex digits
  --mirror URL        An extra mirror URL of the resource (repeatable)
  --mirror-auth BASE=ENV
                      Send the Authorization field held in environment variable ENV (for
                      instance "Bearer TOKEN") to sources under BASE: a mirror that restricts
                      its clients, which the origin does not list; name it with --mirror
                      (repeatable)
  --origin-key KEY    Publisher public key (base64 p= value or PEM file): when the origin is down,
                      the digest is read from its signed index as kept by a --mirror. Without it
                      the key is taken from the TXT record _peerweb-key.<host> of the URL's host
  --dns IP[:PORT]     DNS server for that record (default: the system resolvers)
  --parallel N        Concurrent range requests (1-32, default 4)
  --timeout T         Per-request timeout (default 30s)
  --no-report         Do not report bad mirrors to the origin
  --no-fsync          Do not flush the file to disk before renaming it into place (as curl and
                      wget do): faster, but after a power loss or system crash FILE may be empty
                      or incomplete
  --quiet             No progress bar or summary

Exit codes: 0 done; 1 other error; 2 usage; 3 expected digest unknown; 4 no source delivered
verified bytes; 130 interrupted (run again to resume).`,
  async run(argv: readonly string[], io: CliIo): Promise<number> {
    const flags = parseFlags(argv, {
      output: { type: 'string', short: 'o' }, digest: { type: 'string' }, mirror: { type: 'string', multiple: true }, 'mirror-auth': { type: 'string', multiple: true },
      'origin-key': { type: 'string' }, dns: { type: 'string' }, parallel: { type: 'string' }, timeout: { type: 'string' }, 'no-report': { type: 'boolean' },
      'no-fsync': { type: 'boolean' }, quiet: { type: 'boolean' },
    }, false);
    const [url, ...extra] = flags.positionals;
    if (!url || extra.length) throw new PeerwebError('PW_ERR_CLI_USAGE', { reason: 'peerweb get takes exactly one URL' });
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      throw new PeerwebError('PW_ERR_CLI_USAGE', { reason: `URL ${JSON.stringify(url)} is not an absolute URL` });
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new PeerwebError('PW_ERR_CLI_USAGE', { reason: `URL ${url} must be http or https` });
    const out = typeof flags.own.output === 'string' ? flags.own.output : decodeURIComponent(basename(u.pathname)) || 'index.html';
    const parallel = flags.own.parallel === undefined ? 4 : Number(flags.own.parallel);
    if (!Number.isInteger(parallel) || parallel < 1 || parallel > 32) throw new PeerwebError('PW_ERR_CLI_USAGE', { reason: `--parallel ${String(flags.own.parallel)} must be an integer from 1 to 32` });
    const timeoutMs = flags.own.timeout === undefined ? 30_000 : parseDuration(flags.own.timeout);
    if (timeoutMs === undefined || timeoutMs <= 0) throw new PeerwebError('PW_ERR_CLI_USAGE', { reason: `--timeout ${String(flags.own.timeout)} is not a duration` });
    let digest;
    if (typeof flags.own.digest === 'string') {
      try {
        digest = parseDigestText(flags.own.digest);
      } catch (err) {
        throw new PeerwebError('PW_ERR_CLI_USAGE', { reason: (err as Error).message });
      }
    }
    const originKeys = [];
    if (typeof flags.own['origin-key'] === 'string') {
      try {
        originKeys.push(loadPublicKey(flags.own['origin-key']));
      } catch (err) {
        throw new PeerwebError('PW_ERR_CLI_USAGE', { reason: `--origin-key: ${(err as Error).message}` });
      }
    }
    const { getVerified, parseDnsServer, publisherKeysFromDns } = await import('../client/index.js');
    const dns = typeof flags.own.dns === 'string' ? parseDnsServer(flags.own.dns) : undefined;
    if (flags.own.dns !== undefined && dns === undefined) throw new PeerwebError('PW_ERR_CLI_USAGE', { reason: '--dns needs IP[:PORT]' });
    // Without --origin-key the key comes from DNS, asked only if it is needed (origin down, no --digest).
    const lookupOriginKeys = originKeys.length ? undefined : () => publisherKeysFromDns(u.hostname, { server: dns, timeoutMs: Math.min(timeoutMs, 5000) });
    const mirrors = Array.isArray(flags.own.mirror) ? flags.own.mirror.map(String) : [];
    const mirrorAuth = (Array.isArray(flags.own['mirror-auth']) ? flags.own['mirror-auth'].map(String) : []).map((spec) => {
      const m = /^(https?:\/\/[^=\s]+)=([A-Za-z_][A-Za-z0-9_]*)$/.exec(spec);
      if (!m) throw new PeerwebError('PW_ERR_CLI_USAGE', { reason: `--mirror-auth ${JSON.stringify(spec)} must be BASE_URL=ENV_VARIABLE` });
      const authorization = io.env[m[2] as string];
      if (!authorization) throw new PeerwebError('PW_ERR_CLI_USAGE', { reason: `--mirror-auth: environment variable ${m[2]} is not set` });
      if (/[\r\n\0]/.test(authorization)) throw new PeerwebError('PW_ERR_CLI_USAGE', { reason: `--mirror-auth: ${m[2]} holds a line break` });
      return { base: m[1] as string, authorization };
    });
    const quiet = flags.own.quiet === true;
    const tty = !quiet && (io.stderr as { isTTY?: boolean }).isTTY === true;
    let bar: { start(total: number, v: number): void; update(v: number): void; setTotal(t: number): void; stop(): void } | undefined;
    if (tty) {
      const { SingleBar, Presets } = await import('cli-progress');
      bar = new SingleBar({ format: 'peerweb get [{bar}] {percentage}% {value}/{total} bytes', stream: io.stderr as NodeJS.WritableStream, hideCursor: true }, Presets.shades_classic);
    }
    let started = false;
    try {
      const r = await getVerified({
        url, out, parallel, timeoutMs, mirrors, mirrorAuth, originKeys, report: flags.own['no-report'] !== true, fsync: flags.own['no-fsync'] !== true,
        ...(lookupOriginKeys ? { lookupOriginKeys } : {}),
        ...(digest ? { digest } : {}), ...(io.signal ? { signal: io.signal } : {}),
        onProgress: (done, total) => {
          if (!bar) return;
          if (!started) { bar.start(total, done); started = true; } else bar.update(done);
        },
      });
      bar?.stop();
      if (!quiet) {
        const from = Object.entries(r.bytesFrom).map(([s, n]) => `${s} ${n}`).join(', ');
        io.stderr.write(`peerweb get: ${out}: ${r.size} bytes verified (sha-256=:${r.digest.toString('base64')}:) from ${from || 'resumed pieces'}${r.liars.length ? `; rejected bad bytes from ${r.liars.join(', ')}` : ''}\n`);
      }
      return GET_EXIT.ok;
    } catch (err) {
      bar?.stop();
      if (!isPeerwebError(err)) throw err;
      io.stderr.write(`peerweb: ${err.message} [${err.code}]\n`);
      if (err.code === 'PW_ERR_DIGEST_UNKNOWN') return GET_EXIT.digestUnknown;
      if (err.code === 'PW_ERR_GET_NO_SOURCE') return GET_EXIT.noVerifiedSource;
      if (err.code === 'PW_ERR_GET_INTERRUPTED') return GET_EXIT.interrupted;
      if (err.code === 'PW_ERR_CLI_USAGE') return GET_EXIT.usage;
      return GET_EXIT.error;
    }
  },
};
