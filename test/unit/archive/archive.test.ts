import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { buildArchive, openArchive, signArchive, ZipReader, bufferSource, MANIFEST_NAME, type KeyResolver } from '../../../src/archive/index.js';
import { generatePublisherKey, type PublisherKey } from '../../../src/integrity/keys.js';
import { isPeerwebError } from '../../../src/errors/index.js';

const SITE = fileURLToPath(new URL('../../fixtures/archive/site/', import.meta.url));
const T0 = Date.parse('2026-01-01T00:00:00Z');
const DAY = 86_400_000;

function trustOf(host: string, ...keys: PublisherKey[]): KeyResolver {
  return { keysFor: async (h) => (h === host ? keys : []) };
}

function build(key: PublisherKey | undefined, extra: Partial<Parameters<typeof buildArchive>[0]> = {}): Buffer {
  return buildArchive({
    dir: SITE, origin: 'https://www.example.com', prefix: '/', notBefore: T0, validFor: 7 * DAY, staleIfUnverified: 86400,
    routes: [{ pattern: '/search', handler: 'handlers/search.js' }], ...(key ? { key } : {}), ...extra,
  });
}

test('the same folder, options and key give the same bytes', () => {
  const key = generatePublisherKey();
  assert.ok(build(key).equals(build(key)));
  assert.ok(!build(key).equals(build(key, { notBefore: T0 + 1000 })));
});

test('a built archive verifies, serves static files and runs its search handler', async (t) => {
  const key = generatePublisherKey();
  const site = await openArchive({ bytes: build(key) }, trustOf('www.example.com', key), { now: () => T0 + DAY });
  t.after(() => site.close());
  assert.equal(site.origin, 'https://www.example.com');
  assert.equal(site.keyId, key.keyId);
  const home = await site.handle({ method: 'GET', url: 'https://www.example.com/', headers: [] });
  assert.equal(home?.status, 200);
  assert.match(home!.body.toString(), /<form action="search">/);
  assert.deepEqual(home!.headers.find(([k]) => k === 'content-type'), ['content-type', 'text/html; charset=utf-8']);
  const etag = home!.headers.find(([k]) => k === 'etag')![1];
  const again = await site.handle({ method: 'GET', url: '/', headers: [['if-none-match', etag]] });
  assert.equal(again?.status, 304);
  const search = await site.handle({ method: 'GET', url: 'https://www.example.com/search?q=guide', headers: [] });
  assert.equal(search?.status, 200, search?.body.toString());
  assert.match(search!.body.toString(), /Results for guide.*Caching guide/);
  assert.doesNotMatch(search!.body.toString(), /Getting started/);
  // The handler's clock is the request time the host passed, nothing else.
  assert.match(search!.body.toString(), /at 2026-01-02T00:00:00\.000Z/);
  assert.equal(await site.handle({ method: 'GET', url: 'https://www.example.com/missing', headers: [] }), undefined);
  assert.equal(await site.handle({ method: 'GET', url: 'https://other.example/', headers: [] }), undefined);
  assert.equal(await site.handle({ method: 'GET', url: 'https://www.example.com/%2e%2e/etc/passwd', headers: [] }), undefined);
  assert.equal((await site.handle({ method: 'POST', url: 'https://www.example.com/index.html', headers: [] }))?.status, 405);
});

test('an unsigned archive is refused; signing it later makes it valid', async () => {
  const key = generatePublisherKey();
  const unsigned = build(undefined);
  await assert.rejects(openArchive({ bytes: unsigned }, trustOf('www.example.com', key), { now: () => T0 + DAY }), (e) => isPeerwebError(e, 'PW_ERR_ARCHIVE_UNSIGNED'));
  const signed = await signArchive(unsigned, key);
  assert.ok(signed.equals(build(key)), 'signing later gives the same bytes as building signed');
  const site = await openArchive({ bytes: signed }, trustOf('www.example.com', key), { now: () => T0 + DAY });
  await site.close();
});

test('the archive tail holds the central directory, manifest and signature: one read opens it', async () => {
  const key = generatePublisherKey();
  const bytes = build(key);
  const zip = await ZipReader.open(bufferSource(bytes), 'x');
  await zip.read(MANIFEST_NAME);
  assert.equal(zip.reads, 1);
});
