import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createIcpEndpoint, createPeerRouter, type PeerConfig } from '../../../src/peers/index.js';
import { proxyGet, recordingServer, startSquid, squidMissing, freeUdpPort } from './squid.js';

// Squid ignores ICP from its own address, so our side lives on 127.0.0.2.
const US = '127.0.0.2';

test('our ICP client asks Squid: MISS for an unknown URL, HIT for one Squid has cached; the router picks Squid', { skip: squidMissing }, async (t) => {
  const origin = await recordingServer('127.0.0.1', (req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'public, max-age=3600', 'last-modified': new Date(Date.now() - 3_600_000).toUTCString() });
    res.end(`origin body for ${req.url}`);
  });
  t.after(() => origin.close());
  const squid = await startSquid([]);
  t.after(() => squid.stop());
  const cached = `http://127.0.0.1:${origin.port}/cached.txt`;
  const first = await proxyGet(squid.httpPort, cached);
  assert.equal(first.status, 200);
  // Squid caches it: a second fetch is a hit (no new origin request).
  const second = await proxyGet(squid.httpPort, cached);
  assert.equal(second.body, first.body);
  assert.equal(origin.urls.length, 1, 'Squid served the second request from its cache');

  const ep = await createIcpEndpoint({ host: US, port: 0, lookup: () => 'miss' });
  t.after(() => ep.close());
  const target = { host: '127.0.0.1', port: squid.icpPort };
  const hit = await ep.ping([target], cached, { timeoutMs: 3000 });
  assert.deepEqual(hit.replies.map((r) => r.opcode), ['HIT'], squid.log().slice(-2000));
  const miss = await ep.ping([target], `http://127.0.0.1:${origin.port}/never-fetched`, { timeoutMs: 3000 });
  assert.deepEqual(miss.replies.map((r) => r.opcode), ['MISS']);

  const sibling: PeerConfig = { name: 'squid', host: '127.0.0.1', httpPort: squid.httpPort, icpPort: squid.icpPort, role: 'sibling', weight: 1, options: {} };
  const router = createPeerRouter({ peers: [sibling], icp: ep, policy: { neverDirect: false, alwaysDirect: [], icpTimeoutMs: 2000, healthIntervalMs: 0 } });
  t.after(() => router.close());
  const c1 = await router.choose(cached, 'GET');
  assert.deepEqual(c1.map((c) => (c.kind === 'peer' ? `${c.peer.name}:${c.reason}` : `direct:${c.reason}`)), ['squid:icp-hit', 'direct:default']);
  const c2 = await router.choose(`http://127.0.0.1:${origin.port}/other`, 'GET');
  assert.deepEqual(c2.map((c) => c.kind), ['direct'], 'a sibling MISS is not used');
  // Fetch the hit from Squid over HTTP as the proxy would.
  const viaSibling = await proxyGet(squid.httpPort, cached, { 'cache-control': 'only-if-cached' });
  assert.equal(viaSibling.status, 200);
  assert.equal(origin.urls.length, 1);
  const st = router.stats()[0];
  assert.equal(st?.icpReplies.HIT, 1);
  assert.equal(st?.icpReplies.MISS, 1);
  assert.ok((st?.icpRttMs ?? 0) > 0);
});

test('Squid asks our ICP endpoint and fetches our HIT from our HTTP port; our MISS sends it to the origin', { skip: squidMissing }, async (t) => {
  const origin = await recordingServer('127.0.0.1', (req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'no-store' });
    res.end('from origin');
  });
  t.after(() => origin.close());
  // Stand-in for our HTTP side: serves what our store holds.
  const ours = await recordingServer(US, (req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'no-store' });
    res.end('from peerweb');
  });
  t.after(() => ours.close());
  const held = `http://127.0.0.1:${origin.port}/we-have-this`;
  const seen: string[] = [];
  const icpPort = await freeUdpPort(US);
  const ep = await createIcpEndpoint({ host: US, port: icpPort, lookup: (url) => { seen.push(url); return url === held ? 'hit' : 'miss'; } });
  t.after(() => ep.close());
  const squid = await startSquid([`cache_peer ${US} sibling ${ours.port} ${icpPort} name=peerweb no-digest`]);
  t.after(() => squid.stop());

  const r = await proxyGet(squid.httpPort, held);
  assert.equal(r.status, 200);
  assert.equal(r.body, 'from peerweb', squid.log().slice(-2000));
  assert.deepEqual(ours.urls, [held], 'Squid fetched our HIT from our HTTP port');
  assert.equal(origin.urls.length, 0);
  assert.ok(seen.includes(held));
  const r2 = await proxyGet(squid.httpPort, `http://127.0.0.1:${origin.port}/we-do-not`);
  assert.equal(r2.body, 'from origin');
  assert.equal(ours.urls.length, 1);
  const c = ep.counters();
  assert.ok(c.queriesReceived >= 2, JSON.stringify(c));
  assert.ok(c.repliesSent.HIT >= 1 && c.repliesSent.MISS >= 1);
  assert.equal(c.repliesSent.DENIED, 0);
});

test('Squid as our parent: its ICP MISS makes it the first choice and never-direct drops direct', { skip: squidMissing }, async (t) => {
  const squid = await startSquid([]);
  t.after(() => squid.stop());
  const ep = await createIcpEndpoint({ host: US, port: 0, lookup: () => 'miss' });
  t.after(() => ep.close());
  const parent: PeerConfig = { name: 'squid-parent', host: '127.0.0.1', httpPort: squid.httpPort, icpPort: squid.icpPort, role: 'parent', weight: 1, options: {} };
  const spare: PeerConfig = { name: 'spare', host: '127.0.0.1', httpPort: 9, role: 'parent', weight: 1, options: {} };
  const router = createPeerRouter({ peers: [spare, parent], icp: ep, policy: { neverDirect: true, alwaysDirect: ['local.test'], icpTimeoutMs: 2000, healthIntervalMs: 0 } });
  t.after(() => router.close());
  const c = await router.choose('http://example.test/x', 'GET');
  assert.deepEqual(c.map((x) => (x.kind === 'peer' ? `${x.peer.name}:${x.reason}` : x.kind)), ['squid-parent:icp-parent-miss', 'spare:parent']);
  assert.deepEqual((await router.choose('http://www.local.test/x', 'GET')).map((x) => x.kind), ['direct']);
});
