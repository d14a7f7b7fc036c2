import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Metrics } from './metrics.js';
import type { CacheStore } from '../storage/index.js';
import { cacheKey } from '../cache/index.js';

export interface AdminDeps {
  readonly metrics: Metrics;
  readonly store: CacheStore;
  readonly health: () => Record<string, unknown>;
  /** Extra routes from roles (mirrors, peers, archives): path → handler. */
  readonly routes?: ReadonlyMap<string, (req: IncomingMessage, res: ServerResponse) => void>;
  /**
   * On an origin front: signed PUT of one path to the mirrors covering it (all of them, or `to`);
   * undefined when this node publishes nothing.
   */
  readonly push?: (path: string, to: readonly string[] | undefined) => Promise<readonly { url: string; status: number | undefined; error?: string }[]> | undefined;
}

/** Most paths one POST /push may name. */
const MAX_PUSH_PATHS = 100;

function send(res: ServerResponse, status: number, body: string, type = 'application/json'): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
  res.end(body);
}

/** Normalises a purge URL the way cache keys are made; undefined when it is not an absolute http(s) URL. */
function keyOf(raw: string): string | undefined {
  try {
    const u = new URL(raw);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') return undefined;
    return cacheKey(u);
  } catch {
    return undefined;
  }
}

/**
 * The admin listener: GET /metrics (Prometheus), GET /health (JSON), POST /purge?url=|prefix=|tag=,
 * POST /push?path=…[&to=MIRROR_BASE…] (origin fronts: pre-warm mirrors), GET / (dashboard).
 * Bound to loopback by default.
 */
export function createAdminServer(deps: AdminDeps): Server {
  return createServer({ requestTimeout: 10_000, headersTimeout: 5_000 }, (req, res) => {
    const url = new URL(req.url ?? '/', 'http://admin');
    const extra = deps.routes?.get(url.pathname);
    if (extra) return extra(req, res);
    if (url.pathname === '/metrics' && req.method === 'GET') return send(res, 200, deps.metrics.render(), 'text/plain; version=0.0.4');
    if (url.pathname === '/health' && req.method === 'GET') return send(res, 200, JSON.stringify({ status: 'ok', ...deps.health() }, null, 2) + '\n');
    if (url.pathname === '/purge' && (req.method === 'POST' || req.method === 'PURGE' || req.method === 'DELETE')) {
      void (async () => {
        const target = url.searchParams.get('url');
        const prefix = url.searchParams.get('prefix');
        const tag = url.searchParams.get('tag');
        let removed: number;
        if (target !== null) {
          const key = keyOf(target);
          if (!key) return send(res, 400, JSON.stringify({ error: `url ${JSON.stringify(target)} is not an absolute http(s) URL` }) + '\n');
          removed = await deps.store.delete(key);
        } else if (prefix !== null) {
          const key = keyOf(prefix);
          if (!key) return send(res, 400, JSON.stringify({ error: `prefix ${JSON.stringify(prefix)} is not an absolute http(s) URL` }) + '\n');
          removed = await deps.store.purgePrefix(key);
        } else if (tag !== null && tag !== '') {
          removed = await deps.store.purgeTag(tag);
        } else {
          return send(res, 400, JSON.stringify({ error: 'purge needs one of url=, prefix= or tag=' }) + '\n');
        }
        deps.metrics.inc('peerweb_purges_total', removed);
        send(res, 200, JSON.stringify({ removed }) + '\n');
      })().catch((err: Error) => send(res, 500, JSON.stringify({ error: err.message }) + '\n'));
      return;
    }
    if (url.pathname === '/push' && req.method === 'POST') {
      void (async () => {
        const paths = url.searchParams.getAll('path');
        const to = url.searchParams.getAll('to');
        if (paths.length === 0) return send(res, 400, JSON.stringify({ error: 'push needs path= (one or more), e.g. POST /push?path=/files/big.bin' }) + '\n');
        if (paths.length > MAX_PUSH_PATHS) return send(res, 400, JSON.stringify({ error: `push takes at most ${MAX_PUSH_PATHS} paths per request, got ${paths.length}` }) + '\n');
        const badPath = paths.find((p) => !p.startsWith('/') || p.length > 2048 || /[\s\0]/.test(p));
        if (badPath !== undefined) return send(res, 400, JSON.stringify({ error: `path ${JSON.stringify(badPath)} must be an absolute URL path` }) + '\n');
        const badTo = to.find((b) => !/^https?:\/\/[^\s]+$/.test(b));
        if (badTo !== undefined) return send(res, 400, JSON.stringify({ error: `to ${JSON.stringify(badTo)} is not an http(s) mirror base URL` }) + '\n');
        const results: { path: string; mirrors: readonly { url: string; status: number | undefined; error?: string }[]; error?: string }[] = [];
        for (const p of paths) {
          const r = deps.push?.(p, to.length > 0 ? to : undefined);
          if (r === undefined) return send(res, 404, JSON.stringify({ error: 'this node publishes nothing to push: start it with --publish or --serve' }) + '\n');
          const mirrors = await r;
          results.push(mirrors.length > 0 ? { path: p, mirrors } : { path: p, mirrors, error: 'no mirror covers this path' });
        }
        const ok = results.every((r) => r.mirrors.length > 0 && r.mirrors.every((m) => m.status !== undefined && m.status >= 200 && m.status < 300));
        send(res, ok ? 200 : 502, JSON.stringify({ ok, results }, null, 2) + '\n');
      })().catch((err: Error) => send(res, 500, JSON.stringify({ error: err.message }) + '\n'));
      return;
    }
    if (url.pathname === '/' && req.method === 'GET') return send(res, 200, dashboard(deps), 'text/html; charset=utf-8');
    send(res, 404, JSON.stringify({ error: `no admin endpoint ${req.method} ${url.pathname}` }) + '\n');
  });
}

function esc(s: string): string {
  return s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c] as string);
}

function dashboard(deps: AdminDeps): string {
  const m = deps.metrics;
  const tags = ['HIT', 'MISS', 'REFRESH_HIT', 'REFRESH_MISS', 'STALE', 'COLLAPSED', 'PASS', 'SIBLING_HIT', 'PARENT', 'MIRROR_HIT', 'TUNNEL', 'LOCAL', 'DENIED', 'ERROR'];
  const counts = tags.map((t) => [t, m.get('peerweb_requests_total', t)] as const);
  const total = counts.reduce((a, [, n]) => a + n, 0);
  const served = counts.filter(([t]) => ['HIT', 'REFRESH_HIT', 'STALE', 'COLLAPSED', 'SIBLING_HIT', 'MIRROR_HIT'].includes(t)).reduce((a, [, n]) => a + n, 0);
  const st = deps.store.stats();
  const health = deps.health();
  const rows = counts.map(([t, n]) => `<tr><td>${t}</td><td>${n}</td></tr>`).join('');
  return `<!doctype html><html><head><meta charset="utf-8"><title>peerweb</title>
<style>body{font:14px system-ui,sans-serif;margin:2em;max-width:60em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.3em .8em;text-align:right}td:first-child{text-align:left}</style></head>
<body><h1>peerweb node</h1>
<p>Hit ratio: <b>${total ? ((100 * served) / total).toFixed(1) : '0.0'} %</b> of ${total} requests.
Origin requests: ${m.get('peerweb_origin_requests_total', 'origin')}.
Store: ${st.entries} entries, ${(st.bytes / 1048576).toFixed(1)} of ${(st.maxBytes / 1048576).toFixed(0)} MiB.</p>
<table><tr><th>result</th><th>requests</th></tr>${rows}</table>
<h2>Health</h2><pre>${esc(JSON.stringify(health, null, 2))}</pre>
<p><a href="/metrics">/metrics</a></p></body></html>`;
}
