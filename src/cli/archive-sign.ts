import { readFileSync, writeFileSync } from 'node:fs';
import { signArchive, str } from '../archive/index.js';
import { PeerwebError } from '../errors/index.js';
import { loadPrivateKey } from '../integrity/keys.js';
import { parseFlags } from './flags.js';
import type { CliIo, Subcommand } from './io.js';

export const command: Subcommand = {
  summary: 'Sign (or re-sign) a site archive with a publisher key',
  usage: `Usage: peerweb archive sign FILE.pwar --key KEY [-o OUT.pwar]

Replaces the archive's signature with one by KEY over the unchanged manifest bytes. Writes OUT,
or FILE itself when -o is not given.`,
  async run(argv: readonly string[], io: CliIo): Promise<number> {
    const f = parseFlags(argv, { key: { type: 'string' }, out: { type: 'string', short: 'o' } }, false);
    const file = f.positionals[0];
    const keyFile = str(f.own.key);
    if (!file || f.positionals.length !== 1 || !keyFile) throw new PeerwebError('PW_ERR_CLI_USAGE', { reason: 'archive sign needs FILE and --key KEY' });
    const out = str(f.own.out) ?? file;
    const key = loadPrivateKey(keyFile);
    const bytes = await signArchive(readFileSync(file), key);
    writeFileSync(out, bytes);
    io.stdout.write(`Signed ${out} with key ${key.keyId}\n`);
    return 0;
  },
};
