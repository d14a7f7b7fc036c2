import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { fieldReader, generatePublisherKey } from '../../../src/integrity/index.js';
import { parseSingleRange, verifyNotice } from '../../../src/mirror/index.js';
import type { TestNode } from '../../helpers/node.js';
import { waitFor } from '../../helpers/origin.js';
import { startPublisher } from '../../helpers/publisher.js';

interface MirrorMap { mirrors: { base: string }[] }

/** A mirror of its own making: honest until `bad` is set, then flips a byte of every answer; records what it is sent. */
async function startTurncoat(files: Record<string, Buffer>) {
  const state = { bad: false, gets: [] as string[], notices: [] as { headers: IncomingHttpHeaders; body: Buffer }[] };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://x');
      if (req.method === 'POST' && url.pathname === '/.well-known/peerweb/delisted') {
        state.notices.push({ headers: req.headers, body: Buffer.concat(chunks) });
        return void res.writeHead(202).end();
      }
      const body = files[url.pathname.replace(/^\/m/, '')];
      if (!body || (req.method !== 'GET' && req.method !== 'HEAD')) return void res.writeHead(404).end();
      state.gets.push(`${req.method} ${url.pathname}`);
      const r = parseSingleRange(req.headers.range, body.length);
      const range = r && r !== 'unsatisfiable' ? r : { start: 0, end: body.length - 1 };
      const part = Buffer.from(body.subarray(range.start, range.end + 1));
      if (state.bad && part.length) part[part.length >> 1] = (part[part.length >> 1] ?? 0) ^ 0x55;
      res.writeHead(r && r !== 'unsatisfiable' ? 206 : 200, { 'content-length': String(part.length), ...(r && r !== 'unsatisfiable' ? { 'content-range': `bytes ${range.start}-${range.end}/${body.length}` } : {}) });
      res.end(req.method === 'HEAD' ? undefined : part);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, base: `${url}/m/`, state, close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }) };
}

async function metricsText(node: TestNode): Promise<string> {
  return (await fetch(`${node.admin}/metrics`)).text();
}

test('one failed audit delists a mirror everywhere at once: map, the origin node\'s cached links, and a caching node fed a stale list by a cache in between', async (t) => {
  const files: Record<string, Buffer> = { '/a.bin': randomBytes(200_000), '/b.bin': randomBytes(150_000), '/c.bin': randomBytes(120_000) };
  const liar = await startTurncoat(files);
  t.after(() => liar.close());
  const { origin, key, originKey: pub, start } = await startPublisher(t, files, { 'mirror.delistCooldown': '1h' });
  const offer = (base: string) => fetch(`${origin.base}/.well-known/peerweb/offers`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ base, prefixes: ['/'] }) });
  assert.equal((await offer(liar.base)).status, 202, 'the turncoat is audited honest and listed first (priority 1)');
  const honest = await start({ 'mirror.mirror': [origin.base], 'mirror.originKey': pub });
  const mapUrl = `${origin.base}/.well-known/peerweb/mirrors`;
  const listed = async () => ((await (await fetch(mapUrl)).json()) as MirrorMap).mirrors.map((m) => m.base);
  await waitFor(async () => (await listed()).length === 2, 'both mirrors to be listed', 20_000);
  assert.equal((await listed())[0], liar.base);

  // A shared cache in between (any HTTP cache), and behind it a caching node that takes misses from mirrors.
  const middle = await start({ origin: origin.base });
  const cache = await start({ origin: middle.base, 'mirror.fetchFromMirrors': true, 'mirror.originKey': pub });
  const a = await cache.get('/a.bin');
  assert.ok(a.body.equals(files['/a.bin'] as Buffer));
  assert.ok(liar.state.gets.includes('GET /m/a.bin'), 'the caching node used the turncoat while it was honest');
  // It follows the origin's notices from its first mirrored answer: fetched once, then subscribed for pushes.
  await waitFor(async () => /peerweb_mirror_notice_subscriptions 1\b/.test(await metricsText(cache)), 'the caching node to be subscribed');
  assert.equal(cache.node.metrics.get('peerweb_mirror_notices_total', 'applied'), 1, 'the current (empty) notice was polled and applied');

  // Stored answers that still name the turncoat: the origin node's own cache and the cache in between.
  const links = (h: Record<string, unknown>) => String(h.link ?? '');
  assert.match(links((await origin.get('/b.bin', { 'list-mirrors': '?1' })).headers), new RegExp(liar.base));
  assert.match(links((await middle.get('/b.bin', { 'list-mirrors': '?1' })).headers), new RegExp(liar.base));
  assert.match(links((await middle.get('/b.bin', { 'list-mirrors': '?1' })).headers), new RegExp(liar.base), 'the middle serves its stored copy');

  // The turncoat turns; a client reports it to the honest mirror node, which forwards the report to the origin.
  liar.state.bad = true;
  const report = await honest.get('/.well-known/peerweb/reports', { 'content-type': 'application/json' }, 'POST', JSON.stringify({ url: '/a.bin', mirror: `${liar.base}a.bin`, range: { start: 0, end: 4095 } }));
  assert.equal(report.status, 202, report.text);
  assert.deepEqual(JSON.parse(report.text), { audited: true, verdict: 'fail', state: 'delisted' });

  // At once: the map, and the origin node's cached answers with links (purged), no longer name it.
  assert.deepEqual(await listed(), [`${honest.base}/m/${new URL(origin.base).host}/`]);
  const fresh = links((await origin.get('/b.bin', { 'list-mirrors': '?1' })).headers);
  assert.doesNotMatch(fresh, new RegExp(liar.base));
  assert.match(fresh, /rel=duplicate/);
  // The cache in between still hands out the old list (it is not a peerweb node and was not told) …
  assert.match(links((await middle.get('/b.bin', { 'list-mirrors': '?1' })).headers), new RegExp(liar.base));
  // … but the caching node got the signed notice (pushed), and no longer uses the liar whatever the list says.
  await waitFor(() => cache.node.metrics.get('peerweb_mirror_notices_total', 'applied') === 2, 'the pushed notice to be applied');
  const before = liar.state.gets.length;
  const b = await cache.get('/b.bin');
  assert.equal(b.status, 200);
  assert.ok(b.body.equals(files['/b.bin'] as Buffer));
  assert.deepEqual(liar.state.gets.slice(before), [], 'not one request to the delisted mirror');
  await waitFor(() => cache.node.metrics.get('peerweb_requests_total', 'MIRROR_HIT') === 2, 'the miss to be served by the honest mirror');

  // The delisted mirror got the notice too; it is signed by the publisher key and names its host.
  await waitFor(() => liar.state.notices.length > 0, 'the notice to reach the delisted mirror');
  const n = liar.state.notices[0] as { headers: IncomingHttpHeaders; body: Buffer };
  const notice = await verifyNotice(fieldReader(n.headers as Record<string, string>), n.body, 'request', async () => [key]);
  assert.deepEqual(notice.mirrors.map((m) => m.authority), [liar.url]);
  // Every base on its host is out, and it cannot offer itself again during the cool-down.
  const again = await offer(liar.base);
  assert.equal(again.status, 403);
  assert.match(await again.text(), /delisted until/);
  assert.equal((await offer(`${liar.url}/other/`)).status, 403);
  // The notice is also there to poll, signed as a response.
  const polled = await fetch(`${origin.base}/.well-known/peerweb/delisted`);
  const body = Buffer.from(await polled.arrayBuffer());
  const p = await verifyNotice(fieldReader(Object.fromEntries(polled.headers)), body, 'response', async () => [key]);
  assert.deepEqual(p.mirrors.map((m) => m.authority), [liar.url]);
  assert.ok(p.seq > 0);
});

test('delisting notices: a forged, tampered or replayed notice is refused by a node; reports go to the origin it serves', async (t) => {
  const { origin, key, originKey, start } = await startPublisher(t, { 'a.txt': 'a' });
  const cache = await start({ origin: origin.base, 'mirror.fetchFromMirrors': true, 'mirror.originKey': originKey });
  const { buildNotice, signNotice } = await import('../../../src/mirror/index.js');
  const liar = { authority: 'http://127.0.0.1:9', bases: ['http://127.0.0.1:9/m/'], reason: 'r', at: Date.now(), until: Date.now() + 60_000 };
  const post = (s: { body: Buffer; headers: Record<string, string> }) => cache.get('/.well-known/peerweb/delisted', s.headers, 'POST', s.body.toString());
  const forged = signNotice(buildNotice(new URL(origin.base).origin, Date.now(), [liar], Date.now()), generatePublisherKey(), 'request');
  const r1 = await post(forged);
  assert.equal(r1.status, 403);
  assert.match(r1.text, /PW_ERR_SIGNATURE_INVALID/);
  const good = signNotice(buildNotice(new URL(origin.base).origin, 1000, [liar], Date.now()), key, 'request');
  assert.deepEqual(JSON.parse((await post(good)).text), { applied: true });
  const older = signNotice(buildNotice(new URL(origin.base).origin, 999, [], Date.now()), key, 'request');
  assert.deepEqual(JSON.parse((await post(older)).text), { applied: false }, 'an older seq never replaces a newer notice');
  assert.deepEqual(JSON.parse((await post(good)).text), { applied: false }, 'nor does the same one again');
  assert.equal(cache.node.metrics.get('peerweb_mirror_notices_total', 'refused'), 1);
  assert.equal(cache.node.metrics.get('peerweb_mirror_notices_total', 'stale'), 2);
  const tampered = { ...good, body: Buffer.from(good.body.toString().replace('"seq":1000', '"seq":2000')) };
  assert.equal((await post(tampered)).status, 403);
  const elsewhere = await cache.get('/.well-known/peerweb/reports', { 'content-type': 'application/json' }, 'POST', JSON.stringify({ url: 'http://elsewhere.example/a', mirror: 'http://m.example/a' }));
  assert.equal(elsewhere.status, 202, 'a node with one origin forwards every report to it');
  assert.deepEqual(JSON.parse(elsewhere.text), { audited: false }, 'the origin knows no such mirror: nothing to audit');
});
