import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AddressInfo } from 'node:net';
import { ARCHIVE_TAIL_READ, buildArchive, chooseFetchMode, httpRangeSource, openArchive, type KeyResolver } from '../../../src/archive/index.js';
import { generatePublisherKey } from '../../../src/integrity/keys.js';
import { isPeerwebError } from '../../../src/errors/index.js';
import { rangeHolder } from '../../helpers/range-holder.js';

const SITE = fileURLToPath(new URL('../../fixtures/archive/site/', import.meta.url));

test('partial retrieval: one entry of a large archive in at most 3 ranged requests and a small share of its bytes', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pw-partial-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  cpSync(SITE, dir, { recursive: true });
  mkdirSync(join(dir, 'media'));
  for (let i = 0; i < 200; i++) writeFileSync(join(dir, 'media', `blob-${String(i).padStart(3, '0')}.bin`), randomBytes(50_000));
  const key = generatePublisherKey();
  const trust: KeyResolver = { keysFor: async () => [key] };
  const bytes = buildArchive({ dir, origin: 'https://www.example.com', prefix: '/', notBefore: Date.now() - 1000, validFor: 86_400_000, key, routes: [{ pattern: '/search', handler: 'handlers/search.js' }] });
  const h = await rangeHolder(bytes);
  t.after(h.close);
  // The origin is not involved at all: the archive comes from a holder and pages render from it.
  const site = await openArchive(await httpRangeSource(h.url), trust);
  t.after(() => site.close());
  const res = await site.handle({ method: 'GET', url: 'https://www.example.com/media/blob-123.bin', headers: [] });
  assert.equal(res?.status, 200);
  assert.equal(res!.body.length, 50_000);
  assert.ok(h.stats.requests <= 3, `${h.stats.requests} requests`);
  // The tail (end record and signed manifest), one index shard and the entry: no central directory, no list of every file.
  assert.ok(h.stats.bytes <= 50_000 + ARCHIVE_TAIL_READ + 16 * 1024, `${h.stats.bytes} of ${bytes.length} bytes`);
  assert.ok(site.manifest.index.length > 1, 'the index is split into shards');
  const search = await site.handle({ method: 'GET', url: 'https://www.example.com/search?q=signed', headers: [] });
  assert.equal(search?.status, 200);
  assert.match(search!.body.toString(), /Signed archives/);
});

test('a holder that answers ranges wrongly is refused', async (t) => {
  const server = createServer((req, res) => { res.writeHead(200); res.end('no ranges here'); });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }));
  await assert.rejects(httpRangeSource(`http://127.0.0.1:${(server.address() as AddressInfo).port}/x.pwar`), (e) => isPeerwebError(e, 'PW_ERR_UPSTREAM_BAD_RESPONSE'));
});

test('fetch policy: small archives whole, large ones by range until they are popular', () => {
  const policy = { fullFetchMaxSize: 64 * 1024 ** 2, fullFetchAfterRequests: 100 };
  assert.equal(chooseFetchMode(1024, 0, policy), 'full');
  assert.equal(chooseFetchMode(1024 ** 3, 10, policy), 'partial');
  assert.equal(chooseFetchMode(1024 ** 3, 100, policy), 'full');
  assert.equal(chooseFetchMode(1024 ** 3, 1e9, { ...policy, fullFetchAfterRequests: 0 }), 'partial');
});
