import { PeerwebError } from '../errors/index.js';
import { loadPrivateKey } from '../integrity/index.js';
import { parseFlags } from './flags.js';
import type { CliIo, Subcommand } from './io.js';

export const command: Subcommand = {
  summary: 'Pre-warm mirrors with signed PUTs of resources before a known crowd',
  usage: `Usage: peerweb push URL... --to MIRROR_BASE... --key FILE

Fetches each URL from its origin (checking its Repr-Digest), then sends it to every mirror with a
PUT signed by the publisher key (HTTP Message Signatures, Ed25519, covering @method, @target-uri and
content-digest). A resource /a/b goes to MIRROR_BASE + "a/b".

Options:
  --to BASE      Mirror base URL (repeatable), for example http://m1.example/www.example.com/
  --key FILE     Publisher private key (PEM, from peerweb keygen)
  --max-size N   Largest body pushed, bytes (default 1 GiB)

Exit code 0 when every push was accepted, 1 otherwise.`,
  async run(argv: readonly string[], io: CliIo): Promise<number> {
    const flags = parseFlags(argv, { to: { type: 'string', multiple: true }, key: { type: 'string' }, 'max-size': { type: 'string' } }, false);
    const bases = Array.isArray(flags.own.to) ? flags.own.to.map(String) : [];
    if (!flags.positionals.length || !bases.length || typeof flags.own.key !== 'string') {
      throw new PeerwebError('PW_ERR_CLI_USAGE', { reason: 'peerweb push needs at least one URL, one --to mirror base and --key' });
    }
    for (const b of [...bases, ...flags.positionals]) {
      try {
        new URL(b);
      } catch {
        throw new PeerwebError('PW_ERR_CLI_USAGE', { reason: `${JSON.stringify(b)} is not an absolute URL` });
      }
    }
    const maxObjectSize = flags.own['max-size'] === undefined ? 1024 ** 3 : Number(flags.own['max-size']);
    if (!Number.isSafeInteger(maxObjectSize) || maxObjectSize <= 0) throw new PeerwebError('PW_ERR_CLI_USAGE', { reason: '--max-size must be a positive integer' });
    let key;
    try {
      key = loadPrivateKey(flags.own.key);
    } catch (err) {
      throw new PeerwebError('PW_ERR_CLI_USAGE', { reason: `key ${flags.own.key}: ${(err as Error).message}` });
    }
    const { pushFromOrigin } = await import('../mirror/index.js');
    let ok = true;
    for (const url of flags.positionals) {
      const results = await pushFromOrigin({ url, bases, key, maxObjectSize });
      for (const r of results) {
        const good = r.status === 201 || r.status === 204;
        ok &&= good;
        io.stdout.write(`${good ? 'pushed' : 'FAILED'} ${r.url} ${r.status ?? r.error ?? ''}\n`);
      }
    }
    return ok ? 0 : 1;
  },
};
