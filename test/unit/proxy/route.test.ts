import { test } from 'node:test';
import assert from 'node:assert/strict';
import { route, urlOf } from '../../../src/proxy/route.js';
import { cacheKey } from '../../../src/cache/index.js';
import { Fields } from '../../../src/http/fields.js';
import type { Transaction } from '../../../src/proxy/context.js';

const base = new URL('http://Origin.Example:8080/base/');

function tx(target: string): Transaction {
  return {
    req: { target, headers: new Fields([['Host', 'public.example']]) },
    ctx: { singleOrigin: base, routes: new Map(), config: { 'forward.allowPrivate': false } },
    url: null, lazyPath: null, fetchUrl: null, key: '',
  } as unknown as Transaction;
}

test('the fast-path cache key equals the key of the parsed URL for every target', () => {
  const targets = [
    '/', '/a', '/a/b?c=d', '/a?x=1&y=2', '/path/with-dash_and.dot~tilde', '/q?a=b/c', '/a;b=c', '/@user:x',
    '/a/./b', '/a/../b', '/%7Euser', '/%2e%2e/x', "/it's", '/sp%20ace', '/a\\b', '/x?q="quoted"', '/x?<tag>', '/é',
    '/./', '/a/.', '/a?b=/./c', '/UPPER/Case?Q=V',
  ];
  for (const t of targets) {
    const fast = tx(t);
    route(fast);
    const expected = cacheKey(new URL(`http://origin.example:8080/base${t}`));
    assert.equal(fast.key, expected, `key of ${t}`);
    assert.equal(cacheKey(urlOf(fast)), expected, `URL of ${t}`);
  }
});
