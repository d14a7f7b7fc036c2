import { PeerwebError } from '../errors/index.js';
import { hashPassword, newToken, SCRYPT_DEFAULTS } from '../mirror/index.js';
import { parseFlags } from './flags.js';
import type { CliIo, Subcommand } from './io.js';

async function readStdinLine(limit = 1024): Promise<string> {
  let text = '';
  for await (const c of process.stdin) {
    text += (c as Buffer).toString('utf8');
    if (text.includes('\n') || text.length > limit) break;
  }
  return (text.split(/\r?\n/)[0] ?? '').slice(0, limit);
}

export const command: Subcommand = {
  summary: 'Make a client credential for a mirror (a bearer token, or a password hash)',
  usage: `Usage: peerweb mirror credential --token NAME
       peerweb mirror credential --user NAME [--password-env VAR] [--cost LOG2N]

--token NAME  makes a random bearer token; prints the token (give it to the client, it is not
              kept anywhere) and the entry to add to mirror.clients.tokens (its SHA-256).
--user NAME   hashes a password with scrypt (read from the environment variable VAR, else the
              first line of standard input); prints the entry to add to mirror.clients.users.
--cost LOG2N  scrypt cost as a power of two (10 to 20, default ${SCRYPT_DEFAULTS.log2n}); a mirror checks a
              password once, then remembers the result for 10 minutes.`,
  async run(argv: readonly string[], io: CliIo): Promise<number> {
    const f = parseFlags(argv, { token: { type: 'string' }, user: { type: 'string' }, 'password-env': { type: 'string' }, cost: { type: 'string' } }, false);
    const token = f.own.token;
    const user = f.own.user;
    if ((typeof token === 'string') === (typeof user === 'string')) throw new PeerwebError('PW_ERR_CLI_USAGE', { reason: 'mirror credential needs exactly one of --token NAME or --user NAME' });
    if (typeof token === 'string') {
      const t = newToken(token);
      io.stdout.write(`Token (give it to the client; send it as "Authorization: Bearer TOKEN"):\n  ${t.token}\n\nAdd to mirror.clients.tokens:\n  ${t.entry}\n`);
      return 0;
    }
    const costRaw = f.own.cost;
    const log2n = typeof costRaw === 'string' ? Number(costRaw) : SCRYPT_DEFAULTS.log2n;
    if (!Number.isInteger(log2n) || log2n < 10 || log2n > 20) throw new PeerwebError('PW_ERR_CLI_USAGE', { reason: `--cost ${JSON.stringify(costRaw)} must be an integer from 10 to 20` });
    const envName = f.own['password-env'];
    const password = typeof envName === 'string' ? io.env[envName] : await readStdinLine();
    if (password === undefined) throw new PeerwebError('PW_ERR_CLI_USAGE', { reason: `environment variable ${String(envName)} is not set` });
    const entry = await hashPassword(user as string, password, { ...SCRYPT_DEFAULTS, log2n });
    io.stdout.write(`Add to mirror.clients.users:\n  ${entry}\n`);
    return 0;
  },
};
