// Router choices for an array member whose own entry comes right after a URL's home (no sockets).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHashRouter, createPeerRouter, type PeerConfig } from '../../../src/peers/index.js';

const members: PeerConfig[] = [0, 1, 2, 3, 4].map((i) => ({ name: `m${i}`, host: `10.2.0.${i}`, httpPort: 8080, role: 'array-member', weight: 1, options: {} }));
const policy = { neverDirect: false, alwaysDirect: [], icpTimeoutMs: 100, healthIntervalMs: 0, hashing: 'rendezvous' as const, self: 'm0' };

test('when this member is next after the home, failover is to fetch it ourselves, not a third member', async () => {
  const ring = createHashRouter('rendezvous', members.map((m) => ({ name: m.name, weight: 1 })));
  const url = Array.from({ length: 1000 }, (_, i) => `http://s.example/${i}`).find((u) => ring.order(u)[1] === 0);
  assert.ok(url, 'a URL whose second choice is m0');
  const home = members[ring.order(url)[0] as number] as PeerConfig;
  const r = createPeerRouter({ peers: members, policy });
  const show = (cs: Awaited<ReturnType<typeof r.choose>>) => cs.map((c) => (c.kind === 'peer' ? c.peer.name : `direct:${c.reason}`));
  assert.deepEqual(show(await r.choose(url, 'GET')), [home.name, 'direct:default']);
  // The home is dead: we are its URL's home now.
  r.reportFailure(home);
  assert.deepEqual(show(await r.choose(url, 'GET')), ['direct:array-self']);
  // With never-direct the other members stay in the list.
  const nd = createPeerRouter({ peers: members, policy: { ...policy, neverDirect: true } });
  assert.equal((await nd.choose(url, 'GET')).length, 4);
});
