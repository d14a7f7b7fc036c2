import { opt, invalid } from './options-types.js';
import { parseHostPort, type HostPort } from '../util/units.js';

/** One cooperating cache as written in config (see src/peers for what each role does). */
export interface PeerSpec {
  readonly name: string;
  readonly host: string;
  readonly httpPort: number;
  readonly icpPort?: number;
  readonly role: 'parent' | 'sibling' | 'array-member';
  readonly weight: number;
  readonly options: PeerSpecOptions;
}

export interface PeerSpecOptions {
  /** Never send ICP queries to this peer (route to it by weight or hash only). */
  readonly noQuery?: boolean;
  /** ICP port is a dumb cache's UDP echo service: send DECHO probes (parents only). */
  readonly echo?: boolean;
}

const HOST = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*|\d{1,3}(?:\.\d{1,3}){3}|\[[0-9A-Fa-f:.]+\])$/;

function port(v: unknown, what: string): number {
  const n = typeof v === 'string' && /^\d{1,5}$/.test(v) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 65535) invalid(`${what} must be a port number 1-65535`);
  return n;
}

function host(v: unknown): string {
  if (typeof v !== 'string' || !HOST.test(v) || v.length > 253) invalid('needs a host name or IP address');
  return v.startsWith('[') ? v.slice(1, -1).toLowerCase() : v.toLowerCase();
}

/** `HOST:HTTP_PORT[:ICP_PORT]` (IPv6 in brackets) for a sibling or parent given as a flag. */
export function parsePeerAddress(raw: unknown, role: 'parent' | 'sibling'): PeerSpec {
  if (typeof raw !== 'string') invalid('must be HOST:HTTP_PORT[:ICP_PORT]');
  const m = /^(\[[0-9A-Fa-f:.]+\]|[^:\s]+):(\d{1,5})(?::(\d{1,5}))?$/.exec(raw.trim());
  if (!m) invalid('must be HOST:HTTP_PORT[:ICP_PORT]');
  const h = host(m[1]);
  const httpPort = port(m[2], 'HTTP port');
  const icpPort = m[3] !== undefined ? port(m[3], 'ICP port') : undefined;
  return Object.freeze({ name: `${h}:${httpPort}`, host: h, httpPort, ...(icpPort !== undefined ? { icpPort } : {}), role, weight: 1, options: Object.freeze({}) });
}

/** One `peers.list` entry: { host, httpPort, icpPort?, role, weight?, name?, options? }. */
export function parsePeerSpec(raw: unknown): PeerSpec {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) invalid('must be { host, httpPort, icpPort, role, weight, options }');
  const r = raw as Record<string, unknown>;
  for (const k of Object.keys(r)) if (!['host', 'httpPort', 'icpPort', 'role', 'weight', 'name', 'options'].includes(k)) invalid(`has unknown field ${JSON.stringify(k)}`);
  const h = host(r.host);
  const httpPort = port(r.httpPort, 'httpPort');
  const icpPort = r.icpPort === undefined || r.icpPort === 0 ? undefined : port(r.icpPort, 'icpPort');
  const role = r.role ?? 'parent';
  if (role !== 'parent' && role !== 'sibling' && role !== 'array-member') invalid('role must be parent, sibling or array-member');
  const weight = r.weight ?? 1;
  if (typeof weight !== 'number' || !Number.isInteger(weight) || weight < 0 || weight > 65535) invalid('weight must be an integer 0-65535');
  const name = r.name ?? `${h}:${httpPort}`;
  if (typeof name !== 'string' || !/^[A-Za-z0-9._:-]{1,128}$/.test(name)) invalid('name must be 1-128 letters, digits, dot, colon, dash or underscore');
  const o = r.options ?? {};
  if (typeof o !== 'object' || o === null || Array.isArray(o)) invalid('options must be an object');
  const options: Record<string, boolean> = {};
  for (const [k, v] of Object.entries(o)) {
    if (k !== 'noQuery' && k !== 'echo') invalid(`has unknown option ${JSON.stringify(k)}`);
    if (typeof v !== 'boolean') invalid(`option ${k} must be true or false`);
    options[k] = v;
  }
  if (options.echo && role !== 'parent') invalid('echo is only for parents');
  return Object.freeze({ name, host: h, httpPort, ...(icpPort !== undefined ? { icpPort } : {}), role, weight, options: Object.freeze(options) });
}

/** `--array HOST:PORT,HOST:PORT` (repeatable): array members with weight 1. */
function parseArray(raw: unknown): readonly PeerSpec[] {
  const items = (Array.isArray(raw) ? raw : [raw]).flatMap((v) => {
    if (typeof v === 'string') return v.split(',').map((s) => s.trim()).filter(Boolean);
    return [v];
  });
  return Object.freeze(items.map((it) => {
    if (typeof it === 'object' && it !== null) return parsePeerSpec({ role: 'array-member', ...(it as object) });
    const hp: HostPort | undefined = parseHostPort(it);
    if (!hp || hp.port < 1) invalid(`item ${JSON.stringify(it)} must be HOST:PORT`);
    return parsePeerSpec({ host: hp.host.includes(':') ? `[${hp.host}]` : hp.host, httpPort: hp.port, role: 'array-member' });
  }));
}

function parseDomain(v: unknown): string {
  if (typeof v !== 'string' || !/^\.?[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$/.test(v)) invalid('must be a domain name such as example.com');
  return v.toLowerCase().replace(/^\./, '');
}

/** Cooperating caches: ICP endpoint, siblings, parents, cache arrays and hierarchy policy. */
export const peersOptions = {
  'peers.icp': opt.custom<HostPort | undefined>({
    type: 'host:port', default: undefined, flag: 'icp',
    parse: (raw) => {
      if (raw === undefined || raw === null || raw === '') return undefined;
      if (typeof raw === 'object' && 'host' in raw && 'port' in raw) return raw as HostPort;
      return parseHostPort(raw) ?? invalid('must be HOST:PORT, for example 127.0.0.1:3130');
    },
    doc: 'Address of the ICP (RFC 2186) UDP endpoint that answers peers and sends our queries; off when unset.',
  }),
  'peers.siblings': opt.list({ default: [], item: 'HOST:HTTP_PORT[:ICP_PORT]', multiple: true, flag: 'sibling', parseItem: (v) => parsePeerAddress(v, 'sibling'), doc: 'Sibling caches: asked by ICP on a miss and used only when they answer HIT.' }),
  'peers.parents': opt.list({ default: [], item: 'HOST:HTTP_PORT[:ICP_PORT]', multiple: true, flag: 'parent', parseItem: (v) => parsePeerAddress(v, 'parent'), doc: 'Parent caches: misses go to a parent (the one that answered ICP first, else the best by weight and round-trip time) before going direct.' }),
  'peers.array': opt.custom<readonly PeerSpec[]>({ type: 'list of HOST:PORT', default: Object.freeze([]), flag: 'array', multiple: true, parse: parseArray, doc: 'Cache array members (HTTP addresses, this node included): each URL is routed to one home member by hash.' }),
  'peers.list': opt.list({ default: [], item: '{ host, httpPort, icpPort, role, weight, name, options }', parseItem: parsePeerSpec, doc: 'Peers in the config file; role is parent, sibling or array-member; options: noQuery, echo.' }),
  'peers.self': opt.optionalString({ doc: 'Name of this node in the cache array (the HOST:PORT or name of its own member entry); its own URLs are not forwarded.' }),
  'peers.hashing': opt.enumOf({ default: 'carp', values: ['carp', 'rendezvous'] as const, doc: 'Array hashing: carp (same member choice as Squid carp parents) or rendezvous (weighted highest random weight).' }),
  'peers.icpTimeout': opt.duration({ default: 2000, min: 5, max: 10_000, doc: 'Longest wait for ICP replies; the actual wait is twice the measured peer round-trip time within this bound.' }),
  'peers.icpTimeoutMin': opt.duration({ default: 50, min: 1, max: 10_000, doc: 'Shortest wait for ICP replies.' }),
  'peers.icpRate': opt.int({ default: 20_000, min: 1, max: 1_000_000, unit: 'queries/s', doc: 'ICP queries answered per second per source address; more are dropped.' }),
  'peers.icpAllow': opt.list({ default: [], item: 'IP address', parseItem: (v) => { if (typeof v !== 'string' || !/^[0-9A-Fa-f:.]+$/.test(v)) invalid('must be an IP address'); return v; }, doc: 'Addresses allowed to query our ICP endpoint besides the configured peers and loopback; others get DENIED.' }),
  'peers.neverDirect': opt.bool({ default: false, doc: 'Never fetch from origins: misses go to parents only.' }),
  'peers.alwaysDirect': opt.list({ default: [], item: 'domain', parseItem: parseDomain, doc: 'Domains (and their subdomains) always fetched from the origin, never through peers.' }),
  'peers.deadBackoff': opt.duration({ default: 1000, min: 10, max: 600_000, doc: 'A peer that failed is skipped this long, doubling on each further failure up to peers.deadBackoffMax.' }),
  'peers.deadBackoffMax': opt.duration({ default: 60_000, min: 10, max: 3_600_000, doc: 'Longest time a dead peer is skipped before it is tried again.' }),
  'peers.healthInterval': opt.duration({ default: 10_000, min: 0, max: 3_600_000, doc: 'Interval of TCP health checks of peers; 0 turns them off.' }),
} as const;
