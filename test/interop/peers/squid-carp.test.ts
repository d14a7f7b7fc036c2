import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHashRouter, createPeerRouter, type PeerConfig } from '../../../src/peers/index.js';
import { proxyGet, recordingServer, startSquid, squidMissing, type Recorder } from './squid.js';

async function carpCase(t: { after(fn: () => unknown): void }, weights: number[], count: number): Promise<void> {
  const members: Recorder[] = [];
  for (let i = 0; i < weights.length; i++) {
    const m = await recordingServer('127.0.0.1', (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'no-store' });
      res.end(`member ${i}`);
    });
    members.push(m);
    t.after(() => m.close());
  }
  const names = weights.map((_, i) => `member${i}.array`);
  const squid = await startSquid([
    ...members.map((m, i) => `cache_peer 127.0.0.1 parent ${m.port} 0 carp no-query no-digest name=${names[i]} weight=${weights[i]}`),
    'never_direct allow all',
    'cache deny all',
  ], { icp: false });
  t.after(() => squid.stop());
  const urls = Array.from({ length: count }, (_, i) => `http://127.0.0.1:9/${['img', 'css', 'a/b', 'news'][i % 4]}/object-${i}.bin`);
  // A few at a time: Squid's choice does not depend on order or load.
  for (let i = 0; i < urls.length; i += 16) {
    const rs = await Promise.all(urls.slice(i, i + 16).map((u) => proxyGet(squid.httpPort, u)));
    for (const r of rs) assert.equal(r.status, 200, r.body.slice(0, 300));
  }
  const squidChoice = new Map<string, number>();
  members.forEach((m, i) => m.urls.forEach((u) => squidChoice.set(u, i)));
  assert.equal(squidChoice.size, urls.length, 'every URL reached exactly one member');
  const ours = createHashRouter('carp', names.map((name, i) => ({ name, weight: weights[i] as number })));
  let same = 0;
  const diffs: string[] = [];
  for (const u of urls) {
    const mine = ours.pick(u);
    if (mine === squidChoice.get(u)) same++;
    else if (diffs.length < 5) diffs.push(`${u}: squid ${squidChoice.get(u)} ours ${mine}`);
  }
  assert.equal(same, urls.length, diffs.join('\n'));
  // The router, given the same members, sends each URL to the same home.
  const peers: PeerConfig[] = members.map((m, i) => ({ name: names[i] as string, host: '127.0.0.1', httpPort: m.port, role: 'array-member', weight: weights[i] as number, options: {} }));
  const router = createPeerRouter({ peers, policy: { neverDirect: true, alwaysDirect: [], icpTimeoutMs: 1000, hashing: 'carp', healthIntervalMs: 0 } });
  t.after(() => router.close());
  for (const u of urls.slice(0, 50)) {
    const [first] = await router.choose(u, 'GET');
    assert.ok(first?.kind === 'peer' && first.reason === 'carp');
    assert.equal(first.peer.httpPort, members[squidChoice.get(u) as number]?.port);
  }
}

test('CARP: our member choice equals Squid carp parents, equal weights', { skip: squidMissing }, async (t) => {
  await carpCase(t, [1, 1, 1, 1], 400);
});

test('CARP: our member choice equals Squid carp parents, unequal weights', { skip: squidMissing }, async (t) => {
  await carpCase(t, [5, 1, 3, 2, 2], 400);
});
