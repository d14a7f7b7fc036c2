import { PeerwebError } from '../errors/index.js';
import { generatePublisherKey, saveKey, txtRecordValue, zoneFileLine } from '../integrity/keys.js';
import { keyRecordRdata } from '../directory/index.js';
import { parseFlags } from './flags.js';
import type { CliIo, Subcommand } from './io.js';

export const command: Subcommand = {
  summary: 'Create a publisher key pair and print the DNS record to publish',
  usage: `Usage: peerweb keygen --out DIR [--host HOST] [--name NAME]

Writes NAME.key (private, mode 0600) and NAME.pub into DIR (NAME defaults to "peerweb") and
prints the TXT record value to publish at _peerweb-key.HOST, a zone-file line, and the same
key as a KEY record (type 25) for servers that carry those.`,
  async run(argv: readonly string[], io: CliIo): Promise<number> {
    const f = parseFlags(argv, { out: { type: 'string' }, host: { type: 'string' }, name: { type: 'string' } }, false);
    const out = f.own.out;
    if (typeof out !== 'string') throw new PeerwebError('PW_ERR_CLI_USAGE', { reason: 'keygen needs --out DIR' });
    const name = typeof f.own.name === 'string' ? f.own.name : 'peerweb';
    if (!/^[A-Za-z0-9._-]{1,64}$/.test(name)) throw new PeerwebError('PW_ERR_CLI_USAGE', { reason: `Key name ${JSON.stringify(name)} must be letters, digits, dot, dash or underscore` });
    const host = typeof f.own.host === 'string' ? f.own.host : 'www.example.com';
    const key = generatePublisherKey();
    const { privateFile, publicFile } = saveKey(key, out, name);
    io.stdout.write(`Private key: ${privateFile}\nPublic key:  ${publicFile}\nKey id:      ${key.keyId}\n\n`
      + `Publish this TXT record at _peerweb-key.${host}:\n  ${txtRecordValue(key.publicKey)}\n\nZone-file line:\n  ${zoneFileLine(host, key.publicKey)}\n\n`
      + `Optional KEY record (type 25, RFC 3597 form):\n  _peerweb-key.${host}. 3600 IN TYPE25 \\# 36 ${keyRecordRdata(key.publicKey).toString('hex')}\n`);
    return 0;
  },
};
