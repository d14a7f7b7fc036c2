import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  revalidationHeaders,
  freshenFromNotModified,
  notModifiedMatches,
  evaluateConditional,
  notModifiedHeaders,
  invalidationTargets,
  isUnsafeMethod,
  storedFieldsToKeep,
  freshnessLifetime,
  currentAgeMs,
} from '../../../src/cache/index.js';
import { SHARED, T0, stored, fields, req, type H } from './helpers.js';

const LM = 'Wed, 01 Jan 2020 00:00:00 GMT';

test('revalidationHeaders', () => {
  assert.deepEqual(revalidationHeaders(stored([['ETag', '"a"'], ['Last-Modified', LM]])).toJSON(), [
    ['If-None-Match', '"a"'],
    ['If-Modified-Since', LM],
  ]);
  assert.deepEqual(revalidationHeaders(stored([['ETag', 'W/"a"']])).toJSON(), [['If-None-Match', 'W/"a"']]);
  assert.deepEqual(revalidationHeaders(stored([['Date', 0]])).toJSON(), [['If-Modified-Since', 'Sat, 01 Jun 2024 12:00:00 GMT']]);
  assert.deepEqual(revalidationHeaders(stored([['ETag', 'unquoted'], ['Last-Modified', 'junk']])).toJSON(), []);
});

test('freshenFromNotModified updates fields but not the ones describing the body', () => {
  const s = stored([
    ['Cache-Control', 'max-age=1'],
    ['ETag', '"a"'],
    ['Content-Length', '36'],
    ['Content-Encoding', 'gzip'],
    ['Repr-Digest', 'sha-256=:AAAA:'],
    ['Test-Header', 'A'],
    ['Set-Cookie', 'a=b'],
    ['Set-Cookie', 'c=d'],
    ['Keep', 'me'],
  ]);
  const res304 = fields([
    ['Cache-Control', 'max-age=3600'],
    ['ETag', '"a"'],
    ['Content-Length', '10'],
    ['Content-Encoding', 'br'],
    ['Repr-Digest', 'sha-256=:BBBB:'],
    ['Test-Header', 'B'],
    ['Set-Cookie', 'a=c'],
    ['Connection', 'x-hop'],
    ['X-Hop', '1'],
    ['Keep-Alive', 'timeout=5'],
  ]);
  const n = freshenFromNotModified(s, res304, T0 + 5000, T0 + 6000);
  assert.equal(n.status, 200);
  assert.equal(n.requestTime, T0 + 5000);
  assert.equal(n.responseTime, T0 + 6000);
  const h = n.headers;
  assert.equal(h.get('cache-control'), 'max-age=3600');
  assert.equal(h.get('content-length'), '36');
  assert.equal(h.get('content-encoding'), 'gzip');
  assert.equal(h.get('repr-digest'), 'sha-256=:AAAA:');
  assert.equal(h.get('test-header'), 'B');
  assert.deepEqual(h.getAll('set-cookie'), ['a=c']);
  assert.equal(h.get('keep'), 'me');
  assert.equal(h.has('x-hop'), false);
  assert.equal(h.has('keep-alive'), false);
  assert.equal(h.has('connection'), false);
  assert.equal(s.headers.get('test-header'), 'A', 'the old stored response is untouched');
  assert.equal(freshnessLifetime(n, SHARED).lifetimeMs, 3_600_000);
  assert.equal(currentAgeMs(n, T0 + 6000), 1000);
});

test('notModifiedMatches (RFC 9111 §4.3.4)', () => {
  const s = stored([['ETag', '"a"'], ['Last-Modified', LM]]);
  const m = (h: H, st = s): boolean => notModifiedMatches(fields(h), st);
  assert.equal(m([['ETag', '"a"']]), true);
  assert.equal(m([['ETag', '"b"']]), false);
  assert.equal(m([['ETag', 'W/"a"']]), true);
  assert.equal(m([['ETag', '"a"']], stored([['ETag', 'W/"a"']])), false);
  assert.equal(m([['ETag', 'junk']]), false);
  assert.equal(m([['Last-Modified', LM]]), true);
  assert.equal(m([['Last-Modified', 'Thu, 02 Jan 2020 00:00:00 GMT']]), false);
  assert.equal(m([]), true);
});

test('evaluateConditional (RFC 9110 §13.2.2)', () => {
  const s = stored([['ETag', '"a"'], ['Last-Modified', LM], ['Date', 0]]);
  const e = (h: H, method = 'GET', st = s): 304 | 412 | null => evaluateConditional(fields(h), st, method);
  assert.equal(e([]), null);
  assert.equal(e([['If-None-Match', '"a"']]), 304);
  assert.equal(e([['If-None-Match', 'W/"a"']]), 304);
  assert.equal(e([['If-None-Match', '"x", "a", "y"']]), 304);
  assert.equal(e([['If-None-Match', '"x"']]), null);
  assert.equal(e([['If-None-Match', '*']]), 304);
  assert.equal(e([['If-None-Match', '"a"']], 'HEAD'), 304);
  assert.equal(e([['If-None-Match', '"a"']], 'DELETE'), 412);
  assert.equal(e([['If-None-Match', '"x"'], ['If-Modified-Since', LM]]), null, 'If-None-Match takes precedence');
  assert.equal(e([['If-Modified-Since', LM]]), 304);
  assert.equal(e([['If-Modified-Since', 'Wednesday, 01-Jan-20 00:00:00 GMT']]), 304);
  assert.equal(e([['If-Modified-Since', 'Tue, 31 Dec 2019 00:00:00 GMT']]), null);
  assert.equal(e([['If-Modified-Since', 'junk']]), null);
  assert.equal(e([['If-Modified-Since', LM]], 'POST'), null);
  assert.equal(e([['If-Match', '"a"']]), null);
  assert.equal(e([['If-Match', 'W/"a"']]), 412);
  assert.equal(e([['If-Match', '"b"']]), 412);
  assert.equal(e([['If-Match', '*']]), null);
  assert.equal(e([['If-Unmodified-Since', 'Tue, 31 Dec 2019 00:00:00 GMT']]), 412);
  assert.equal(e([['If-Unmodified-Since', LM]]), null);
  const noLm = stored([['Date', -10]]);
  assert.equal(e([['If-Modified-Since', 'Sat, 01 Jun 2024 12:00:00 GMT']], 'GET', noLm), 304, 'falls back to Date');
  assert.equal(e([['If-None-Match', '"a"']], 'GET', stored([['ETag', '"a"']], 404)), null, 'only 2xx');
});

test('notModifiedHeaders', () => {
  const s = stored([
    ['Cache-Control', 'max-age=5'],
    ['ETag', '"a"'],
    ['Last-Modified', LM],
    ['Content-Type', 'text/plain'],
    ['Content-Length', '5'],
    ['Vary', 'Accept'],
    ['Expires', 5],
    ['Date', 0],
  ]);
  assert.deepEqual(notModifiedHeaders(s).names(), ['cache-control', 'etag', 'vary', 'expires', 'date']);
  assert.deepEqual(notModifiedHeaders(stored([['Last-Modified', LM]])).names(), ['last-modified', 'date']);
});

test('invalidationTargets (RFC 9111 §4.4)', () => {
  const r = req([], 'POST', 'http://example.com/a/b');
  const keys = (status: number, h: H, rq = r): string[] => invalidationTargets(rq, status, fields(h)).map((u) => u.href);
  assert.deepEqual(keys(200, []), ['http://example.com/a/b']);
  assert.deepEqual(keys(303, [['Location', '/c'], ['Content-Location', 'd#x']]), ['http://example.com/a/b', 'http://example.com/c', 'http://example.com/a/d']);
  assert.deepEqual(keys(201, [['Location', 'http://other.example/c']]), ['http://example.com/a/b']);
  assert.deepEqual(keys(200, [['Location', 'http://example.com:80/a/b']]), ['http://example.com/a/b']);
  assert.deepEqual(keys(404, []), []);
  assert.deepEqual(keys(500, []), []);
  assert.deepEqual(keys(200, [], req([], 'GET')), []);
  assert.deepEqual(keys(200, [], req([], 'FOO')), ['http://example.com/a']);
});

test('isUnsafeMethod', () => {
  for (const m of ['GET', 'HEAD', 'OPTIONS', 'TRACE']) assert.equal(isUnsafeMethod(m), false, m);
  for (const m of ['POST', 'PUT', 'DELETE', 'PATCH', 'FOO']) assert.equal(isUnsafeMethod(m), true, m);
});

test('storedFieldsToKeep', () => {
  const kept = storedFieldsToKeep(
    fields([
      ['Connection', 'a, b'],
      ['a', '1'],
      ['b', '2'],
      ['c', '3'],
      ['Keep-Alive', 'x'],
      ['Proxy-Authenticate', 'x'],
      ['Proxy-Authentication-Info', 'x'],
      ['Transfer-Encoding', 'chunked'],
      ['Upgrade', 'h2c'],
      ['TE', 'trailers'],
      ['Cache-Control', 'no-cache="Set-Cookie, X-Secret", private="x-priv", max-age=5'],
      ['Set-Cookie', 'a=b'],
      ['X-Secret', 's'],
      ['X-Priv', 'p'],
      ['Set-Cookie2', 'keep'],
    ]),
  );
  assert.deepEqual(kept.names(), ['c', 'cache-control', 'set-cookie2']);
});
