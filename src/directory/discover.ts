import { PeerwebError } from '../errors/index.js';
import { resolveAddress, resolveSrv, type DnsOptions } from './dns.js';
import { DIRECTORY_PATH } from './http.js';

export interface DirectoryServer {
  readonly kind: 'ldap' | 'http';
  /** ldap://IP:PORT or http://IP:PORT/.well-known/peerweb/directory (targets resolved through the same DNS server). */
  readonly url: string;
  /** The SRV name it was found at and its target host. */
  readonly srv: string;
  readonly target: string;
}

/** SRV names tried in order: LDAP first (`_webldap._tcp`, `_ldap._tcp`), then peerweb's HTTP directory. */
export const DIRECTORY_SRV = [
  { label: '_webldap._tcp', kind: 'ldap' },
  { label: '_ldap._tcp', kind: 'ldap' },
  { label: '_peerweb-dir._tcp', kind: 'http' },
] as const;

function hostUrl(ip: string): string {
  return ip.includes(':') ? `[${ip}]` : ip;
}

/**
 * Directory servers for `host`, in the order to try them: every target of the first SRV name that
 * has records (priority, then weight), then those of the later names. Fails when none has records.
 */
export async function discoverDirectories(host: string, opts: DnsOptions = {}, maxServers = 16): Promise<DirectoryServer[]> {
  const h = host.toLowerCase().replace(/\.$/, '');
  const out: DirectoryServer[] = [];
  for (const { label, kind } of DIRECTORY_SRV) {
    const name = `${label}.${h}`;
    let targets;
    try { targets = await resolveSrv(name, opts); } catch (err) {
      throw new PeerwebError('PW_ERR_DIRECTORY_UNAVAILABLE', { server: name, reason: (err as Error).message }, { cause: err });
    }
    for (const t of targets) {
      if (out.length >= maxServers) break;
      let ip: string;
      try { ip = await resolveAddress(t.name, opts); } catch { continue; }
      const url = kind === 'ldap' ? `ldap://${hostUrl(ip)}:${t.port}` : `http://${hostUrl(ip)}:${t.port}${DIRECTORY_PATH}`;
      out.push({ kind, url, srv: name, target: t.name });
    }
  }
  if (out.length === 0) throw new PeerwebError('PW_ERR_DIRECTORY_UNAVAILABLE', { server: h, reason: 'no _webldap._tcp, _ldap._tcp or _peerweb-dir._tcp SRV records' });
  return out;
}
