import { test } from 'node:test';
import assert from 'node:assert/strict';
import { carpTable, createHashRouter, type HashKind, type HashMember } from '../../../src/peers/index.js';

const N = 100_000;
const urls = Array.from({ length: N }, (_, i) => `http://site${i % 97}.example/obj/${i}?v=${(i * 2654435761) >>> 0}`);

function shares(kind: HashKind, members: HashMember[], sample = urls): number[] {
  const r = createHashRouter(kind, members);
  const counts = members.map(() => 0);
  for (const u of sample) counts[r.pick(u)]!++;
  return counts.map((c) => c / sample.length);
}

test('CARP load multipliers follow Squid: equal weights give equal multipliers', () => {
  const t = carpTable([{ name: 'a', weight: 1 }, { name: 'b', weight: 1 }, { name: 'c', weight: 1 }]);
  assert.equal(t.length, 3);
  for (const r of t) {
    assert.ok(Math.abs(r.loadFactor - 1 / 3) < 1e-12);
    assert.ok(Math.abs(r.loadMultiplier - 1) < 1e-12, String(r.loadMultiplier));
  }
  // ranked by ascending weight, weight-0 members left out
  const w = carpTable([{ name: 'big', weight: 3 }, { name: 'zero', weight: 0 }, { name: 'small', weight: 1 }]);
  assert.deepEqual(w.map((r) => r.index), [2, 0]);
  assert.ok((w[1]?.loadMultiplier ?? 0) > (w[0]?.loadMultiplier ?? 0));
});

test('CARP member hash is Squid\'s (rotate-left 19 sum, multiply, rotate 21) and stable', () => {
  const [a] = carpTable([{ name: 'a', weight: 1 }]);
  // 'a' = 97: h = 0 + rotl(0,19) + 97 = 97; h += h*0x62531965 → 97*0x62531966 mod 2^32; rotl 21
  const h = Number((97n * 0x62531966n) % 2n ** 32n);
  const expect = ((h << 21) | (h >>> 11)) >>> 0;
  assert.equal(a?.hash, expect);
});

for (const kind of ['carp', 'rendezvous'] as const) {
  test(`${kind}: shares follow the weights`, () => {
    const eq = shares(kind, ['m1', 'm2', 'm3', 'm4', 'm5'].map((name) => ({ name, weight: 1 })));
    for (const s of eq) assert.ok(Math.abs(s - 0.2) < 0.02, `equal share ${s}`);
    const w = shares(kind, [{ name: 'a', weight: 1 }, { name: 'b', weight: 2 }, { name: 'c', weight: 5 }]);
    const want = [1 / 8, 2 / 8, 5 / 8];
    w.forEach((s, i) => assert.ok(Math.abs(s - (want[i] as number)) < 0.03, `${kind} weighted share ${i}: ${s} vs ${want[i]}`));
  });
}

test('rendezvous: a member leaving moves only its own share (±10%) over 100,000 URLs', () => {
  for (const weights of [[1, 1, 1, 1, 1], [1, 2, 3, 4, 5]]) {
    const members = weights.map((weight, i) => ({ name: `node${i}.array:8080`, weight }));
    const full = createHashRouter('rendezvous', members);
    const gone = 2;
    const rest = members.filter((_, i) => i !== gone);
    const after = createHashRouter('rendezvous', rest);
    let moved = 0;
    let owned = 0;
    for (const u of urls) {
      const before = members[full.pick(u)]!.name;
      const now = rest[after.pick(u)]!.name;
      if (before === members[gone]!.name) owned++;
      if (before !== now) moved++;
    }
    const share = (weights[gone] as number) / weights.reduce((a, b) => a + b, 0);
    assert.ok(Math.abs(owned / N - share) <= share * 0.1, `owned ${owned / N} vs share ${share}`);
    assert.equal(moved, owned, 'only the leaving member\'s URLs move');
  }
});

test('rendezvous and carp: a member joining takes about its share, others keep theirs', () => {
  for (const kind of ['rendezvous', 'carp'] as const) {
    const members = [0, 1, 2, 3].map((i) => ({ name: `n${i}`, weight: 1 }));
    const before = createHashRouter(kind, members);
    const grown = [...members, { name: 'n4', weight: 1 }];
    const after = createHashRouter(kind, grown);
    let moved = 0;
    let toNew = 0;
    for (const u of urls) {
      const a = members[before.pick(u)]!.name;
      const b = grown[after.pick(u)]!.name;
      if (a !== b) moved++;
      if (b === 'n4') toNew++;
    }
    if (kind === 'rendezvous') assert.equal(moved, toNew);
    assert.ok(Math.abs(toNew / N - 0.2) <= 0.02, `${kind} new member share ${toNew / N}`);
  }
});

test('pick skips unusable members and returns -1 when none', () => {
  const r = createHashRouter('carp', [{ name: 'a', weight: 1 }, { name: 'b', weight: 1 }]);
  const u = 'http://x.example/1';
  const first = r.pick(u);
  const second = r.pick(u, (i) => i !== first);
  assert.notEqual(second, first);
  assert.equal(r.pick(u, () => false), -1);
  assert.deepEqual([...r.order(u)].sort(), [0, 1]);
});
