import { opt, invalid, InvalidValue } from './options-types.js';

/** A key pinned in config: archives for `host` may be signed by the Ed25519 key `key` (base64 of 32 bytes). */
export interface PinnedKey { readonly host: string; readonly key: string }

function parsePin(raw: unknown): PinnedKey {
  if (typeof raw === 'string') {
    const eq = raw.indexOf('=');
    if (eq < 0) invalid('must be HOST=BASE64KEY');
    raw = { host: raw.slice(0, eq), key: raw.slice(eq + 1) };
  }
  if (typeof raw !== 'object' || raw === null) invalid('must be { host, key }');
  const { host, key } = raw as Record<string, unknown>;
  if (typeof host !== 'string' || !/^[A-Za-z0-9.-]{1,253}$/.test(host)) invalid('needs a host name in "host"');
  if (typeof key !== 'string' || !/^[A-Za-z0-9+/]{42,43}=?$/.test(key)) invalid('needs a base64 Ed25519 public key in "key"');
  return Object.freeze({ host: host.toLowerCase(), key });
}

/** A site served from its archive: requests for `origin` under `prefix` come from the archive at `url`. */
export interface ArchiveSiteOption { readonly origin: string; readonly prefix: string; readonly url: string }

function parseSite(raw: unknown): ArchiveSiteOption {
  if (typeof raw === 'string') {
    const eq = raw.indexOf('=');
    if (eq < 0) invalid('must be ORIGIN=ARCHIVE_URL or { origin, prefix, url }');
    raw = { origin: raw.slice(0, eq), prefix: '/', url: raw.slice(eq + 1) };
  }
  if (typeof raw !== 'object' || raw === null) invalid('must be { origin, prefix, url }');
  const { origin, prefix, url } = raw as Record<string, unknown>;
  let o: URL;
  try { o = new URL(String(origin)); } catch { invalid(`origin ${JSON.stringify(origin)} is not a URL`); }
  if (o.origin !== origin || (o.protocol !== 'http:' && o.protocol !== 'https:')) invalid('origin must be scheme://host[:port]');
  const p = prefix ?? '/';
  if (typeof p !== 'string' || !/^\/([^/?#\s]+\/)*$/.test(p)) invalid('prefix must start and end with /');
  try { const u = new URL(String(url)); if (u.protocol !== 'http:' && u.protocol !== 'https:') invalid('url must be http or https'); } catch (err) {
    if (err instanceof InvalidValue) throw err;
    invalid(`url ${JSON.stringify(url)} is not an absolute URL`);
  }
  return Object.freeze({ origin: origin as string, prefix: p, url: url as string });
}

/** Options of signed site archives, the handler sandbox, DNS keys and the directory. */
export const archiveOptions = {
  'archive.sites': opt.list({ default: [], item: 'ORIGIN=ARCHIVE_URL or { origin, prefix, url }', parseItem: parseSite, doc: 'Sites served from signed archives: requests for the origin under the prefix are answered from the archive at url (or from any holder in the directory), even when the origin is down.' }),
  'archive.holderUrl': opt.optionalUrl({ doc: 'Base URL at which this node serves the archives it holds (/.well-known/peerweb/archives/); set it to register as a holder in the directory.' }),
  'archive.refresh': opt.duration({ default: 300_000, min: 1000, doc: 'How often to look for a newer archive of each site.' }),
  'archive.pinnedKeys': opt.list({ default: [], item: 'HOST=BASE64KEY or { host, key }', parseItem: parsePin, doc: 'Publisher keys pinned for hosts without DNS control; used instead of `_peerweb-key` DNS records for those hosts.' }),
  'archive.dnsServer': opt.optionalString({ flag: 'archive-dns', validate: (v) => { if (!/^[0-9a-fA-F.:[\]]+$/.test(v)) invalid('must be IP or IP:PORT'); }, doc: 'DNS server (IP or IP:PORT) asked for `_peerweb-key` TXT/KEY and directory SRV records; unset uses the system resolvers.' }),
  'archive.dnsTimeout': opt.duration({ default: 3000, min: 50, max: 60_000, doc: 'Time to wait for one DNS answer.' }),
  'archive.clockSkew': opt.duration({ default: 300_000, min: 0, max: 86_400_000, doc: 'Tolerance on notBefore and notAfter for clocks that disagree.' }),
  'archive.maxEntrySize': opt.size({ default: 256 * 1024 ** 2, min: 1024, doc: 'Largest entry (uncompressed) read from an archive.' }),
  'archive.maxEntries': opt.int({ default: 100_000, min: 1, max: 10_000_000, doc: 'Most entries in one archive.' }),
  'archive.maxRatio': opt.int({ default: 200, min: 1, max: 100_000, doc: 'Highest compression ratio (uncompressed / compressed) accepted for one entry; higher is treated as a zip bomb.' }),
  'archive.maxManifestSize': opt.size({ default: 16 * 1024 ** 2, min: 1024, max: 1024 ** 3, doc: 'Largest peerweb/manifest.json, and largest index shard (peerweb/index/*.json) of an archive.' }),
  'archive.fullFetchMaxSize': opt.size({ default: 64 * 1024 ** 2, min: 0, doc: 'Archives up to this size are fetched whole (and the node registers as a holder); larger ones are read partially by Range.' }),
  'archive.fullFetchAfterRequests': opt.int({ default: 100, min: 0, doc: 'A partially read archive is fetched whole once this many requests were served from it (0 never).' }),
  'sandbox.memory': opt.size({ default: 32 * 1024 ** 2, min: 1024 ** 2, max: 1024 ** 3, doc: 'Memory cap of one handler VM.' }),
  'sandbox.cpuTime': opt.duration({ default: 100, min: 1, max: 60_000, doc: 'CPU time a handler may use for one request.' }),
  'sandbox.wallTime': opt.duration({ default: 2000, min: 10, max: 300_000, doc: 'Wall time a handler may take for one request (waiting for archive files included).' }),
  'sandbox.pool': opt.int({ default: 4, min: 1, max: 256, doc: 'Most warm VMs kept per archive.' }),
  'sandbox.queue': opt.int({ default: 256, min: 0, max: 100_000, doc: 'Most requests waiting for a free VM; more get 503.' }),
  'sandbox.maxResponse': opt.size({ default: 16 * 1024 ** 2, min: 1024, doc: 'Largest response body a handler may return.' }),
  'directory.backend': opt.enumOf({ default: 'embedded', values: ['embedded', 'ldap', 'http'] as const, doc: 'Where holder registrations live: the embedded database served at /.well-known/peerweb/directory, an LDAP server, or another node\'s HTTP directory.' }),
  'directory.url': opt.optionalString({ doc: 'LDAP or HTTP directory URL (ldap://host:port or http://host:port); unset finds it through SRV records of the site host.' }),
  'directory.ldapBase': opt.string({ default: 'ou=peerweb,dc=example,dc=org', doc: 'LDAP base DN under which holdings are stored.' }),
  'directory.ldapBindDn': opt.optionalString({ doc: 'LDAP DN to bind as for registrations (anonymous when unset).' }),
  'directory.ldapPassword': opt.optionalString({ doc: 'Password for directory.ldapBindDn.' }),
  'directory.maxTtl': opt.duration({ default: 86_400_000, min: 1000, doc: 'Longest registration lifetime; longer requests are shortened.' }),
  'directory.defaultTtl': opt.duration({ default: 3_600_000, min: 1000, doc: 'Registration lifetime when none is asked.' }),
  'directory.maxPerHolder': opt.int({ default: 1000, min: 1, doc: 'Most live registrations of one holder URL host.' }),
  'directory.maxPerSite': opt.int({ default: 1000, min: 1, doc: 'Most live registrations for one site.' }),
  'directory.maxResults': opt.int({ default: 100, min: 1, max: 10_000, doc: 'Most entries returned by one lookup.' }),
} as const;
