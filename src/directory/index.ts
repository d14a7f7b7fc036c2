/** DNS (publisher keys, SRV) and the who-holds-what directory: embedded, LDAP and HTTP backends. */
export type { Directory, DirectoryEntry, DirectoryLimits, Registration } from './types.js';
export { DEFAULT_DIRECTORY_LIMITS } from './types.js';
export { createEmbeddedDirectory } from './embedded.js';
export type { EmbeddedDirectoryOptions } from './embedded.js';
export { createLdapDirectory } from './ldap.js';
export type { LdapDirectoryOptions } from './ldap.js';
export { directoryHttpHandler, directoryRequestHandler, createHttpDirectory, DIRECTORY_PATH } from './http.js';
export type { DirRequest, DirResponse } from './http.js';
export { discoverDirectories, DIRECTORY_SRV } from './discover.js';
export type { DirectoryServer } from './discover.js';
export { dnsKeyResolver, pinnedKeyResolver, keyRecordRdata, parseKeyRecordRdata, resolveSrv, resolveTxt, resolveAddress, queryRaw } from './dns.js';
export type { DnsOptions, SrvTarget } from './dns.js';
export { directoryFromConfig, directoryLimitsFrom } from './from-config.js';
