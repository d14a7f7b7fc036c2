import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isStorable, type PolicyOptions } from '../../../src/cache/index.js';
import { SHARED, PRIVATE, fields, req, type H } from './helpers.js';

// [name, request headers, method, status, response headers, options, storable]
const cases: [string, H, string, number, H, PolicyOptions, boolean][] = [
  ['max-age', [], 'GET', 200, [['Cache-Control', 'max-age=60']], SHARED, true],
  ['HEAD is never stored', [], 'HEAD', 200, [['Cache-Control', 'max-age=60']], SHARED, false],
  ['POST is never stored', [], 'POST', 200, [['Cache-Control', 'max-age=60']], SHARED, false],
  ['1xx', [], 'GET', 100, [['Cache-Control', 'max-age=60']], SHARED, false],
  ['206', [], 'GET', 206, [['Cache-Control', 'max-age=60']], SHARED, false],
  ['304', [], 'GET', 304, [['Cache-Control', 'max-age=60']], SHARED, false],
  ['299 with explicit freshness', [], 'GET', 299, [['Cache-Control', 'max-age=60']], SHARED, true],
  ['503 with explicit freshness', [], 'GET', 503, [['Expires', 60]], SHARED, true],
  ['no-store', [], 'GET', 200, [['Cache-Control', 'max-age=60, nO-StOrE']], SHARED, false],
  ['no-store with Expires', [], 'GET', 200, [['Cache-Control', 'no-store'], ['Expires', 3600]], SHARED, false],
  ['request no-store', [['Cache-Control', 'no-store']], 'GET', 200, [['Cache-Control', 'max-age=60']], SHARED, false],
  ['must-understand + no-store, understood status', [], 'GET', 200, [['Cache-Control', 'max-age=3600, no-store, must-understand']], SHARED, true],
  ['must-understand + no-store, unknown status', [], 'GET', 599, [['Cache-Control', 'max-age=3600, no-store, must-understand']], SHARED, false],
  ['private in shared cache', [], 'GET', 200, [['Cache-Control', 'private, max-age=60']], SHARED, false],
  ['private in private cache', [], 'GET', 200, [['Cache-Control', 'private, max-age=60']], PRIVATE, true],
  ['private="x" in shared cache (stored without x)', [], 'GET', 200, [['Cache-Control', 'private="x", max-age=60']], SHARED, true],
  ['Authorization alone', [['Authorization', 'Basic x']], 'GET', 200, [['Cache-Control', 'max-age=60']], SHARED, false],
  ['Authorization in private cache', [['Authorization', 'Basic x']], 'GET', 200, [['Cache-Control', 'max-age=60']], PRIVATE, true],
  ['Authorization + public', [['Authorization', 'Basic x']], 'GET', 200, [['Cache-Control', 'max-age=60, public']], SHARED, true],
  ['Authorization + s-maxage', [['Authorization', 'Basic x']], 'GET', 200, [['Cache-Control', 's-maxage=60']], SHARED, true],
  ['Authorization + must-revalidate', [['Authorization', 'Basic x']], 'GET', 200, [['Cache-Control', 'max-age=60, must-revalidate']], SHARED, true],
  ['Authorization + must-revalidate, heuristic only', [['Authorization', 'Basic x']], 'GET', 200, [['Cache-Control', 'must-revalidate'], ['Last-Modified', -3600]], SHARED, false],
  ['Cookie + heuristic only', [['Cookie', 'a=b']], 'GET', 200, [['Last-Modified', -3600]], SHARED, false],
  ['Cookie + explicit', [['Cookie', 'a=b']], 'GET', 200, [['Cache-Control', 'max-age=5']], SHARED, true],
  ['Vary: *', [], 'GET', 200, [['Cache-Control', 'max-age=60'], ['Vary', 'Foo, *']], SHARED, false],
  ['heuristic 200 with Last-Modified', [], 'GET', 200, [['Last-Modified', -3600]], SHARED, true],
  ['heuristic 404 with ETag', [], 'GET', 404, [['ETag', '"x"']], SHARED, true],
  ['201 with Last-Modified only', [], 'GET', 201, [['Last-Modified', -3600]], SHARED, false],
  ['599 with Last-Modified only', [], 'GET', 599, [['Last-Modified', -3600]], SHARED, false],
  ['599 with public', [], 'GET', 599, [['Cache-Control', 'public'], ['Last-Modified', -3600]], SHARED, true],
  ['nothing at all', [], 'GET', 200, [], SHARED, false],
  ['invalid Expires still storable', [], 'GET', 200, [['Expires', '0']], SHARED, true],
  ['s-maxage in private cache only', [], 'GET', 302, [['Cache-Control', 's-maxage=60']], PRIVATE, false],
  ['no-cache with a validator', [], 'GET', 200, [['Cache-Control', 'no-cache'], ['ETag', '"a"']], SHARED, true],
];

for (const [name, reqH, method, status, resH, opts, want] of cases) {
  test(`isStorable: ${name}`, () => {
    const got = isStorable(req(reqH, method), status, fields(resH), opts);
    assert.equal(got.storable, want, got.reason);
    assert.equal(typeof got.reason, 'string');
    assert.ok(got.reason.length > 0);
  });
}

test('targeted CDN-Cache-Control (RFC 9213) replaces Cache-Control and Expires when configured', async () => {
  const { isStorable: storable, freshnessLifetime: lifetime } = await import('../../../src/cache/index.js');
  const { Fields: F } = await import('../../../src/http/fields.js');
  const opts = { shared: true, heuristicFraction: 0.1, heuristicMaxMs: 86_400_000, targetedFields: ['cdn-cache-control'] };
  const req = { method: 'GET', headers: new F(), url: new URL('http://a.example/x') };
  const priv = new F([['CDN-Cache-Control', 'private'], ['Cache-Control', 'max-age=10000']]);
  assert.equal(storable(req, 200, priv, opts).storable, false);
  assert.equal(storable(req, 200, priv, { ...opts, targetedFields: [] }).storable, true, 'without the option the field is ignored');
  const fresh = new F([['Cache-Control', 'no-store'], ['CDN-Cache-Control', 'max-age=10000']]);
  assert.equal(storable(req, 200, fresh, opts).storable, true);
  assert.equal(lifetime({ status: 200, headers: fresh, requestTime: 0, responseTime: 0 }, opts).lifetimeMs, 10_000_000);
  const invalid = new F([['Cache-Control', 'no-store'], ['CDN-Cache-Control', 'max-age=10000, &&&&&']]);
  assert.equal(storable(req, 200, invalid, opts).storable, false, 'an invalid targeted field is ignored');
});

test('a targeted field with a wrongly typed max-age is ignored as a whole', async () => {
  const { isStorable: storable } = await import('../../../src/cache/index.js');
  const { Fields: F } = await import('../../../src/http/fields.js');
  const opts = { shared: true, heuristicFraction: 0.1, heuristicMaxMs: 86_400_000, targetedFields: ['cdn-cache-control'] };
  const req = { method: 'GET', headers: new F(), url: new URL('http://a.example/x') };
  assert.equal(storable(req, 200, new F([['CDN-Cache-Control', 'max-age="10000"'], ['Cache-Control', 'no-store']]), opts).storable, false);
  assert.equal(storable(req, 200, new F([['CDN-Cache-Control', 'max-age=10000'], ['Cache-Control', 'no-store']]), opts).storable, true);
});
