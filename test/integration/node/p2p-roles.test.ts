import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { getVerified } from '../../../src/client/index.js';
import { waitFor } from '../../helpers/origin.js';
import { mirrorsListed, startPublisher } from '../../helpers/publisher.js';

test('peerweb start roles: a published folder, two mirror nodes that sync and offer themselves, and a verifying client served by them', async (t) => {
  const big = randomBytes(3 * 1024 * 1024 + 17);
  const { origin, key, originKey, tmp, start } = await startPublisher(t, { 'files/big.bin': big, 'index.html': '<h1>hello</h1>' }, { 'mirror.pieceThreshold': '1MiB', 'mirror.pieceSize': '256KiB' });
  const page = await origin.get('/index.html');
  assert.equal(page.text, '<h1>hello</h1>');
  assert.match(String(page.headers['repr-digest']), /^sha-256=:/, 'the origin front adds Repr-Digest');
  const m1 = await start({ 'mirror.mirror': [origin.base], 'mirror.originKey': originKey });
  await start({ 'mirror.mirror': [origin.base], 'mirror.originKey': originKey });
  await waitFor(async () => (await mirrorsListed(origin)).length === 2, 'both mirrors to be listed by the origin', 20_000);

  // A mirror serves the exact bytes on its own URL (through its cache).
  const copy = await m1.get(`/m/${new URL(origin.base).host}/files/big.bin`);
  assert.equal(copy.status, 200);
  assert.ok(copy.body.equals(big));

  const out = join(tmp, 'out.bin');
  const result = await getVerified({ url: `${origin.base}/files/big.bin`, out, originKeys: [key] });
  assert.ok(readFileSync(out).equals(big));
  const fromMirrors = Object.entries(result.bytesFrom).filter(([src]) => !src.startsWith(origin.base)).reduce((a, [, n]) => a + n, 0);
  assert.ok(fromMirrors > 0, `mirrors served verified bytes: ${JSON.stringify(result.bytesFrom)}`);
  assert.deepEqual(result.liars, []);
});

test('a mirror node refuses outside clients beyond its rate with 429 and Retry-After', async (t) => {
  const { origin, originKey, start } = await startPublisher(t, { 'a.txt': 'a' });
  // Loopback is exempt by default; exempt nothing so the test client counts as an outsider.
  const mirror = await start({ 'mirror.mirror': [origin.base], 'mirror.originKey': originKey, 'mirror.rate': 1, 'mirror.burst': 2, 'mirror.exemptClients': [] });
  const codes: number[] = [];
  let retryAfter: string | undefined;
  for (let i = 0; i < 5; i++) {
    const r = await mirror.get(`/m/${new URL(origin.base).host}/a.txt`);
    codes.push(r.status);
    if (r.status === 429) retryAfter = String(r.headers['retry-after']);
  }
  assert.ok(codes.includes(429), `codes ${codes.join(',')}`);
  assert.match(retryAfter ?? '', /^\d+$/);
});

test('a caching node with fetch-from-mirrors takes a miss from the mirrors, verified, and the origin sends headers only', async (t) => {
  const file = randomBytes(2 * 1024 * 1024);
  const { origin, originKey, start } = await startPublisher(t, { 'file.bin': file });
  await start({ 'mirror.mirror': [origin.base], 'mirror.originKey': originKey });
  await waitFor(async () => (await mirrorsListed(origin)).length === 1, 'the mirror to be listed', 20_000);
  const cache = await start({ origin: origin.base, 'mirror.fetchFromMirrors': true });
  const before = origin.node.metrics.get('peerweb_client_bytes_sent_total');
  const r = await cache.get('/file.bin');
  assert.equal(r.status, 200);
  assert.ok(r.body.equals(file));
  assert.equal(r.headers.link, undefined, 'mirror links are not stored for everyone');
  // Counted when the response is finished on our side, which may come just after the client has every byte.
  await waitFor(() => cache.node.metrics.get('peerweb_requests_total', 'MIRROR_HIT') === 1, 'the request to be counted as MIRROR_HIT');
  const sent = origin.node.metrics.get('peerweb_client_bytes_sent_total') - before;
  assert.ok(sent < file.length / 10, `the origin sent ${sent} body bytes for a ${file.length}-byte file`);
  assert.ok((await cache.get('/file.bin')).body.equals(file), 'then served from the cache');
});
