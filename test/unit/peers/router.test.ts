import { test } from 'node:test';
import assert from 'node:assert/strict';
import FakeTimers from '@sinonjs/fake-timers';
import { createPeerRouter, createHashRouter, type IcpEndpoint, type IcpPingResult, type IcpTarget, type PeerChoice, type PeerConfig, type PeerPolicy } from '../../../src/peers/index.js';
import { isPeerwebError } from '../../../src/errors/index.js';

const policy = (p: Partial<PeerPolicy> = {}): PeerPolicy => ({ neverDirect: false, alwaysDirect: [], icpTimeoutMs: 2000, healthIntervalMs: 0, ...p });
const peer = (name: string, role: PeerConfig['role'], extra: Partial<PeerConfig> = {}): PeerConfig => ({ name, host: `10.0.0.${name.length}`, httpPort: 3128, icpPort: 3130, role, weight: 1, options: {}, ...extra });
const show = (cs: PeerChoice[]) => cs.map((c) => (c.kind === 'peer' ? `${c.peer.name}:${c.reason}` : `direct:${c.reason}`));

/** An ICP endpoint without sockets: answers from a table keyed by target port, in the given order. */
function fakeIcp(answers: (t: IcpTarget, i: number) => 'HIT' | 'MISS' | undefined, calls: IcpTarget[][] = []): IcpEndpoint {
  return {
    address: { host: '127.0.0.1', port: 3130 },
    counters: () => { throw new Error('unused'); },
    close: async () => {},
    async ping(targets): Promise<IcpPingResult> {
      calls.push([...targets]);
      const replies = targets.flatMap((t, index) => { const a = answers(t, index); return a ? [{ index, opcode: a, rttMs: 2 }] : []; });
      return { replies, timedOut: replies.length < targets.length, aborted: false };
    },
  };
}

test('sibling HIT comes first; sibling MISS is never used; parents then direct', async () => {
  const s1 = peer('sib', 'sibling', { host: '10.0.0.1', icpPort: 1 });
  const s2 = peer('sib2', 'sibling', { host: '10.0.0.2', icpPort: 2 });
  const p1 = peer('par', 'parent', { host: '10.0.0.3', icpPort: undefined });
  const r = createPeerRouter({ peers: [s1, s2, p1], icp: fakeIcp((t) => (t.port === 2 ? 'HIT' : 'MISS')), policy: policy() });
  assert.deepEqual(show(await r.choose('http://a.example/x', 'GET')), ['sib2:icp-hit', 'par:parent', 'direct:default']);
  const r2 = createPeerRouter({ peers: [s1, s2, p1], icp: fakeIcp(() => 'MISS'), policy: policy() });
  assert.deepEqual(show(await r2.choose('http://a.example/x', 'GET')), ['par:parent', 'direct:default']);
  // Not GET/HEAD: no ICP at all.
  const calls: IcpTarget[][] = [];
  const r3 = createPeerRouter({ peers: [s1, p1], icp: fakeIcp(() => 'HIT', calls), policy: policy() });
  assert.deepEqual(show(await r3.choose('http://a.example/x', 'POST')), ['par:parent', 'direct:default']);
  assert.equal(calls.length, 0);
  // A request that came from a peer is never forwarded to peers (loop prevention).
  assert.deepEqual(show(await r3.choose('http://a.example/x', 'GET', undefined, { fromPeer: true })), ['direct:default']);
});

test('first parent to answer ICP leads; never-direct removes direct; always-direct domains skip peers', async () => {
  const a = peer('pa', 'parent', { host: '10.0.0.1', icpPort: 1 });
  const b = peer('pb', 'parent', { host: '10.0.0.2', icpPort: 2 });
  const icp: IcpEndpoint = { ...fakeIcp(() => 'MISS'), async ping(targets) { return { replies: [{ index: 1, opcode: 'MISS', rttMs: 1 }, { index: 0, opcode: 'MISS', rttMs: 3 }], timedOut: false, aborted: false }; } };
  const r = createPeerRouter({ peers: [a, b], icp, policy: policy({ neverDirect: true, alwaysDirect: ['intranet.example'] }) });
  assert.deepEqual(show(await r.choose('http://www.example.org/', 'GET')), ['pb:icp-parent-miss', 'pa:icp-parent-miss']);
  assert.deepEqual(show(await r.choose('http://wiki.intranet.example/', 'GET')), ['direct:always-direct']);
  assert.deepEqual(show(await r.choose('http://notintranet.example/', 'GET')), ['pb:icp-parent-miss', 'pa:icp-parent-miss']);
});

test('weighted parents: higher weight and lower RTT first; a dead parent is skipped for a back-off, then probed', async () => {
  const clock = FakeTimers.createClock(1_000_000);
  const heavy = peer('heavy', 'parent', { weight: 4, icpPort: undefined });
  const light = peer('light', 'parent', { weight: 1, icpPort: undefined });
  const r = createPeerRouter({ peers: [light, heavy], policy: policy({ deadBackoffMs: 1000, deadBackoffMaxMs: 4000 }), now: () => clock.now });
  assert.deepEqual(show(await r.choose('http://x.example/', 'GET')), ['heavy:parent', 'light:parent', 'direct:default']);
  r.reportFailure(heavy);
  assert.equal(r.stats().find((s) => s.name === 'heavy')?.state, 'dead');
  assert.deepEqual(show(await r.choose('http://x.example/', 'GET')), ['light:parent', 'direct:default']);
  clock.tick(999);
  assert.deepEqual(show(await r.choose('http://x.example/', 'GET')), ['light:parent', 'direct:default']);
  clock.tick(1);
  // Back-off over: handed out once as a probe, then skipped again until the next period.
  assert.deepEqual(show(await r.choose('http://x.example/', 'GET')), ['heavy:parent', 'light:parent', 'direct:default']);
  assert.deepEqual(show(await r.choose('http://x.example/', 'GET')), ['light:parent', 'direct:default']);
  r.reportFailure(heavy); // probe failed: back-off doubles
  clock.tick(1999);
  assert.deepEqual(show(await r.choose('http://x.example/', 'GET')), ['light:parent', 'direct:default']);
  clock.tick(1);
  assert.deepEqual(show(await r.choose('http://x.example/', 'GET')).slice(0, 1), ['heavy:parent']);
  r.reportSuccess(heavy, 20);
  assert.equal(r.stats().find((s) => s.name === 'heavy')?.state, 'alive');
  // RTT-aware: a fast light parent can beat a slow heavy one.
  r.reportSuccess(light, 1);
  for (let i = 0; i < 20; i++) r.reportSuccess(heavy, 200);
  assert.deepEqual(show(await r.choose('http://x.example/', 'GET')).slice(0, 1), ['light:parent']);
});

test('never-direct with every parent dead still tries them as a last resort; without parents it fails clearly', async () => {
  const clock = FakeTimers.createClock(0);
  const p1 = peer('p1', 'parent', { icpPort: undefined });
  const r = createPeerRouter({ peers: [p1], policy: policy({ neverDirect: true }), now: () => clock.now });
  r.reportFailure(p1);
  assert.deepEqual(show(await r.choose('http://x.example/', 'GET')), ['p1:parent-last-resort']);
  const none = createPeerRouter({ peers: [], policy: policy({ neverDirect: true }) });
  await assert.rejects(none.choose('http://x.example/', 'GET'), (e: Error) => isPeerwebError(e, 'PW_ERR_PEER_NONE_ALIVE'));
});

test('ICP silence marks a peer dead after 5 unanswered queries; a reply revives it', async () => {
  const clock = FakeTimers.createClock(0);
  let answer: 'MISS' | undefined;
  const calls: IcpTarget[][] = [];
  const p1 = peer('quiet', 'parent', { host: '10.0.0.9', icpPort: 9 });
  const r = createPeerRouter({ peers: [p1], icp: fakeIcp(() => answer, calls), policy: policy({ deadBackoffMs: 1000 }), now: () => clock.now });
  for (let i = 0; i < 5; i++) await r.choose('http://x.example/', 'GET');
  assert.equal(r.stats()[0]?.state, 'dead');
  assert.equal(r.stats()[0]?.icpSilent, 5);
  const before = calls.length;
  assert.deepEqual(show(await r.choose('http://x.example/', 'GET')), ['direct:default']);
  assert.equal(calls.length, before, 'a dead peer is not asked during its back-off');
  clock.tick(1000);
  answer = 'MISS';
  assert.deepEqual(show(await r.choose('http://x.example/', 'GET')), ['quiet:icp-parent-miss', 'direct:default']);
  assert.equal(r.stats()[0]?.state, 'alive');
});

test('array: URL goes to its home member; a dead member moves only its own URLs; self-home goes on', async () => {
  const clock = FakeTimers.createClock(0);
  const members = [0, 1, 2, 3, 4].map((i) => peer(`m${i}`, 'array-member', { host: `10.1.0.${i}`, icpPort: undefined }));
  for (const hashing of ['carp', 'rendezvous'] as const) {
    const r = createPeerRouter({ peers: members, policy: policy({ hashing, deadBackoffMs: 60_000 }), now: () => clock.now });
    const urls = Array.from({ length: 2000 }, (_, i) => `http://s.example/${i}`);
    const home = new Map<string, string>();
    for (const u of urls) {
      const [c] = await r.choose(u, 'GET');
      assert.ok(c?.kind === 'peer' && c.reason === hashing);
      home.set(u, c.peer.name);
    }
    r.reportFailure(members[2] as PeerConfig);
    let moved = 0;
    for (const u of urls) {
      const [c] = await r.choose(u, 'GET');
      assert.ok(c?.kind === 'peer');
      if (c.peer.name !== home.get(u)) { moved++; assert.equal(home.get(u), 'm2'); }
    }
    const owned = [...home.values()].filter((n) => n === 'm2').length;
    assert.equal(moved, owned);
    const self = createPeerRouter({ peers: members, policy: policy({ hashing, self: 'm0' }) });
    const ring = createHashRouter(hashing, members.map((m) => ({ name: m.name, weight: 1 })));
    const mine = urls.find((u) => ring.pick(u) === 0) as string;
    assert.deepEqual(show(await self.choose(mine, 'GET')), ['direct:array-self']);
  }
});

test('health checks run on an interval (fake timers) and revive or kill peers', async () => {
  const clock = FakeTimers.install({ now: 0, toFake: ['setInterval', 'clearInterval', 'Date'] });
  try {
    let up = false;
    const p1 = peer('hc', 'parent', { icpPort: undefined });
    const r = createPeerRouter({ peers: [p1], policy: policy({ healthIntervalMs: 5000 }), healthCheck: async () => up });
    await clock.tickAsync(5000);
    assert.equal(r.stats()[0]?.state, 'dead');
    up = true;
    await clock.tickAsync(5000);
    assert.equal(r.stats()[0]?.state, 'alive');
    await r.close();
  } finally {
    clock.uninstall();
  }
});

test('duplicate names and bad weights are refused', () => {
  assert.throws(() => createPeerRouter({ peers: [peer('a', 'parent'), peer('a', 'sibling')], policy: policy() }), /two peers have this name/);
  assert.throws(() => createPeerRouter({ peers: [peer('a', 'parent', { weight: -1 })], policy: policy() }), /weight/);
});
