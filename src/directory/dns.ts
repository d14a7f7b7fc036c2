import { createSocket } from 'node:dgram';
import { Resolver, getServers } from 'node:dns';
import { randomInt } from 'node:crypto';
import { isIP } from 'node:net';
import * as dnsPacket from 'dns-packet';
import { PeerwebError } from '../errors/index.js';
import { parseTxtRecordValue, publicKeyFromRaw, publisherKeyFromPublic, rawPublicKey, type PublisherKey } from '../integrity/keys.js';
import type { KeyObject } from 'node:crypto';
import type { KeyResolver } from '../archive/index.js';

export interface DnsOptions {
  /** `IP` or `IP:PORT` (`[v6]:PORT`); unset uses the system's resolvers. */
  readonly server?: string | undefined;
  /** Time for one answer, ms. */
  readonly timeout?: number;
}

/** Ed25519 in KEY/DNSKEY records (RFC 8080). */
const ALG_ED25519 = 15;
const MAX_KEYS = 16;

/** RDATA of a KEY record (type 25) for an Ed25519 public key: flags 0x0000, protocol 3, algorithm 15, the raw key. */
export function keyRecordRdata(pub: KeyObject): Buffer {
  return Buffer.concat([Buffer.from([0x00, 0x00, 3, ALG_ED25519]), rawPublicKey(pub)]);
}

/** Parses KEY RDATA; undefined when it is not an Ed25519 key usable for signatures. */
export function parseKeyRecordRdata(rdata: Buffer): PublisherKey | undefined {
  if (rdata.length !== 4 + 32 || rdata[3] !== ALG_ED25519 || rdata[2] !== 3) return undefined;
  // Flags bit 0 and 1 both set ("no key") or the no-auth bit set mean the key may not authenticate.
  if ((rdata[0]! & 0xc0) === 0xc0 || (rdata[0]! & 0x80) !== 0) return undefined;
  try { return publisherKeyFromPublic(publicKeyFromRaw(rdata.subarray(4))); } catch { return undefined; }
}

export function parseServer(server: string): { host: string; port: number } {
  const m = /^\[([0-9a-fA-F:.]+)\](?::(\d{1,5}))?$/.exec(server) ?? /^([0-9.]+)(?::(\d{1,5}))?$/.exec(server) ?? (isIP(server) === 6 ? [server, server, undefined] : null);
  const host = m?.[1];
  const port = m?.[2] !== undefined ? Number(m[2]) : 53;
  if (!host || !isIP(host) || port < 1 || port > 65535) throw new PeerwebError('PW_ERR_CONFIG_INVALID', { key: 'archive.dnsServer', value: server, reason: 'must be IP or IP:PORT' });
  return { host, port };
}

function resolverFor(opts: DnsOptions): Resolver {
  const r = new Resolver({ timeout: opts.timeout ?? 3000, tries: 2 });
  if (opts.server) r.setServers([opts.server]);
  return r;
}

const NO_DATA = new Set(['ENOTFOUND', 'ENODATA', 'NOTFOUND', 'NODATA']);

/** TXT records at `name`, each joined from its strings; [] when the name or type does not exist. */
export function resolveTxt(name: string, opts: DnsOptions = {}): Promise<string[]> {
  return new Promise((resolve, reject) => {
    resolverFor(opts).resolveTxt(name, (err, recs) => {
      if (err) return NO_DATA.has(err.code ?? '') ? resolve([]) : reject(err);
      resolve(recs.map((chunks) => chunks.join('')));
    });
  });
}

export interface SrvTarget { readonly name: string; readonly port: number; readonly priority: number; readonly weight: number }

/** SRV records at `name` in the order to try them: priority, then weight (heaviest first, ties by name). */
export function resolveSrv(name: string, opts: DnsOptions = {}): Promise<SrvTarget[]> {
  return new Promise((resolve, reject) => {
    resolverFor(opts).resolveSrv(name, (err, recs) => {
      if (err) return NO_DATA.has(err.code ?? '') ? resolve([]) : reject(err);
      resolve(recs.filter((r) => r.name !== '.' && r.name !== '' && r.port > 0)
        .map((r) => ({ name: r.name, port: r.port, priority: r.priority, weight: r.weight }))
        .sort((a, b) => a.priority - b.priority || b.weight - a.weight || (a.name < b.name ? -1 : 1)));
    });
  });
}

/** Addresses of a host name (A, then AAAA) through the same server; IP literals are returned as they are. */
export function resolveAddress(name: string, opts: DnsOptions = {}): Promise<string> {
  if (isIP(name)) return Promise.resolve(name);
  const r = resolverFor(opts);
  return new Promise((resolve, reject) => {
    r.resolve4(name, (err, a) => {
      if (!err && a[0]) return resolve(a[0]);
      r.resolve6(name, (err6, a6) => (!err6 && a6[0] ? resolve(a6[0]) : reject(err ?? err6 ?? new Error(`no address for ${name}`))));
    });
  });
}

/** Asks one server over UDP for records of a type node's resolver cannot ask for (KEY); returns their RDATA. */
export async function queryRaw(name: string, type: 'KEY' | 'DNSKEY' | 'CERT' | 'IPSECKEY', opts: DnsOptions = {}): Promise<Buffer[]> {
  const server = opts.server ?? getServers()[0];
  if (!server) throw new Error('no DNS server configured');
  const { host, port } = parseServer(server);
  const id = randomInt(0, 65536);
  const query = dnsPacket.encode({ type: 'query', id, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type, name }] });
  return new Promise((resolve, reject) => {
    const sock = createSocket(isIP(host) === 6 ? 'udp6' : 'udp4');
    const done = (err: Error | undefined, v?: Buffer[]): void => {
      clearTimeout(timer);
      sock.close();
      if (err) reject(err); else resolve(v ?? []);
    };
    const timer = setTimeout(() => done(new Error(`no answer from ${server} within ${opts.timeout ?? 3000} ms`)), opts.timeout ?? 3000);
    sock.on('error', (err) => done(err));
    sock.on('message', (msg, rinfo) => {
      if (rinfo.address !== host || rinfo.port !== port) return;
      let p: dnsPacket.Packet;
      try { p = dnsPacket.decode(msg); } catch { return; }
      if (p.id !== id || p.type !== 'response') return;
      const rcode = (p.flags ?? 0) & 0xf;
      if (rcode === 3) return done(undefined, []); // NXDOMAIN
      if (rcode !== 0) return done(new Error(`server answered rcode ${rcode}`));
      const out: Buffer[] = [];
      for (const a of p.answers ?? []) {
        const ans = a as unknown as { type: string | number; name: string; data: unknown };
        if (ans.type === type && ans.name.toLowerCase() === name.toLowerCase() && Buffer.isBuffer(ans.data)) out.push(ans.data);
      }
      done(undefined, out);
    });
    sock.send(query, port, host);
  });
}

/**
 * Publisher keys from DNS: TXT records at `_peerweb-key.<host>` (`v=peerweb1; k=ed25519; p=…`,
 * several for rotation) and KEY records (type 25, Ed25519) at the same name. Malformed records are
 * skipped; a host whose records are all malformed has no keys. Answers are cached for `cacheMs`.
 */
export function dnsKeyResolver(opts: DnsOptions & { cacheMs?: number; now?: () => number } = {}): KeyResolver {
  const cache = new Map<string, { at: number; keys: readonly PublisherKey[] }>();
  const now = opts.now ?? Date.now;
  const cacheMs = opts.cacheMs ?? 60_000;
  return {
    async keysFor(host: string): Promise<readonly PublisherKey[]> {
      const h = host.toLowerCase().replace(/\.$/, '');
      if (!/^[a-z0-9.-]{1,253}$/.test(h)) throw new PeerwebError('PW_ERR_DNS_KEY', { host, reason: 'not a DNS host name' });
      const hit = cache.get(h);
      if (hit && now() - hit.at < cacheMs) return hit.keys;
      const name = `_peerweb-key.${h}`;
      let txt: string[];
      let key: Buffer[];
      try {
        [txt, key] = await Promise.all([resolveTxt(name, opts), queryRaw(name, 'KEY', opts).catch(() => [] as Buffer[])]);
      } catch (err) {
        throw new PeerwebError('PW_ERR_DNS_KEY', { host: h, reason: (err as Error).message }, { cause: err });
      }
      const keys = new Map<string, PublisherKey>();
      for (const t of txt) {
        if (!t.startsWith('v=peerweb1')) continue;
        try { const k = parseTxtRecordValue(t); keys.set(k.keyId, k); } catch { /* skipped: malformed record */ }
      }
      for (const rd of key) {
        const k = parseKeyRecordRdata(rd);
        if (k) keys.set(k.keyId, k);
      }
      const list = [...keys.values()].slice(0, MAX_KEYS);
      if (cache.size >= 1024) cache.delete(cache.keys().next().value as string);
      cache.set(h, { at: now(), keys: list });
      return list;
    },
  };
}

/** Keys pinned in config (`archive.pinnedKeys`): a pinned host uses only its pins. */
export function pinnedKeyResolver(pins: readonly { host: string; key: PublisherKey | string }[], fallback?: KeyResolver): KeyResolver {
  const map = new Map<string, PublisherKey[]>();
  for (const p of pins) {
    const k = typeof p.key === 'string' ? publisherKeyFromPublic(publicKeyFromRaw(Buffer.from(p.key, 'base64'))) : p.key;
    const h = p.host.toLowerCase();
    map.set(h, [...(map.get(h) ?? []), k]);
  }
  return {
    async keysFor(host: string) {
      return map.get(host.toLowerCase()) ?? (fallback ? fallback.keysFor(host) : []);
    },
  };
}
