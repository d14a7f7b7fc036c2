import { PeerwebError } from '../errors/index.js';
import { createHttpDirectory, createLdapDirectory, discoverDirectories, type Directory } from '../directory/index.js';
import { parseFlags } from './flags.js';
import type { CliIo, Subcommand } from './io.js';

export const command: Subcommand = {
  summary: 'List who holds archives of a site (directory found through DNS SRV or given)',
  usage: `Usage: peerweb directory lookup SITE [--prefix PATH] [--server URL] [--dns IP[:PORT]] [--base DN] [--json]

Asks a directory for the holders of SITE (an origin such as https://www.example.com) whose
archive covers PATH. The directory is --server (ldap://HOST:PORT or http://HOST:PORT), else the
first found through SRV records of the site's host (_webldap._tcp, _ldap._tcp, _peerweb-dir._tcp),
asked of --dns or the system resolvers. --base is the LDAP base DN (default ou=peerweb,dc=example,dc=org).`,
  async run(argv: readonly string[], io: CliIo): Promise<number> {
    const f = parseFlags(argv, { prefix: { type: 'string' }, server: { type: 'string' }, dns: { type: 'string' }, base: { type: 'string' }, json: { type: 'boolean' } }, false);
    const site = f.positionals[0];
    if (!site || f.positionals.length !== 1) throw new PeerwebError('PW_ERR_CLI_USAGE', { reason: 'directory lookup needs SITE' });
    let host: string;
    try { host = new URL(site).hostname; } catch { throw new PeerwebError('PW_ERR_CLI_USAGE', { reason: `SITE ${JSON.stringify(site)} is not a URL` }); }
    let url = typeof f.own.server === 'string' ? f.own.server : undefined;
    if (!url) {
      const found = await discoverDirectories(host, typeof f.own.dns === 'string' ? { server: f.own.dns } : {});
      url = found[0]!.url;
    }
    const dir: Directory = url.startsWith('ldap://') || url.startsWith('ldaps://')
      ? createLdapDirectory({ url, base: typeof f.own.base === 'string' ? f.own.base : 'ou=peerweb,dc=example,dc=org' })
      : createHttpDirectory(url);
    try {
      const entries = await dir.lookup(site, typeof f.own.prefix === 'string' ? f.own.prefix : undefined);
      if (f.own.json) io.stdout.write(`${JSON.stringify({ directory: url, entries }, null, 2)}\n`);
      else {
        io.stdout.write(`Directory: ${url}\n`);
        for (const e of entries) io.stdout.write(`${e.prefix}\tversion ${e.version}\t${e.holder}\texpires ${new Date(e.expires).toISOString()}\n`);
        if (entries.length === 0) io.stdout.write('(no holders)\n');
      }
      return 0;
    } finally {
      await dir.close();
    }
  },
};
