import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AddressInfo } from 'node:net';
import { buildArchive, createArchiveManager, holderRequestHandler, type KeyResolver, type ArchiveManager } from '../../../src/archive/index.js';
import { createEmbeddedDirectory } from '../../../src/directory/index.js';
import { generatePublisherKey } from '../../../src/integrity/keys.js';

const SITE = fileURLToPath(new URL('../../fixtures/archive/site/', import.meta.url));
const ORIGIN = 'https://www.example.com';
const DAY = 86_400_000;

async function listen(handler: Parameters<typeof createServer>[1]): Promise<{ server: Server; base: string; stop: () => Promise<void> }> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  let stopped = false;
  return { server, base, stop: () => (stopped ? Promise.resolve() : new Promise<void>((resolve) => { stopped = true; server.closeAllConnections(); server.close(() => resolve()); })) };
}

/** The publisher's origin: serves the archive with single ranges. */
function serveArchive(bytes: Buffer): Parameters<typeof createServer>[1] {
  return (req, res) => {
    const m = /^bytes=(\d*)-(\d*)$/.exec(req.headers.range ?? '');
    if (!m) { res.writeHead(200, { 'content-length': bytes.length }); res.end(bytes); return; }
    const start = m[1] === '' ? Math.max(0, bytes.length - Number(m[2])) : Number(m[1]);
    const last = m[1] === '' || m[2] === '' ? bytes.length - 1 : Math.min(Number(m[2]), bytes.length - 1);
    res.writeHead(206, { 'content-range': `bytes ${start}-${last}/${bytes.length}`, 'content-length': last - start + 1 });
    res.end(bytes.subarray(start, last + 1));
  };
}

/** A node's listener for held archives. */
function serveHeld(get: () => ArchiveManager | undefined): Parameters<typeof createServer>[1] {
  return (req, res) => {
    const m = get();
    if (!m) { res.writeHead(503); res.end(); return; }
    holderRequestHandler(m)({ method: req.method ?? 'GET', url: req.url ?? '/', headers: Object.entries(req.headers).map(([k, v]) => [k, String(v)] as [string, string]) }).then((r) => {
      if (!r) { res.writeHead(404); res.end(); return; }
      res.writeHead(r.status, Object.fromEntries(r.headers));
      res.end(r.body);
    }, () => { res.writeHead(500); res.end(); });
  };
}

const search = { method: 'GET', url: `${ORIGIN}/search?q=caching`, headers: [] as [string, string][] };

test('a node serves a site from its archive, keeps serving with the origin down, and other nodes find it as a holder', async (t) => {
  const tmp = mkdtempSync(join(tmpdir(), 'pw-manager-'));
  t.after(() => rmSync(tmp, { recursive: true, force: true }));
  const key = generatePublisherKey();
  const trust: KeyResolver = { keysFor: async (h) => (h === 'www.example.com' ? [key] : []) };
  const t0 = Date.now();
  let clock = t0;
  const now = (): number => clock;
  const bytes = buildArchive({ dir: SITE, origin: ORIGIN, prefix: '/', notBefore: t0 - 1000, validFor: DAY, staleIfUnverified: 3600, key, routes: [{ pattern: '/search', handler: 'handlers/search.js' }] });
  const origin = await listen(serveArchive(bytes));
  t.after(origin.stop);
  const directory = createEmbeddedDirectory();
  t.after(() => directory.close());

  let a: ArchiveManager | undefined;
  const aHolder = await listen(serveHeld(() => a));
  t.after(aHolder.stop);
  a = createArchiveManager({ sites: [{ origin: ORIGIN, prefix: '/', url: `${origin.base}/site.pwar` }], trust, dataDir: join(tmp, 'a'), directory, selfUrl: aHolder.base, now });
  t.after(() => a!.close());
  const r1 = await a.handle(search);
  assert.equal(r1?.status, 200);
  assert.match(r1!.body.toString(), /Caching guide/);
  const holders = await directory.lookup(ORIGIN, '/');
  assert.equal(holders.length, 1, 'registered as holder after a full fetch');
  assert.match(holders[0]!.holder, new RegExp(`^${aHolder.base}/\\.well-known/peerweb/archives/[0-9a-f]{64}\\.pwar$`));

  await origin.stop(); // the origin is down from here on
  assert.equal((await a.handle({ method: 'GET', url: `${ORIGIN}/`, headers: [] }))?.status, 200);

  // Another node, configured with the (dead) origin URL, finds A in the directory and reads by range.
  const b = createArchiveManager({ sites: [{ origin: ORIGIN, prefix: '/', url: `${origin.base}/site.pwar` }], trust, dataDir: join(tmp, 'b'), directory, policy: { fullFetchMaxSize: 0, fullFetchAfterRequests: 0 }, now });
  t.after(() => b.close());
  const rb = await b.handle(search);
  assert.equal(rb?.status, 200);
  assert.match(rb!.body.toString(), /Caching guide/);

  // A restarted node with no network at all serves the copy it stored.
  await a.close();
  const a2 = createArchiveManager({ sites: [{ origin: ORIGIN, prefix: '/', url: `${origin.base}/site.pwar` }], trust, dataDir: join(tmp, 'a'), now });
  t.after(() => a2.close());
  assert.equal((await a2.handle(search))?.status, 200);

  // Past notAfter with no newer archive reachable: served within staleIfUnverified (1 h), not after.
  clock = t0 + DAY + 10 * 60_000;
  assert.equal((await a2.handle(search))?.status, 200);
  clock = t0 + DAY + 2 * 3_600_000;
  assert.equal(await a2.handle(search), undefined);
  assert.equal(await a2.handle({ method: 'GET', url: 'https://other.example/', headers: [] }), undefined);
});
