import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cacheKey, varyFields, secondaryKey } from '../../../src/cache/index.js';
import { fields } from './helpers.js';

test('cacheKey normalises scheme, host, port and drops the fragment', () => {
  assert.equal(cacheKey(new URL('http://Example.COM/a?b=1#frag')), 'http://example.com:80/a?b=1');
  assert.equal(cacheKey(new URL('https://example.com')), 'https://example.com:443/');
  assert.equal(cacheKey(new URL('http://example.com:8080/x')), 'http://example.com:8080/x');
  assert.equal(cacheKey(new URL('http://[::1]:81/')), 'http://[::1]:81/');
  assert.notEqual(cacheKey(new URL('http://e/a?x=1')), cacheKey(new URL('http://e/a?x=2')));
  assert.notEqual(cacheKey(new URL('http://e/a')), cacheKey(new URL('https://e/a')));
});

test('varyFields', () => {
  assert.deepEqual(varyFields(fields()), []);
  assert.deepEqual(varyFields(fields([['Vary', 'Accept-Encoding, FOO'], ['Vary', 'foo, Bar']])), ['accept-encoding', 'foo', 'bar']);
  for (const v of ['*', '*, *', ', *', '*, Foo', 'Foo, *']) assert.equal(varyFields(fields([['Vary', v]])), '*', v);
  assert.equal(varyFields(fields([['Vary', 'Foo'], ['Vary', '*']])), '*');
});

test('secondaryKey', () => {
  assert.equal(secondaryKey([], fields([['Foo', '1']])), '');
  const k = (h: [string, string][], vary = ['foo']): string => secondaryKey(vary, fields(h));
  assert.equal(k([['Foo', '1, 2']]), k([['Foo', '1'], ['Foo', '2']]));
  assert.equal(k([['Foo', '1,2']]), k([['Foo', ' 1 ,  2 ']]));
  assert.notEqual(k([['Foo', '1']]), k([['Foo', '2']]));
  assert.notEqual(k([]), k([['Foo', '']]));
  assert.notEqual(k([['Foo', 'a']]), k([['Foo', 'A']]));
  assert.equal(k([['A', '1'], ['B', '2']], ['a', 'b']), k([['B', '2'], ['A', '1']], ['B', 'A']));
  assert.notEqual(k([['A', '1'], ['B', '2']], ['a', 'b']), k([['A', '1'], ['B', '3']], ['a', 'b']));
  assert.notEqual(k([['A', '1,b:2']], ['a', 'b']), k([['A', '1'], ['B', '2']], ['a', 'b']));
  const al = (v: string): string => k([['Accept-Language', v]], ['accept-language']);
  assert.equal(al('en, de'), al('de, en'));
  assert.equal(al('en, de'), al('eN, De'));
  assert.equal(al('en, de'), al(' en ,   de'));
  assert.notEqual(al('en'), al('de'));
});
