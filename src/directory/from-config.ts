import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import type { Config } from '../config/index.js';
import { PeerwebError } from '../errors/index.js';
import { discoverDirectories } from './discover.js';
import { createEmbeddedDirectory } from './embedded.js';
import { createHttpDirectory } from './http.js';
import { createLdapDirectory } from './ldap.js';
import type { Directory, DirectoryLimits } from './types.js';

export function directoryLimitsFrom(config: Config): DirectoryLimits {
  return {
    maxTtl: config['directory.maxTtl'], defaultTtl: config['directory.defaultTtl'], maxPerHolder: config['directory.maxPerHolder'],
    maxPerSite: config['directory.maxPerSite'], maxResults: config['directory.maxResults'],
  };
}

/**
 * The directory a node uses, from its config: embedded (SQLite under `data`), LDAP or another
 * node's HTTP directory at `directory.url`, or — for ldap/http without a url — the first server
 * found through SRV records of `srvHost`.
 */
export async function directoryFromConfig(config: Config, srvHost?: string): Promise<Directory> {
  const limits = directoryLimitsFrom(config);
  const backend = config['directory.backend'];
  if (backend === 'embedded') {
    mkdirSync(config.data, { recursive: true });
    return createEmbeddedDirectory({ file: join(config.data, 'directory.sqlite'), limits });
  }
  let url = config['directory.url'];
  if (!url) {
    if (!srvHost) throw new PeerwebError('PW_ERR_DIRECTORY_UNAVAILABLE', { server: backend, reason: 'directory.url is not set and no host to look up SRV records for' });
    const found = await discoverDirectories(srvHost, { server: config['archive.dnsServer'], timeout: config['archive.dnsTimeout'] });
    const pick = found.find((s) => s.kind === backend) ?? found[0]!;
    url = pick.url;
  }
  if (url.startsWith('ldap://') || url.startsWith('ldaps://')) {
    return createLdapDirectory({ url, base: config['directory.ldapBase'], bindDn: config['directory.ldapBindDn'], password: config['directory.ldapPassword'], limits });
  }
  return createHttpDirectory(url);
}
