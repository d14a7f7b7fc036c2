import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { buildArchive } from '../../../src/archive/index.js';
import { generatePublisherKey, publicKeyBase64 } from '../../../src/integrity/keys.js';
import { startOrigin } from '../../helpers/origin.js';
import { startNode } from '../../helpers/node.js';
import { sendRange } from '../../helpers/range-holder.js';

const SITE = fileURLToPath(new URL('../../fixtures/archive/site/', import.meta.url));
const HOST = 'www.example.com';

/** The fixture site as an archive of http://www.example.com, signed by `key`. */
function siteArchive(key: ReturnType<typeof generatePublisherKey>, staleIfUnverified = 3600): Buffer {
  return buildArchive({ dir: SITE, origin: `http://${HOST}`, prefix: '/', notBefore: Date.now() - 1000, validFor: 86_400_000, staleIfUnverified, key, routes: [{ pattern: '/search', handler: 'handlers/search.js' }] });
}

/** A reverse-proxy node for the site whose archive is at `${origin}${path}`, trusting `trusted`. */
function archiveNode(originUrl: string, path: string, trusted: ReturnType<typeof generatePublisherKey>) {
  return startNode({
    origins: [{ host: HOST, url: originUrl }],
    'archive.sites': [{ origin: `http://${HOST}`, prefix: '/', url: `${originUrl}${path}` }],
    'archive.pinnedKeys': [{ host: HOST, key: publicKeyBase64(trusted.publicKey) }],
  });
}

test('a caching node serves a site from its signed archive, dynamic pages included, with the origin stopped', async (t) => {
  const key = generatePublisherKey();
  const archive = siteArchive(key);
  const origin = await startOrigin((req, res) => {
    if (req.url === '/site.pwar') return sendRange(req, res, archive);
    res.writeHead(200, { 'cache-control': 'no-store' });
    res.end('from origin');
  });
  const n = await archiveNode(origin.url, '/site.pwar', key);
  t.after(async () => { await n.stop(); await origin.close(); });

  const page = await n.get('/search?q=caching', { host: HOST });
  assert.equal(page.status, 200);
  assert.match(page.text, /Results for caching/);
  assert.match(String(page.headers['cache-status']), /detail=local/);
  const index = await n.get('/', { host: HOST });
  assert.equal(index.status, 200);
  assert.ok(index.body.length > 0);
  await origin.close();
  const again = await n.get('/search?q=caching', { host: HOST });
  assert.equal(again.status, 200, 'the site keeps rendering with its origin stopped');
  assert.match(again.text, /Results for caching/);
});

test('an archive signed by another key is refused and the request falls through to the origin', async (t) => {
  const key = generatePublisherKey();
  const other = generatePublisherKey();
  const forged = siteArchive(other, 0);
  const origin = await startOrigin((req, res) => {
    if (req.url === '/forged.pwar') return sendRange(req, res, forged);
    res.writeHead(200, { 'cache-control': 'no-store' });
    res.end('from origin');
  });
  const n = await archiveNode(origin.url, '/forged.pwar', key);
  t.after(async () => { await n.stop(); await origin.close(); });
  const r = await n.get('/search?q=x', { host: HOST });
  assert.equal(r.text, 'from origin', 'unverifiable archive content is never served');
});

test('a small archive on a plain file server without Range support is fetched whole', async (t) => {
  const key = generatePublisherKey();
  const archive = siteArchive(key, 0);
  const origin = await startOrigin((req, res) => {
    const body = req.url === '/site.pwar' ? archive : Buffer.from('from origin');
    res.writeHead(200, { 'content-length': body.length });
    res.end(body);
  });
  const n = await archiveNode(origin.url, '/site.pwar', key);
  t.after(async () => { await n.stop(); await origin.close(); });
  const page = await n.get('/search?q=caching', { host: HOST });
  assert.match(page.text, /Results for caching/);
});
