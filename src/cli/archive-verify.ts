import { openArchive, str, timeFlag, type KeyResolver } from '../archive/index.js';
import { PeerwebError, isPeerwebError } from '../errors/index.js';
import { loadPublicKey } from '../integrity/keys.js';
import { dnsKeyResolver } from '../directory/index.js';
import { parseFlags } from './flags.js';
import type { CliIo, Subcommand } from './io.js';

export const command: Subcommand = {
  summary: 'Verify a site archive: signature, key, validity and every entry',
  usage: `Usage: peerweb archive verify FILE.pwar [--pin PUBKEY]... [--dns SERVER] [--now TIME] [--allow-stale]

Exits 0 only when the archive is valid: its signature verifies with a key for the origin's host
(pinned with --pin, a .pub file or base64 key; else from _peerweb-key TXT/KEY records, asked of
--dns IP[:PORT] or the system resolvers), it is within its validity window at --now (default:
now), and every entry matches its hash. Otherwise prints the reason and exits 1.`,
  async run(argv: readonly string[], io: CliIo): Promise<number> {
    const f = parseFlags(argv, { pin: { type: 'string', multiple: true }, dns: { type: 'string' }, now: { type: 'string' }, 'allow-stale': { type: 'boolean' } }, false);
    const file = f.positionals[0];
    if (!file || f.positionals.length !== 1) throw new PeerwebError('PW_ERR_CLI_USAGE', { reason: 'archive verify needs FILE' });
    const pins = ((f.own.pin as string[] | undefined) ?? []).map((p) => loadPublicKey(p));
    const dns = str(f.own.dns);
    const trust: KeyResolver = pins.length > 0 ? { keysFor: async () => pins } : dnsKeyResolver({ ...(dns ? { server: dns } : {}) });
    const now = timeFlag(f.own.now, 'now') ?? Date.now();
    try {
      const site = await openArchive({ file }, trust, { now: () => now, allowStale: f.own['allow-stale'] === true });
      try {
        const files = await site.files();
        for (const name of files.keys()) await site.readFile(name);
        io.stdout.write(`OK ${site.origin}${site.prefix} version ${site.manifest.version}, key ${site.keyId}, ${files.size} files verified${site.stale ? ' (stale: past notAfter)' : ''}\n`);
      } finally {
        await site.close();
      }
      return 0;
    } catch (err) {
      if (isPeerwebError(err) && err.code !== 'PW_ERR_CLI_USAGE') {
        io.stderr.write(`INVALID ${file}: ${err.message} [${err.code}]\n`);
        return 1;
      }
      throw err;
    }
  },
};
