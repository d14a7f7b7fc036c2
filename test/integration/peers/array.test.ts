import { test } from 'node:test';
import assert from 'node:assert/strict';
import { waitFor } from '../../helpers/origin.js';
import { lastViaPseudonym, runCrowd, slowOrigin, startArray } from './array-helpers.js';

const MEMBERS = 5;
const OBJECTS = 50;
const path = (j: number) => `/obj/${j}`;

/** Client i asks for the 10 objects j ≡ floor(i/5) (mod 5), starting at a client-specific one. */
function tenObjects(i: number): string[] {
  const q = Math.floor(i / MEMBERS);
  return Array.from({ length: 10 }, (_, k) => path((q % 5) + 5 * ((k + q) % 10)));
}

test('five-member array: 500 clients on all members, 50 cold objects, the origin sees each object once, fetched by its home member', { timeout: 60_000 }, async (t) => {
  const origin = await slowOrigin(200);
  t.after(() => origin.close());
  const array = await startArray(MEMBERS, origin.url);
  t.after(() => array.stop());

  const started = Date.now();
  const crowd = await runCrowd(array.members.map((m) => m.port), 500, tenObjects);
  const elapsed = Date.now() - started;
  assert.deepEqual(crowd.bad, []);
  assert.equal(crowd.requests, 5000);
  // Every object was asked for on every member.
  for (let j = 0; j < OBJECTS; j++) assert.ok([0, 1, 2, 3, 4].every((m) => Array.from({ length: 100 }, (_, c) => c * 5 + m).some((i) => tenObjects(i).includes(path(j)))));

  assert.equal(origin.seen.length, OBJECTS, `origin requests: ${origin.seen.map((s) => s.url).join(' ')}`);
  const fetchedBy = new Map<string, number>();
  for (let j = 0; j < OBJECTS; j++) {
    const seen = origin.seen.filter((s) => s.url === path(j));
    assert.equal(seen.length, 1, `origin requests for ${path(j)}`);
    const fetcher = array.memberOfPseudonym(lastViaPseudonym(seen[0]?.headers.via) ?? '');
    assert.equal(fetcher, array.home(`${origin.url}${path(j)}`), `${path(j)} was fetched by its home member`);
    fetchedBy.set(fetcher as string, (fetchedBy.get(fetcher as string) ?? 0) + 1);
  }
  assert.ok(fetchedBy.size >= 3, `origin fetches spread over members: ${JSON.stringify([...fetchedBy])}`);
  // Members that were not home forwarded to the home member: their metrics count PARENT-tagged answers.
  const text = await (await fetch(`${array.members[0]?.node?.admin}/metrics`)).text();
  assert.match(text, /peerweb_requests_total\{[^}]*PARENT[^}]*\} [1-9]/);
  t.diagnostic(`5000 requests in ${elapsed} ms; origin fetches by member ${JSON.stringify([...fetchedBy.values()])}`);
  assert.ok(elapsed < 20_000, `took ${elapsed} ms`);
});

test('a member stopped mid-way: its URLs move to one other member each, clients still get correct bodies', { timeout: 60_000 }, async (t) => {
  const origin = await slowOrigin(200);
  t.after(() => origin.close());
  const array = await startArray(MEMBERS, origin.url, { 'peers.deadBackoff': '30s' });
  t.after(() => array.stop());
  const victim = array.members[2];
  assert.ok(victim);
  const firstHalf = (i: number) => tenObjects(i).filter((p) => Number(p.split('/')[2]) < 25);

  // Phase 1: objects 0-24 through all five members.
  const one = await runCrowd(array.members.map((m) => m.port), 250, firstHalf);
  assert.deepEqual(one.bad, []);
  assert.equal(origin.seen.length, 25);
  const victimHomed = origin.seen.filter((s) => array.memberOfPseudonym(lastViaPseudonym(s.headers.via) ?? '') === victim.name);
  assert.ok(victimHomed.length > 0, 'the victim was home for some objects');

  // The victim stops; then the other four members' clients ask for all 50 objects.
  const survivors = array.members.filter((m) => m !== victim);
  const node = victim.node;
  victim.node = null;
  await node?.stop();
  const two = await runCrowd(survivors.map((m) => m.port), 200, tenObjects);
  assert.deepEqual(two.bad, []);
  assert.equal(two.requests, 2000);

  // Each new object was fetched from the origin once, by its home member; the victim's URLs each
  // moved to the one member that is next in their hash order.
  let moved = 0;
  for (let j = 25; j < OBJECTS; j++) {
    const url = `${origin.url}${path(j)}`;
    const fetchers = origin.seen.filter((s) => s.url === path(j)).map((s) => array.memberOfPseudonym(lastViaPseudonym(s.headers.via) ?? ''));
    const home = array.home(url);
    if (home === victim.name) moved++;
    assert.deepEqual(fetchers, [home === victim.name ? array.home(url, victim.name) : home], `${path(j)} (home ${home})`);
  }
  assert.ok(moved > 0, 'some new objects had the stopped member as home');
  // Objects cached before the stop were not fetched again.
  for (let j = 0; j < 25; j++) assert.equal(origin.count(path(j)), 1, `${path(j)} fetched once`);
  assert.equal(origin.seen.length, OBJECTS);
});

test('a member stopped while the crowd is running: every client of the other members still gets correct bodies', { timeout: 60_000 }, async (t) => {
  const origin = await slowOrigin(200);
  t.after(() => origin.close());
  const array = await startArray(MEMBERS, origin.url, { 'peers.deadBackoff': '30s' });
  t.after(() => array.stop());
  const victim = array.members[4];
  assert.ok(victim);
  const survivors = array.members.filter((m) => m !== victim);
  const crowd = runCrowd(survivors.map((m) => m.port), 400, tenObjects);
  // Stop it once the origin is busy with the first wave (some of it forwarded to the victim).
  await waitFor(() => origin.seen.length >= 10, 'the first origin requests');
  const node = victim.node;
  victim.node = null;
  await node?.stop();
  const res = await crowd;
  assert.deepEqual(res.bad, []);
  assert.equal(res.requests, 4000);
  // Objects homed elsewhere: once each. The victim's: once by the victim before it stopped, or by its successor, at most both.
  for (let j = 0; j < OBJECTS; j++) {
    const n = origin.count(path(j));
    if (array.home(`${origin.url}${path(j)}`) === victim.name) assert.ok(n >= 1 && n <= 2, `${path(j)}: ${n} origin requests`);
    else assert.equal(n, 1, `${path(j)}: ${n} origin requests`);
  }
});
