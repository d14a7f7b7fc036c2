import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Fields, parseETag, parseETagList, strongMatch, weakMatch, parseIfRange, ifRangeMatches, formatETag } from '../../../src/http/index.js';

test('parseETag', () => {
  assert.deepEqual(parseETag('"abc"'), { weak: false, opaque: '"abc"' });
  assert.deepEqual(parseETag('W/"abc"'), { weak: true, opaque: '"abc"' });
  assert.deepEqual(parseETag('""'), { weak: false, opaque: '""' });
  assert.deepEqual(parseETag('"\xe9t\xe9"'), { weak: false, opaque: '"\xe9t\xe9"' });
  for (const bad of ['abc', 'w/"abc"', 'W\\"abc"', 'W"abc"', '"a"b"', '"a b"', '"abc', undefined]) assert.equal(parseETag(bad), undefined, String(bad));
  assert.equal(formatETag({ weak: true, opaque: '"x"' }), 'W/"x"');
});

test('parseETagList', () => {
  assert.deepEqual(parseETagList('*'), { any: true, tags: [] });
  assert.deepEqual(parseETagList(undefined), { any: false, tags: [] });
  const l = parseETagList('"a", W/"b" ,"c,d", junk, "e"');
  assert.deepEqual(l.tags.map(formatETag), ['"a"', 'W/"b"', '"c,d"', '"e"']);
  assert.deepEqual(parseETagList('"a",,"b"').tags.map(formatETag), ['"a"', '"b"']);
});

test('strong and weak comparison (RFC 9110 §8.8.3.2 table)', () => {
  const w1 = parseETag('W/"1"');
  const w2 = parseETag('W/"2"');
  const s1 = parseETag('"1"');
  assert.equal(strongMatch(w1, w1), false);
  assert.equal(weakMatch(w1, w1), true);
  assert.equal(strongMatch(w1, w2), false);
  assert.equal(weakMatch(w1, w2), false);
  assert.equal(strongMatch(w1, s1), false);
  assert.equal(weakMatch(w1, s1), true);
  assert.equal(strongMatch(s1, s1), true);
  assert.equal(strongMatch(s1, undefined), false);
});

test('If-Range', () => {
  assert.deepEqual(parseIfRange('"x"'), { kind: 'etag', tag: { weak: false, opaque: '"x"' } });
  assert.deepEqual(parseIfRange('Sun, 06 Nov 1994 08:49:37 GMT'), { kind: 'date', ms: Date.UTC(1994, 10, 6, 8, 49, 37) });
  assert.equal(parseIfRange('nonsense'), undefined);
  const res = new Fields([['ETag', '"x"'], ['Last-Modified', 'Sun, 06 Nov 1994 08:49:37 GMT'], ['Date', 'Sun, 06 Nov 1994 09:00:00 GMT']]);
  assert.equal(ifRangeMatches(undefined, res), true);
  assert.equal(ifRangeMatches('"x"', res), true);
  assert.equal(ifRangeMatches('W/"x"', res), false);
  assert.equal(ifRangeMatches('"y"', res), false);
  assert.equal(ifRangeMatches('Sun, 06 Nov 1994 08:49:37 GMT', res), true);
  assert.equal(ifRangeMatches('Sun, 06 Nov 1994 08:49:38 GMT', res), false);
  assert.equal(ifRangeMatches('junk', res), false);
  const weakLm = new Fields([['Last-Modified', 'Sun, 06 Nov 1994 08:49:37 GMT'], ['Date', 'Sun, 06 Nov 1994 08:49:37 GMT']]);
  assert.equal(ifRangeMatches('Sun, 06 Nov 1994 08:49:37 GMT', weakLm), false);
});
