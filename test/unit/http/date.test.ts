import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseHttpDate, formatHttpDate, httpDateNow } from '../../../src/http/index.js';

const REF = Date.UTC(1994, 10, 6, 8, 49, 37);
const NOW = Date.UTC(2025, 0, 1);

const valid: [string, number][] = [
  ['Sun, 06 Nov 1994 08:49:37 GMT', REF],
  ['Sunday, 06-Nov-94 08:49:37 GMT', REF],
  ['Sun Nov  6 08:49:37 1994', REF],
  ['Sun Nov 06 08:49:37 1994', REF],
  ['SUN, 06 NOV 1994 08:49:37 gmt', REF],
  ['Tue, 19 Jan 2038 03:14:08 GMT', 2147483648000],
  ['Sun, 21 Nov 2286 04:46:39 GMT', Date.UTC(2286, 10, 21, 4, 46, 39)],
  ['Thursday, 18-Aug-50 02:01:18 GMT', Date.UTC(2050, 7, 18, 2, 1, 18)],
  ['Thursday, 18-Aug-80 02:01:18 GMT', Date.UTC(1980, 7, 18, 2, 1, 18)],
  ['Thu Aug  8 02:01:18 2050', Date.UTC(2050, 7, 8, 2, 1, 18)],
  ['Mon, 01 Jan 0001 00:00:00 GMT', -62135596800000],
  ['Thu, 29 Feb 2024 00:00:00 GMT', Date.UTC(2024, 1, 29)],
  ['Wed, 31 Dec 1997 23:59:60 GMT', Date.UTC(1997, 11, 31, 23, 59, 59)],
];
for (const [v, want] of valid) {
  test(`parseHttpDate accepts ${v}`, () => assert.equal(parseHttpDate(v, NOW), want));
}

const invalid = [
  'Thu, 18 Aug 2050 02:01:18 UTC',
  'Thu, 18 Aug 2050 02:01:18 AEST',
  'Thu, 18 Aug 50 02:01:18 GMT',
  'Thu 18 Aug 2050 02:01:18 GMT',
  'Thu, 18  Aug  2050 02:01:18 GMT',
  'Thu, 18-Aug-2050 02:01:18 GMT',
  'Thu, 18 Aug 2050 02.01.18 GMT',
  'Thu, 18 Aug 2050 2:01:18 GMT',
  'Thu, 18 Aug 2050 2:01:18 GMT, Thu, 18 Aug 2050 2:01:19 GMT',
  'Thu, 31 Feb 2050 02:01:18 GMT',
  'Thu, 29 Feb 2023 02:01:18 GMT',
  'Thu, 18 Aug 2050 24:01:18 GMT',
  'Thu, 18 Foo 2050 02:01:18 GMT',
  'Xyz, 18 Aug 2050 02:01:18 GMT',
  '0',
  '-1',
  '',
];
for (const v of invalid) {
  test(`parseHttpDate rejects ${JSON.stringify(v)}`, () => assert.equal(parseHttpDate(v, NOW), undefined));
}

test('formatHttpDate writes IMF-fixdate and round-trips', () => {
  assert.equal(formatHttpDate(REF + 999), 'Sun, 06 Nov 1994 08:49:37 GMT');
  assert.equal(parseHttpDate(formatHttpDate(REF)), REF);
  assert.equal(formatHttpDate(0), 'Thu, 01 Jan 1970 00:00:00 GMT');
});

test('httpDateNow is cached per second and follows the clock', () => {
  const a = httpDateNow(REF + 10);
  assert.equal(a, 'Sun, 06 Nov 1994 08:49:37 GMT');
  assert.equal(httpDateNow(REF + 900), a);
  assert.equal(httpDateNow(REF + 1000), 'Sun, 06 Nov 1994 08:49:38 GMT');
  assert.equal(parseHttpDate(httpDateNow()) !== undefined, true);
});
