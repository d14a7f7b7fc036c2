// A cache array of real peerweb nodes on loopback, an origin with a fixed delay, and clients.
import { createServer as createNetServer, type Server as NetServer } from 'node:net';
import { createHash } from 'node:crypto';
import { Pool } from 'undici';
import { startNode, type TestNode } from '../../helpers/node.js';
import { startOrigin, type TestOrigin } from '../../helpers/origin.js';
import { createHashRouter } from '../../../src/peers/index.js';

/** `count` distinct free TCP ports on 127.0.0.1 (all held open at once, then released). */
export async function freePorts(count: number): Promise<number[]> {
  const servers: NetServer[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const s = createNetServer();
      await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
      servers.push(s);
    }
    return servers.map((s) => (s.address() as { port: number }).port);
  } finally {
    await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
  }
}

/** The body the origin serves for a path: `size` bytes derived from the path (checked by clients). */
export function bodyFor(path: string, size = 8192): Buffer {
  const seed = createHash('sha256').update(path).digest();
  const out = Buffer.alloc(size);
  for (let i = 0; i < size; i += seed.length) seed.copy(out, i);
  out.write(path, 0, 'latin1');
  return out;
}

/** An origin that answers every GET after `delayMs` with a cacheable body for the path. */
export async function slowOrigin(delayMs: number, size = 8192): Promise<TestOrigin> {
  return startOrigin(async (req, res) => {
    await new Promise((r) => setTimeout(r, delayMs)); // the origin's service time, not a wait for an event
    const body = bodyFor(req.url ?? '/', size);
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'cache-control': 'public, max-age=600', 'content-length': String(body.length) });
    res.end(body);
  });
}

export interface ArrayMember { readonly name: string; readonly port: number; node: TestNode | null }

export interface CacheArray {
  readonly members: ArrayMember[];
  /** Name of the home member of an origin URL (rendezvous hashing over every configured member), `without` one member. */
  home(url: string, without?: string): string;
  /** Name of the member whose Via pseudonym is `pseudonym`. */
  memberOfPseudonym(pseudonym: string): string | undefined;
  stop(): Promise<void>;
}

/**
 * Starts `n` peerweb nodes as one array in front of `originUrl`: each lists all n (itself included)
 * in `peers.array` and names its own entry in `peers.self`; ports are picked before the start.
 */
export async function startArray(n: number, originUrl: string, extra: Record<string, unknown> = {}): Promise<CacheArray> {
  // A port picked free may be taken (by an outgoing connection's local port) before its member
  // listens on it: then the whole array starts again on new ports.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startArrayOn(await freePorts(n), originUrl, extra);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || attempt === 5) throw err;
    }
  }
}

async function startArrayOn(ports: readonly number[], originUrl: string, extra: Record<string, unknown>): Promise<CacheArray> {
  const names = ports.map((p) => `127.0.0.1:${p}`);
  const members: ArrayMember[] = names.map((name, i) => ({ name, port: ports[i] as number, node: null }));
  try {
    for (const m of members) {
      m.node = await startNode({
        origin: originUrl,
        listen: m.name,
        'cache.disk': 0,
        'peers.array': names.join(','),
        'peers.self': m.name,
        'peers.hashing': 'rendezvous',
        'peers.healthInterval': 0,
        ...extra,
      });
    }
  } catch (err) {
    await Promise.all(members.map((m) => m.node?.stop()));
    throw err;
  }
  const pseudonyms = new Map(members.map((m) => [m.node?.node.config['proxy.name'] ?? '', m.name]));
  const ring = createHashRouter('rendezvous', names.map((name) => ({ name, weight: 1 })));
  return {
    members,
    home: (url, without) => names[ring.pick(url, (i) => names[i] !== without)] as string,
    memberOfPseudonym: (p) => pseudonyms.get(p),
    async stop() {
      await Promise.all(members.map(async (m) => {
        const node = m.node;
        m.node = null;
        await node?.stop();
      }));
    },
  };
}

/** The last Via entry's pseudonym: the node that sent the request to the origin. */
export function lastViaPseudonym(via: string | string[] | undefined): string | undefined {
  const v = Array.isArray(via) ? via.join(', ') : via ?? '';
  const last = v.split(',').map((s) => s.trim()).filter(Boolean).at(-1);
  return last?.split(/\s+/)[1];
}

export interface CrowdResult {
  readonly requests: number;
  readonly bad: string[];
  readonly latenciesMs: number[];
}

/**
 * `clients` concurrent clients, client i on member i % members, each fetching its `perClient` paths in
 * turn on its own keep-alive connection; every body is compared with the origin's.
 */
export async function runCrowd(ports: readonly number[], clients: number, pathsOf: (client: number) => string[], size = 8192): Promise<CrowdResult> {
  const pools = ports.map((p) => new Pool(`http://127.0.0.1:${p}`, { connections: Math.ceil(clients / ports.length), pipelining: 1 }));
  const bad: string[] = [];
  const latenciesMs: number[] = [];
  let requests = 0;
  try {
    await Promise.all(Array.from({ length: clients }, async (_, i) => {
      const pool = pools[i % pools.length] as Pool;
      for (const path of pathsOf(i)) {
        const t0 = performance.now();
        try {
          const res = await pool.request({ path, method: 'GET' });
          const body = Buffer.from(await res.body.arrayBuffer());
          latenciesMs.push(performance.now() - t0);
          requests++;
          if (res.statusCode !== 200 || !body.equals(bodyFor(path, size))) bad.push(`${path} via :${ports[i % ports.length]}: status ${res.statusCode}, ${body.length} bytes`);
        } catch (err) {
          requests++;
          bad.push(`${path} via :${ports[i % ports.length]}: ${(err as Error).message}`);
        }
      }
    }));
  } finally {
    await Promise.all(pools.map((p) => p.close()));
  }
  return { requests, bad, latenciesMs };
}

export function percentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
}
