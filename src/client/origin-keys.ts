import { isIP } from 'node:net';
import { dnsKeyResolver } from '../directory/index.js';
import { PeerwebError } from '../errors/index.js';
import type { PublisherKey } from '../integrity/index.js';

export interface DnsKeyOptions {
  /** DNS server, `IP` or `IP:PORT` (`[v6]:PORT`); unset: the system's resolvers. */
  readonly server?: string | undefined;
  /** Time for one answer, ms (default 3000). */
  readonly timeoutMs?: number;
}

/** Checks a `--dns` value: an IP address with an optional port. */
export function parseDnsServer(value: string): string {
  const v6 = /^\[([0-9a-fA-F:.]+)\](?::(\d{1,5}))?$/.exec(value);
  const v4 = /^([0-9.]+)(?::(\d{1,5}))?$/.exec(value);
  const host = v6?.[1] ?? v4?.[1] ?? (isIP(value) === 6 ? value : undefined);
  const port = Number(v6?.[2] ?? v4?.[2] ?? 53);
  if (!host || !isIP(host) || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new PeerwebError('PW_ERR_CLI_USAGE', { reason: `--dns ${JSON.stringify(value)} must be IP or IP:PORT (IPv6 as [IP]:PORT)` });
  }
  return value;
}

/**
 * The publisher keys of `host` from its `_peerweb-key.<host>` TXT records (`v=peerweb1; k=ed25519;
 * p=…`, several during a rotation). Throws PW_ERR_ORIGIN_KEY_UNKNOWN, saying why, when there is
 * none: the host is an IP address, the name has no usable record, or the query failed.
 */
export async function publisherKeysFromDns(host: string, opts: DnsKeyOptions = {}): Promise<readonly PublisherKey[]> {
  const h = host.replace(/^\[|\]$/g, '');
  const name = `_peerweb-key.${h}`;
  const asked = opts.server ? `DNS server ${opts.server}` : 'the system resolvers';
  if (isIP(h)) throw new PeerwebError('PW_ERR_ORIGIN_KEY_UNKNOWN', { host: h, reason: 'the origin is an IP address, which has no _peerweb-key TXT record; give --origin-key' });
  let keys: readonly PublisherKey[];
  try {
    keys = await dnsKeyResolver({ ...(opts.server ? { server: opts.server } : {}), timeout: opts.timeoutMs ?? 3000, cacheMs: 0 }).keysFor(h);
  } catch (err) {
    const why = (err as { details?: { reason?: unknown } }).details?.reason ?? (err as Error).message;
    throw new PeerwebError('PW_ERR_ORIGIN_KEY_UNKNOWN', { host: h, reason: `the query for ${name} TXT to ${asked} failed (${String(why)}); give --origin-key` }, { cause: err });
  }
  if (!keys.length) throw new PeerwebError('PW_ERR_ORIGIN_KEY_UNKNOWN', { host: h, reason: `no "v=peerweb1; k=ed25519; p=…" TXT record at ${name} (asked ${asked}); publish one (peerweb keygen prints it) or give --origin-key` });
  return keys;
}
