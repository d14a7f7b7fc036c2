import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import {
  createReputation, fieldReader, formatDigestField, generatePublisherKey, parseDigestField, sha256, signMessage, strongEtag, verifyMessage,
} from '../../../src/integrity/index.js';
import { createMirror, createUpstreamSource, parseLinks, parseMetalink } from '../../../src/mirror/index.js';
import { fetchVerifiedBody } from '../../../src/client/index.js';
import { listen, randomFile, startMirror, startSite, tempDir, writeFiles } from './net-helpers.js';

const PIECE = 64 * 1024;

test('origin front: Repr-Digest, Digest, strong ETag on GET and HEAD; Metalink for large files; mirrors on request', async (t) => {
  const dir = tempDir(t);
  const big = randomFile(5 * PIECE + 7);
  writeFiles(dir, { 'a/big.bin': big, 'a/small.txt': 'hello' });
  const site = await startSite(dir, { pieceSize: PIECE, pieceThreshold: 2 * PIECE });
  t.after(site.close);
  const head = await request(`${site.url}/a/small.txt`, { method: 'HEAD' });
  await head.body.dump();
  assert.equal(head.statusCode, 200);
  assert.equal(head.headers['repr-digest'], formatDigestField(sha256('hello')));
  assert.equal(head.headers.digest, `SHA-256=${sha256('hello').toString('base64')}`);
  assert.equal(head.headers.etag, strongEtag(sha256('hello')));
  assert.equal(head.headers['content-length'], '5');
  assert.equal(head.headers.link, undefined, 'small files have no Metalink link');
  const notModified = await request(`${site.url}/a/small.txt`, { headers: { 'if-none-match': strongEtag(sha256('hello')) } });
  await notModified.body.dump();
  assert.equal(notModified.statusCode, 304);

  const m1 = await startMirror(site, ['/a/']);
  t.after(m1.close);
  const noCopy = await startMirror(site, ['/a/']);
  t.after(noCopy.close);
  await m1.mirror.sync();
  assert.equal((await site.front.offer(m1.base, ['/a/'])).state, 'live');
  assert.equal((await site.front.offer(noCopy.base, ['/a/'])).state, 'pending', 'a mirror without the bytes is not listed');

  const res = await request(`${site.url}/a/big.bin`, { headers: { 'list-mirrors': '?1' } });
  const body = Buffer.from(await res.body.arrayBuffer());
  assert.deepEqual(body, big);
  const links = parseLinks(String(res.headers.link), site.url);
  assert.deepEqual(links.filter((l) => l.rel === 'duplicate').map((l) => [l.href, l.params.pri]), [[`${m1.base}a/big.bin`, '1']]);
  const described = links.find((l) => l.rel === 'describedby');
  assert.ok(described);
  const ml = await request(described.href);
  assert.equal(ml.headers['content-type'], 'application/metalink4+xml');
  const meta = parseMetalink(await ml.body.text(), described.href);
  assert.deepEqual(meta.digest, sha256(big));
  assert.equal(meta.pieces?.length, 6);
  assert.deepEqual(meta.urls.map((u) => u.url), [`${m1.base}a/big.bin`, `${site.url}/a/big.bin`]);
  // Without List-Mirrors: no duplicates.
  const plain = await request(`${site.url}/a/big.bin`, { method: 'HEAD' });
  await plain.body.dump();
  assert.ok(!String(plain.headers.link).includes('rel=duplicate'));
  // Ranges from the origin.
  const part = await request(`${site.url}/a/big.bin`, { headers: { range: 'bytes=10-19' } });
  assert.equal(part.statusCode, 206);
  assert.deepEqual(Buffer.from(await part.body.arrayBuffer()), big.subarray(10, 20));
});

test('the site-wide mirror map is signed by the publisher key; a changed byte fails verification', async (t) => {
  const dir = tempDir(t);
  writeFiles(dir, { 'd/x.txt': 'x' });
  const site = await startSite(dir);
  t.after(site.close);
  const m = await startMirror(site, ['/d/']);
  t.after(m.close);
  await m.mirror.sync();
  await site.front.offer(m.base, ['/d/']);
  const res = await request(`${site.url}/.well-known/peerweb/mirrors`);
  const body = Buffer.from(await res.body.arrayBuffer());
  const headers = fieldReader(res.headers as Record<string, string>);
  const keys = (id: string) => (id === site.key.keyId ? site.key.publicKey : undefined);
  assert.deepEqual(parseDigestField(String(res.headers['content-digest'])), sha256(body));
  const v = verifyMessage({ status: 200, field: headers }, { keys, required: ['@status', 'content-digest'], tag: 'peerweb-map' });
  assert.equal(v.keyId, site.key.keyId);
  const map = JSON.parse(body.toString()) as { origin: string; mirrors: { base: string; prefixes: string[] }[] };
  assert.equal(map.origin, site.url);
  assert.deepEqual(map.mirrors.map((x) => [x.base, x.prefixes]), [[m.base, ['/d/']]]);
  // A forged map (other digest) does not verify.
  const forged = fieldReader({ ...(res.headers as Record<string, string>), 'content-digest': formatDigestField(sha256('{"mirrors":[]}')) });
  assert.throws(() => verifyMessage({ status: 200, field: forged }, { keys, required: ['@status', 'content-digest'] }), /does not verify|invalid/);
});

test('mirror sync copies a prefix, then only what changed; Will-Mirror offers are accepted by policy', async (t) => {
  const dir = tempDir(t);
  writeFiles(dir, { 'p/one.txt': 'one', 'p/two.txt': 'two', 'p/sub/three.txt': 'three', 'q/out.txt': 'not mirrored' });
  const site = await startSite(dir);
  t.after(site.close);
  const m = await startMirror(site, ['/p/']);
  t.after(m.close);
  const first = await m.mirror.sync();
  assert.deepEqual({ added: first.added, updated: first.updated, unchanged: first.unchanged, removed: first.removed }, { added: 3, updated: 0, unchanged: 0, removed: 0 });
  assert.deepEqual(m.mirror.paths(), ['/p/one.txt', '/p/sub/three.txt', '/p/two.txt']);
  writeFileSync(join(dir, 'p/two.txt'), 'two, changed');
  const second = await m.mirror.sync();
  assert.deepEqual({ added: second.added, updated: second.updated, unchanged: second.unchanged, bytes: second.bytes }, { added: 0, updated: 1, unchanged: 2, bytes: 12 });
  const got = await request(`${m.base}p/two.txt`, { headers: { range: 'bytes=5-' } });
  assert.equal(got.statusCode, 206);
  assert.equal(await got.body.text(), 'changed');
  // Offer through the Will-Mirror field on an ordinary request.
  const r = await request(`${site.url}/p/one.txt`, { headers: { 'will-mirror': `"/p/"; base="${m.base}"` } });
  await r.body.dump();
  const deadline = Date.now() + 5000;
  while (site.front.registry.get(m.base)?.state !== 'live' && Date.now() < deadline) await new Promise((res) => setImmediate(res));
  assert.equal(site.front.registry.get(m.base)?.state, 'live');
});

test('a persistent mirror keeps its copy across restarts and drops a corrupted object', async (t) => {
  const dir = tempDir(t);
  const store = tempDir(t);
  writeFiles(dir, { 'p/a.txt': 'alpha', 'p/b.txt': 'beta' });
  const site = await startSite(dir);
  t.after(site.close);
  const mk = () => createMirror({ origin: site.url, prefixes: ['/p/'], base: 'http://127.0.0.1:1/m/', originKeys: [site.key], dir: store, maxObjectSize: 1 << 20 });
  const a = mk();
  assert.equal((await a.sync()).added, 2);
  await a.close();
  writeFileSync(join(store, 'objects', sha256('beta').toString('hex')), 'BETA');
  const b = mk();
  t.after(() => b.close());
  const again = await b.sync();
  assert.deepEqual({ added: again.added, unchanged: again.unchanged }, { added: 1, unchanged: 1 }, 'the corrupted object was dropped on load and fetched again');
  assert.equal(b.get('/p/b.txt')?.body.toString(), 'beta');
});

test('signed PUT push: accepted from the origin key only, within the prefixes, with matching bytes', async (t) => {
  const dir = tempDir(t);
  writeFiles(dir, { 'p/pushed.txt': 'pre-warmed', 'q/other.txt': 'other' });
  const site = await startSite(dir);
  t.after(site.close);
  const m = await startMirror(site, ['/p/']);
  t.after(m.close);
  const results = await site.front.push('/p/pushed.txt', [m.base]);
  assert.deepEqual(results.map((r) => r.status), [201]);
  assert.equal(m.mirror.get('/p/pushed.txt')?.body.toString(), 'pre-warmed');
  assert.deepEqual((await site.front.push('/q/other.txt', [m.base])).map((r) => r.status), [403], 'outside the prefixes');

  const put = async (key = site.key, body = 'evil', signedBody = body, path = 'p/evil.txt', method = 'PUT', created?: number) => {
    const url = `${m.base}${path}`;
    const h: Record<string, string> = { 'content-digest': formatDigestField(sha256(signedBody)) };
    const s = signMessage({ method, targetUri: url, field: fieldReader(h) }, { key, components: ['@method', '@target-uri', 'content-digest'], ...(created ? { created } : {}) });
    const res = await request(url, { method: 'PUT', headers: { ...h, 'signature-input': s.signatureInput, signature: s.signature }, body });
    await res.body.dump();
    return res.statusCode;
  };
  assert.equal(await put(generatePublisherKey()), 403, 'another key');
  assert.equal(await put(site.key, 'evil', 'evil', 'p/evil.txt', 'POST'), 403, 'signature for another method');
  assert.equal(await put(site.key, 'evil bytes', 'good bytes'), 403, 'body does not match the signed digest');
  const unsigned = await request(`${m.base}p/evil.txt`, { method: 'PUT', headers: { 'content-digest': formatDigestField(sha256('x')) }, body: 'x' });
  await unsigned.body.dump();
  assert.equal(unsigned.statusCode, 403);
  assert.equal(m.mirror.get('/p/evil.txt'), undefined);
  const now = Math.floor(Date.now() / 1000);
  assert.equal(await put(site.key, 'good v2', 'good v2', 'p/good.txt', 'PUT', now), 201);
  assert.equal(await put(site.key, 'good v1', 'good v1', 'p/good.txt', 'PUT', now - 60), 403, 'an older signed push is not replayed over a newer copy');
  assert.equal(m.mirror.get('/p/good.txt')?.body.toString(), 'good v2');
  assert.equal(await put(site.key, 'good v3', 'good v3', 'p/good.txt', 'PUT', now + 1), 204);
});

test('mirror rate limits outsiders with 429 + Retry-After and restricts by address range', async (t) => {
  const dir = tempDir(t);
  writeFiles(dir, { 'p/a.txt': 'a' });
  const site = await startSite(dir);
  t.after(site.close);
  let handler: ReturnType<typeof createMirror> | undefined;
  const srv = await listen(async (req, res) => { await handler?.handle(req, res); });
  t.after(srv.close);
  handler = createMirror({ origin: site.url, prefixes: ['/p/'], base: `${srv.url}/m/`, originKeys: [site.key], maxObjectSize: 1 << 20, rate: 1, burst: 3, globalRate: 0, exemptClients: [] });
  t.after(() => handler?.close());
  await handler.sync();
  const statuses: number[] = [];
  let retryAfter: string | undefined;
  for (let i = 0; i < 5; i++) {
    const r = await request(`${srv.url}/m/p/a.txt`);
    await r.body.dump();
    statuses.push(r.statusCode);
    if (r.statusCode === 429) retryAfter = String(r.headers['retry-after']);
  }
  assert.deepEqual(statuses.slice(0, 3), [200, 200, 200]);
  assert.equal(statuses[4], 429);
  assert.match(retryAfter ?? '', /^\d+$/);
  const restricted = createMirror({ origin: site.url, prefixes: ['/p/'], base: `${srv.url}/m/`, originKeys: [site.key], maxObjectSize: 1 << 20, allowClients: ['10.0.0.0/8'], exemptClients: [] });
  t.after(() => restricted.close());
  handler = restricted;
  const denied = await request(`${srv.url}/m/p/a.txt`);
  await denied.body.dump();
  assert.equal(denied.statusCode, 403);
});

test('in front of a site: only mirrorable responses are published; a caching node fetches verified bodies from mirrors', async (t) => {
  const origin = await listen((req, res) => {
    if (req.url === '/pub/a.txt') return void res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'max-age=60' }).end('public bytes');
    if (req.url === '/me') return void res.writeHead(200, { 'cache-control': 'private' }).end('mine');
    if (req.url === '/cookie') return void res.writeHead(200, { 'set-cookie': 'a=b' }).end('c');
    res.writeHead(404).end();
  });
  t.after(origin.close);
  const source = createUpstreamSource({ origin: origin.url, maxObjectSize: 1 << 20, paths: () => ['/pub/a.txt'] });
  t.after(() => source.close());
  assert.equal((await source.get('/pub/a.txt'))?.body.toString(), 'public bytes');
  assert.equal(await source.get('/me'), undefined);
  assert.equal(await source.get('/cookie'), undefined);
  assert.deepEqual(await source.list('/pub/', 10), ['/pub/a.txt']);

  const good = await listen((_req, res) => void res.writeHead(200).end('public bytes'));
  const evil = await listen((_req, res) => void res.writeHead(200).end('public bytez'));
  t.after(good.close);
  t.after(evil.close);
  const rep = createReputation();
  const r = await fetchVerifiedBody({ digest: sha256('public bytes'), mirrors: [{ url: `${evil.url}/a`, priority: 1 }, { url: `${good.url}/a`, priority: 2 }], maxSize: 1024, reputation: rep });
  assert.equal(r.body.toString(), 'public bytes');
  assert.equal(r.source, `${good.url}/a`);
  assert.ok(rep.isBanned(`${evil.url}/a`));
  await assert.rejects(fetchVerifiedBody({ digest: sha256('x'), mirrors: [{ url: `${evil.url}/a` }], maxSize: 1024, reputation: rep }), /No source delivered/);
});
