import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decide, requestHasNoCache, isOnlyIfCached, type PolicyOptions } from '../../../src/cache/index.js';
import { SHARED, PRIVATE, T0, stored, req, fields, type H } from './helpers.js';

type Want = 'fresh' | 'stale-while-revalidate' | 'revalidate' | 'unusable';
// [name, request headers, response headers, now offset (s), options, action, staleIfError allowed]
const cases: [string, H, H, number, PolicyOptions, Want, boolean?][] = [
  ['fresh max-age', [], [['Cache-Control', 'max-age=100']], 50, SHARED, 'fresh'],
  ['stale max-age', [], [['Cache-Control', 'max-age=100']], 100, SHARED, 'revalidate', false],
  ['max-age=0', [], [['Cache-Control', 'max-age=0']], 0, SHARED, 'revalidate'],
  ['Age beyond max-age', [], [['Cache-Control', 'max-age=3600'], ['Age', '7200'], ['Date', 0]], 0, SHARED, 'revalidate'],
  ['response no-cache', [], [['Cache-Control', 'no-cache, max-age=100'], ['Expires', 1000]], 0, SHARED, 'revalidate', false],
  ['response No-CaChE="x" with x still stored', [], [['Cache-Control', 'No-CaChE="Set-Cookie", max-age=100'], ['Set-Cookie', 'a=b']], 0, SHARED, 'revalidate'],
  ['response no-cache="x" with x removed', [], [['Cache-Control', 'no-cache="Set-Cookie", max-age=100']], 0, SHARED, 'fresh'],
  ['response no-cache=""', [], [['Cache-Control', 'no-cache="", max-age=100']], 0, SHARED, 'revalidate'],
  ['request no-cache', [['Cache-Control', 'no-cache']], [['Cache-Control', 'max-age=100']], 0, SHARED, 'revalidate'],
  ['request Pragma: no-cache', [['Pragma', 'no-cache']], [['Cache-Control', 'max-age=100']], 0, SHARED, 'revalidate'],
  ['Pragma ignored with Cache-Control', [['Pragma', 'no-cache'], ['Cache-Control', 'max-stale=1']], [['Cache-Control', 'max-age=100']], 0, SHARED, 'fresh'],
  ['Pragma extension ignored', [['Pragma', 'x-ext']], [['Cache-Control', 'max-age=100']], 0, SHARED, 'fresh'],
  ['request max-age=0', [['Cache-Control', 'max-age=0']], [['Cache-Control', 'max-age=100']], 0, SHARED, 'revalidate'],
  ['request max-age=1, age 50', [['Cache-Control', 'max-age=1']], [['Cache-Control', 'max-age=100']], 50, SHARED, 'revalidate'],
  ['request max-age=60, age 50', [['Cache-Control', 'max-age=60']], [['Cache-Control', 'max-age=100']], 50, SHARED, 'fresh'],
  ['request min-fresh not met', [['Cache-Control', 'min-fresh=60']], [['Cache-Control', 'max-age=100']], 50, SHARED, 'revalidate'],
  ['request min-fresh met', [['Cache-Control', 'min-fresh=10']], [['Cache-Control', 'max-age=100']], 50, SHARED, 'fresh'],
  ['request max-stale covers', [['Cache-Control', 'max-stale=100']], [['Cache-Control', 'max-age=10']], 50, SHARED, 'fresh'],
  ['request max-stale too short', [['Cache-Control', 'max-stale=10']], [['Cache-Control', 'max-age=10']], 50, SHARED, 'revalidate'],
  ['request max-stale without value', [['Cache-Control', 'max-stale']], [['Cache-Control', 'max-age=10']], 5000, SHARED, 'fresh'],
  ['max-stale vs must-revalidate', [['Cache-Control', 'max-stale']], [['Cache-Control', 'max-age=10, must-revalidate']], 50, SHARED, 'revalidate', false],
  ['max-stale vs proxy-revalidate (shared)', [['Cache-Control', 'max-stale']], [['Cache-Control', 'max-age=10, proxy-revalidate']], 50, SHARED, 'revalidate'],
  ['max-stale vs proxy-revalidate (private)', [['Cache-Control', 'max-stale']], [['Cache-Control', 'max-age=10, proxy-revalidate']], 50, PRIVATE, 'fresh'],
  ['max-stale vs s-maxage (shared)', [['Cache-Control', 'max-stale']], [['Cache-Control', 's-maxage=10']], 50, SHARED, 'revalidate'],
  ['must-revalidate while fresh', [], [['Cache-Control', 'max-age=100, must-revalidate']], 50, SHARED, 'fresh'],
  ['immutable stale', [], [['Cache-Control', 'max-age=10, immutable']], 50, SHARED, 'revalidate'],
  ['stale-while-revalidate window', [], [['Cache-Control', 'max-age=10, stale-while-revalidate=60']], 50, SHARED, 'stale-while-revalidate'],
  ['after stale-while-revalidate window', [], [['Cache-Control', 'max-age=10, stale-while-revalidate=30']], 50, SHARED, 'revalidate'],
  ['swr vs must-revalidate', [], [['Cache-Control', 'max-age=10, stale-while-revalidate=60, must-revalidate']], 50, SHARED, 'revalidate'],
  ['response stale-if-error covers', [], [['Cache-Control', 'max-age=10, stale-if-error=60']], 50, SHARED, 'revalidate', true],
  ['response stale-if-error too short', [], [['Cache-Control', 'max-age=10, stale-if-error=30']], 50, SHARED, 'revalidate', false],
  ['request stale-if-error covers', [['Cache-Control', 'stale-if-error=100']], [['Cache-Control', 'max-age=10']], 50, SHARED, 'revalidate', true],
  ['stale-if-error vs must-revalidate', [], [['Cache-Control', 'max-age=10, stale-if-error=600, must-revalidate']], 50, SHARED, 'revalidate', false],
  ['stale-if-error vs no-cache', [], [['Cache-Control', 'no-cache, stale-if-error=600']], 50, SHARED, 'revalidate', false],
  ['staleOnErrorMs option', [], [['Cache-Control', 'max-age=10']], 50, { ...SHARED, staleOnErrorMs: 60_000 }, 'revalidate', true],
  ['staleOnErrorMs option vs s-maxage', [], [['Cache-Control', 's-maxage=10']], 50, { ...SHARED, staleOnErrorMs: 60_000 }, 'revalidate', false],
  ['heuristic fresh', [], [['Last-Modified', -10_000], ['Date', 0]], 500, SHARED, 'fresh'],
  ['heuristic stale', [], [['Last-Modified', -10_000], ['Date', 0]], 1000, SHARED, 'revalidate'],
  ['Expires fresh', [], [['Expires', 100], ['Date', 0]], 99, SHARED, 'fresh'],
  ['invalid Expires', [], [['Expires', 'Thu, 18 Aug 50 02:01:18 GMT'], ['Date', 0]], 0, SHARED, 'revalidate'],
];

for (const [name, reqH, resH, now, opts, want, sie] of cases) {
  test(`decide: ${name}`, () => {
    const d = decide(req(reqH), stored(resH), T0 + now * 1000, opts);
    assert.equal(d.action, want);
    if (d.action !== 'unusable') assert.equal(d.ageMs, now * 1000 + (resH.some(([n]) => n === 'Age') ? 7200_000 : 0));
    if (sie !== undefined && d.action === 'revalidate') assert.equal(d.staleIfErrorMs > 0, sie);
  });
}

test('decide: non-GET/HEAD requests cannot use a stored response', () => {
  assert.deepEqual(decide(req([], 'POST'), stored([['Cache-Control', 'max-age=100']]), T0, SHARED), { action: 'unusable' });
  assert.equal(decide(req([], 'HEAD'), stored([['Cache-Control', 'max-age=100']]), T0, SHARED).action, 'fresh');
});

test('decide: staleIfErrorMs is the covering window', () => {
  const d = decide(req(), stored([['Cache-Control', 'max-age=10, stale-if-error=60']]), T0 + 50_000, SHARED);
  assert.deepEqual(d, { action: 'revalidate', ageMs: 50_000, staleIfErrorMs: 60_000 });
});

test('requestHasNoCache and isOnlyIfCached', () => {
  assert.equal(requestHasNoCache(fields([['Cache-Control', 'No-Cache']])), true);
  assert.equal(requestHasNoCache(fields([['Pragma', 'foo, no-cache']])), true);
  assert.equal(requestHasNoCache(fields([['Pragma', 'no-cache'], ['Cache-Control', 'max-age=5']])), false);
  assert.equal(requestHasNoCache(fields()), false);
  assert.equal(isOnlyIfCached(fields([['Cache-Control', 'max-age=5, only-if-cached']])), true);
  assert.equal(isOnlyIfCached(fields([['Cache-Control', 'max-age=5']])), false);
});
