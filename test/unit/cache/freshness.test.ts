import { test } from 'node:test';
import assert from 'node:assert/strict';
import { freshnessLifetime, currentAgeMs, ageHeaderValue, type PolicyOptions } from '../../../src/cache/index.js';
import { SHARED, PRIVATE, T0, stored, type H } from './helpers.js';

const DAY = 86_400;
// [name, headers, status, options, lifetime seconds, heuristic]
const lifetimes: [string, H, number, PolicyOptions, number, boolean][] = [
  ['max-age', [['Cache-Control', 'max-age=100']], 200, SHARED, 100, false],
  ['MaX-AgE', [['Cache-Control', 'MaX-AgE=100']], 200, SHARED, 100, false],
  ['max-age wins over Expires', [['Cache-Control', 'max-age=100'], ['Expires', 5000], ['Date', 0]], 200, SHARED, 100, false],
  ['max-age=0 with future Expires', [['Cache-Control', 'max-age=0'], ['Expires', 5000]], 200, SHARED, 0, false],
  ['negative max-age is stale', [['Cache-Control', 'max-age=-1'], ['Expires', 5000]], 200, SHARED, 0, false],
  ['max-age 2^31+1 clamps', [['Cache-Control', 'max-age=2147483649']], 200, SHARED, 2 ** 31, false],
  ['first max-age wins (separate lines)', [['Cache-Control', 'max-age=1800'], ['Cache-Control', 'max-age=1']], 200, SHARED, 1800, false],
  ['s-maxage wins in shared', [['Cache-Control', 'max-age=1000, s-maxage=10']], 200, SHARED, 10, false],
  ['s-maxage long in shared', [['Cache-Control', 's-maxage=1000, max-age=0'], ['Expires', -10]], 200, SHARED, 1000, false],
  ['s-maxage ignored in private', [['Cache-Control', 's-maxage=1000'], ['Cache-Control', 'max-age=10']], 200, PRIVATE, 10, false],
  ['Expires - Date', [['Expires', 300], ['Date', 100]], 200, SHARED, 200, false],
  ['Expires without Date uses response time', [['Expires', 300]], 200, SHARED, 300, false],
  ['Expires in the past', [['Expires', -300], ['Date', 0]], 200, SHARED, 0, false],
  ['invalid Expires is stale, no heuristic', [['Expires', '0'], ['Last-Modified', -DAY]], 200, SHARED, 0, false],
  ['two Expires lines is stale', [['Expires', 300], ['Expires', 400]], 200, SHARED, 0, false],
  ['heuristic 10% of age of Last-Modified', [['Last-Modified', -10_000], ['Date', 0]], 200, SHARED, 1000, true],
  ['heuristic is bounded', [['Last-Modified', -100 * DAY], ['Date', 0]], 200, SHARED, DAY, true],
  ['heuristic for 404', [['Last-Modified', -10_000]], 404, SHARED, 1000, true],
  ['no heuristic for 201', [['Last-Modified', -10_000]], 201, SHARED, 0, false],
  ['no heuristic for 599', [['Last-Modified', -10_000]], 599, SHARED, 0, false],
  ['heuristic for 599 with public', [['Last-Modified', -10_000], ['Cache-Control', 'public']], 599, SHARED, 1000, true],
  ['Last-Modified in the future', [['Last-Modified', 10], ['Date', 0]], 200, SHARED, 0, true],
  ['nothing', [], 200, SHARED, 0, false],
];

for (const [name, h, status, opts, seconds, heuristic] of lifetimes) {
  test(`freshnessLifetime: ${name}`, () => {
    assert.deepEqual(freshnessLifetime(stored(h, status), opts), { lifetimeMs: seconds * 1000, heuristic });
  });
}

// [name, headers, requestTime offset s, responseTime offset s, now offset s, expected age s]
const ages: [string, H, number, number, number, number][] = [
  ['no Age, no Date: resident time', [], 0, 0, 10, 10],
  ['Age header', [['Age', '30'], ['Date', 0]], 0, 0, 10, 40],
  ['Age first line wins', [['Age', '7200'], ['Age', '0'], ['Date', 0]], 0, 0, 0, 7200],
  ['Age first member wins', [['Age', '0, 7200'], ['Date', 0]], 0, 0, 0, 0],
  ['Age non-numeric ignored', [['Age', 'abc'], ['Date', 0]], 0, 0, 0, 0],
  ['Age negative ignored', [['Age', '-7200'], ['Date', 0]], 0, 0, 0, 0],
  ['Age float ignored', [['Age', '7200.0'], ['Date', 0]], 0, 0, 0, 0],
  ['Age with parameter', [['Age', '7200;foo=bar'], ['Date', 0]], 0, 0, 0, 7200],
  ['Age huge clamps', [['Age', '99999999999'], ['Date', 0]], 0, 0, 0, 2 ** 31],
  ['apparent age from an old Date', [['Date', -100]], 0, 0, 5, 105],
  ['Date in the future gives no negative age', [['Date', 100]], 0, 0, 5, 5],
  ['response delay is added to Age', [['Age', '10'], ['Date', 0]], -4, 0, 0, 14],
  ['max(apparent, corrected)', [['Age', '10'], ['Date', -50]], -4, 0, 1, 51],
];
for (const [name, h, rq, rs, now, want] of ages) {
  test(`currentAgeMs: ${name}`, () => {
    const s = stored(h, 200, T0 + rq * 1000, T0 + rs * 1000);
    assert.equal(currentAgeMs(s, T0 + now * 1000), want * 1000);
  });
}

test('ageHeaderValue', () => {
  assert.equal(ageHeaderValue(0), '0');
  assert.equal(ageHeaderValue(-5), '0');
  assert.equal(ageHeaderValue(1999), '1');
  assert.equal(ageHeaderValue(1e15), String(2 ** 31));
  assert.equal(ageHeaderValue(Number.NaN), '0');
});
