import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseCacheControl, deltaSeconds, directiveFieldNames, splitList } from '../../../src/http/index.js';

test('parseCacheControl reads names, arguments and quoted strings', () => {
  const cc = parseCacheControl('Max-Age=60, no-cache="Set-Cookie, X-Foo", public, ext="a,b\\"c"');
  assert.equal(cc.get('max-age'), '60');
  assert.equal(cc.get('no-cache'), 'Set-Cookie, X-Foo');
  assert.equal(cc.get('public'), true);
  assert.equal(cc.get('ext'), 'a,b"c');
  assert.equal(cc.size, 4);
});

test('parseCacheControl: first occurrence wins, across joined lines too', () => {
  assert.equal(parseCacheControl('max-age=1800, max-age=1').get('max-age'), '1800');
  assert.equal(parseCacheControl('max-age=1, MAX-AGE=1800').get('max-age'), '1');
});

test('parseCacheControl: a quoted max-age inside another directive does not count', () => {
  const cc = parseCacheControl('extension="max-age=3600", max-age=1');
  assert.equal(cc.get('max-age'), '1');
  assert.equal(parseCacheControl('max-age=1, extension="max-age=3600"').get('max-age'), '1');
});

test('parseCacheControl: bad syntax is tolerated', () => {
  assert.equal(parseCacheControl(undefined).size, 0);
  assert.equal(parseCacheControl('').size, 0);
  assert.equal(parseCacheControl(' , ,').size, 0);
  assert.equal(parseCacheControl('max-age =5').has('max-age'), false);
  assert.equal(parseCacheControl('"quoted", public').get('public'), true);
  assert.equal(parseCacheControl('max-age="5').get('max-age'), '"5'); // unterminated quote kept raw
});

const deltas: [string, number | undefined][] = [
  ['max-age=5', 5],
  ['max-age="5"', 5],
  ['max-age=003600', 3600],
  ['max-age=0', 0],
  ['max-age=-1', undefined],
  ['max-age=abc', undefined],
  ['max-age=3600.0', undefined],
  ['max-age=a3600', undefined],
  ['max-age=3600a', undefined],
  ["max-age='3600'", undefined],
  ['max-age= 3600', undefined],
  ['max-age', undefined],
  ['max-age=2147483647', 2147483647],
  ['max-age=2147483648', 2147483648],
  ['max-age=2147483649', 2147483648],
  ['max-age=99999999999', 2147483648],
  ['max-age=999999999999999999999999', 2147483648],
  ['public', undefined],
];
for (const [value, want] of deltas) {
  test(`deltaSeconds(${value}) = ${String(want)}`, () => {
    assert.equal(deltaSeconds(parseCacheControl(value), 'max-age'), want);
  });
}

test('directiveFieldNames lower-cases listed names', () => {
  assert.deepEqual(directiveFieldNames(parseCacheControl('no-cache="Set-Cookie, X-A"'), 'no-cache'), ['set-cookie', 'x-a']);
  assert.deepEqual(directiveFieldNames(parseCacheControl('no-cache'), 'no-cache'), []);
});

test('splitList keeps quoted commas and is bounded', () => {
  assert.deepEqual(splitList('a, "b,c" ,d'), ['a', '"b,c"', 'd']);
  assert.deepEqual(splitList('a,b,c,d', 2), ['a', 'b']);
  assert.deepEqual(splitList('"a\\",b", c'), ['"a\\",b"', 'c']);
});
