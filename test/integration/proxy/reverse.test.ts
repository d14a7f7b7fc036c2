import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startOrigin, waitFor } from '../../helpers/origin.js';
import { startNode } from '../../helpers/node.js';

const ONE_K = Buffer.alloc(1024, 'a');

test('reverse proxy: a miss is fetched once, then served from the cache with Age and Cache-Status', async (t) => {
  const origin = await startOrigin((req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'max-age=60', etag: '"v1"' });
    res.end(ONE_K);
  });
  const n = await startNode({ origin: origin.url });
  t.after(async () => { await n.stop(); await origin.close(); });

  const a = await n.get('/one');
  assert.equal(a.status, 200);
  assert.deepEqual(a.body, ONE_K);
  assert.match(String(a.headers['cache-status']), /fwd=uri-miss/);
  assert.match(String(a.headers.via), /1\.1 peerweb-/);
  await waitFor(() => n.node.store.stats().entries === 1, 'the entry to be stored');
  const b = await n.get('/one');
  assert.equal(b.status, 200);
  assert.deepEqual(b.body, ONE_K);
  assert.match(String(b.headers['cache-status']), /; hit/);
  assert.ok(Number(b.headers.age) >= 0);
  assert.equal(origin.count('/one'), 1);
  assert.equal(n.node.metrics.get('peerweb_requests_total', 'HIT'), 1);
  assert.equal(n.node.metrics.get('peerweb_requests_total', 'MISS'), 1);
  const metrics = await (await fetch(`${n.admin}/metrics`)).text();
  assert.match(metrics, /peerweb_requests_total\{result="HIT"\} 1/);
});

test('flash crowd: 100 simultaneous requests for a cold object make one origin request and are streamed as bytes arrive', async (t) => {
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  const origin = await startOrigin(async (req, res) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'cache-control': 'max-age=60', 'content-length': String(2 * 65536) });
    res.write(Buffer.alloc(65536, 1));
    await released;
    res.end(Buffer.alloc(65536, 2));
  });
  const n = await startNode({ origin: origin.url });
  t.after(async () => { await n.stop(); await origin.close(); });

  const { request, Agent } = await import('undici');
  const agent = new Agent({ connections: 200 });
  t.after(() => agent.close());
  const firstBytes: number[] = [];
  const all = Array.from({ length: 100 }, async () => {
    const res = await request(`${n.base}/big`, { dispatcher: agent });
    const parts: Buffer[] = [];
    let got = 0;
    let counted = false;
    for await (const c of res.body) {
      parts.push(c as Buffer);
      got += (c as Buffer).length;
      if (got >= 65536 && !counted) {
        counted = true;
        firstBytes.push(got);
      }
    }
    return Buffer.concat(parts);
  });
  // Every client receives the first half while the origin is still holding back the second.
  await waitFor(() => firstBytes.length >= 100, '100 clients to receive the first 64 KiB before the origin finishes', 10_000);
  release();
  const bodies = await Promise.all(all);
  for (const b of bodies) {
    assert.equal(b.length, 131072);
    assert.equal(b[0], 1);
    assert.equal(b[131071], 2);
  }
  assert.equal(origin.count('/big'), 1);
  assert.equal(n.node.metrics.get('peerweb_collapsed_total'), 99);
});

test('revalidation: a stale entry with an ETag is revalidated with If-None-Match and a 304 refreshes it', async (t) => {
  let version = 0;
  const origin = await startOrigin((req, res) => {
    version++;
    if (req.headers['if-none-match'] === '"e1"') {
      res.writeHead(304, { etag: '"e1"', 'cache-control': 'max-age=0', 'x-version': String(version) });
      return res.end();
    }
    res.writeHead(200, { etag: '"e1"', 'cache-control': 'max-age=0', 'content-type': 'text/plain', 'x-version': String(version) });
    res.end('body-one');
  });
  const n = await startNode({ origin: origin.url });
  t.after(async () => { await n.stop(); await origin.close(); });
  assert.equal((await n.get('/r')).text, 'body-one');
  await waitFor(() => n.node.store.stats().entries === 1, 'the entry to be stored');
  const b = await n.get('/r');
  assert.equal(b.status, 200);
  assert.equal(b.text, 'body-one');
  assert.equal(b.headers['x-version'], '2', '304 fields update the stored response');
  assert.equal(origin.seen[1]?.headers['if-none-match'], '"e1"');
  assert.equal(n.node.metrics.get('peerweb_requests_total', 'REFRESH_HIT'), 1);
});

test('Vary: variants are stored apart and chosen by the request fields', async (t) => {
  const origin = await startOrigin((req, res) => {
    res.writeHead(200, { vary: 'Accept-Language', 'cache-control': 'max-age=60', 'content-type': 'text/plain' });
    res.end(`lang=${req.headers['accept-language'] ?? 'none'}`);
  });
  const n = await startNode({ origin: origin.url });
  t.after(async () => { await n.stop(); await origin.close(); });
  assert.equal((await n.get('/v', { 'accept-language': 'fr' })).text, 'lang=fr');
  await waitFor(() => n.node.store.stats().entries === 1, 'first variant stored');
  assert.equal((await n.get('/v', { 'accept-language': 'de' })).text, 'lang=de');
  await waitFor(() => n.node.store.stats().entries === 2, 'second variant stored');
  assert.equal((await n.get('/v', { 'accept-language': 'fr' })).text, 'lang=fr');
  assert.equal((await n.get('/v', { 'accept-language': 'de' })).text, 'lang=de');
  assert.equal(origin.count('/v'), 2);
});

test('no-store, private and Set-Cookie responses are not served to others from the cache', async (t) => {
  const origin = await startOrigin((req, res) => {
    const cc = req.url === '/nostore' ? 'no-store' : req.url === '/private' ? 'private, max-age=60' : 'max-age=60';
    res.writeHead(200, { 'cache-control': cc, ...(req.url === '/cookie' ? { 'set-cookie': 'session=1' } : {}) });
    res.end(req.url);
  });
  const n = await startNode({ origin: origin.url });
  t.after(async () => { await n.stop(); await origin.close(); });
  for (const p of ['/nostore', '/private']) {
    await n.get(p);
    await n.get(p);
    assert.equal(origin.count(p), 2, `${p} must go to the origin each time`);
  }
});

test('unsafe methods invalidate the stored target; POST bodies reach the origin', async (t) => {
  const origin = await startOrigin((req, res, body) => {
    if (req.method === 'POST') { res.writeHead(201, { location: '/other' }); return res.end(`got ${body.toString()}`); }
    res.writeHead(200, { 'cache-control': 'max-age=600' });
    res.end(`v${origin.seen.filter((r) => r.method === 'GET' && r.url === req.url).length}`);
  });
  const n = await startNode({ origin: origin.url });
  t.after(async () => { await n.stop(); await origin.close(); });
  assert.equal((await n.get('/item')).text, 'v1');
  assert.equal((await n.get('/other')).text, 'v1');
  await waitFor(() => n.node.store.stats().entries === 2, 'entries stored');
  assert.equal((await n.get('/item')).text, 'v1');
  const p = await n.get('/item', { 'content-type': 'text/plain' }, 'POST', 'hello');
  assert.equal(p.status, 201);
  assert.equal(p.text, 'got hello');
  assert.equal((await n.get('/item')).text, 'v2', 'the POST target was invalidated');
  assert.equal((await n.get('/other')).text, 'v2', 'the same-origin Location was invalidated');
});

test('ranges and conditional requests are answered from the cached body', async (t) => {
  const body = Buffer.from('0123456789abcdefghij');
  const origin = await startOrigin((req, res) => {
    res.writeHead(200, { 'cache-control': 'max-age=600', etag: '"r1"', 'content-type': 'text/plain', 'last-modified': new Date(Date.now() - 3600e3).toUTCString() });
    res.end(body);
  });
  const n = await startNode({ origin: origin.url });
  t.after(async () => { await n.stop(); await origin.close(); });
  await n.get('/f');
  await waitFor(() => n.node.store.stats().entries === 1, 'stored');
  const r = await n.get('/f', { range: 'bytes=2-5' });
  assert.equal(r.status, 206);
  assert.equal(r.text, '2345');
  assert.equal(r.headers['content-range'], 'bytes 2-5/20');
  const m = await n.get('/f', { range: 'bytes=0-1,-2' });
  assert.equal(m.status, 206);
  assert.match(String(m.headers['content-type']), /^multipart\/byteranges; boundary=/);
  assert.match(m.text, /Content-Range: bytes 0-1\/20\r\n\r\n01\r\n/);
  assert.match(m.text, /Content-Range: bytes 18-19\/20\r\n\r\nij\r\n/);
  const u = await n.get('/f', { range: 'bytes=50-60' });
  assert.equal(u.status, 416);
  assert.equal(u.headers['content-range'], 'bytes */20');
  const c = await n.get('/f', { 'if-none-match': '"r1"' });
  assert.equal(c.status, 304);
  assert.equal(c.body.length, 0);
  const ir = await n.get('/f', { range: 'bytes=0-0', 'if-range': '"other"' });
  assert.equal(ir.status, 200, 'If-Range mismatch serves the whole body');
  assert.equal(origin.count('/f'), 1);
});

test('stale-if-error: a stale entry is served when the origin fails', async (t) => {
  let fail = false;
  const origin = await startOrigin((req, res) => {
    if (fail) { res.writeHead(503); return res.end('down'); }
    res.writeHead(200, { 'cache-control': 'max-age=0, stale-if-error=600' });
    res.end('good');
  });
  const n = await startNode({ origin: origin.url });
  t.after(async () => { await n.stop(); await origin.close(); });
  assert.equal((await n.get('/s')).text, 'good');
  await waitFor(() => n.node.store.stats().entries === 1, 'stored');
  fail = true;
  const r = await n.get('/s');
  assert.equal(r.status, 200);
  assert.equal(r.text, 'good');
  assert.equal(n.node.metrics.get('peerweb_requests_total', 'STALE'), 1);
});

test('malformed origin responses become 502 and no byte of them is forwarded', async (t) => {
  const { createServer } = await import('node:net');
  const raw = createServer((s) => s.once('data', () => s.end('HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nevil!\r\n0\r\n\r\n')));
  await new Promise<void>((r) => raw.listen(0, '127.0.0.1', r));
  const port = (raw.address() as { port: number }).port;
  const n = await startNode({ origin: `http://127.0.0.1:${port}` });
  t.after(async () => { await n.stop(); await new Promise((r) => raw.close(r)); });
  const r = await n.get('/x');
  assert.equal(r.status, 502);
  assert.ok(!r.text.includes('evil'));
});

test('purge API removes by URL, by prefix and by tag', async (t) => {
  const origin = await startOrigin((req, res) => {
    res.writeHead(200, { 'cache-control': 'max-age=600', 'surrogate-key': req.url?.startsWith('/t/') ? 'tagged' : 'other' });
    res.end(req.url);
  });
  const n = await startNode({ origin: origin.url });
  t.after(async () => { await n.stop(); await origin.close(); });
  for (const p of ['/a/1', '/a/2', '/b/1', '/t/1', '/t/2']) await n.get(p);
  await waitFor(() => n.node.store.stats().entries === 5, 'stored');
  const purge = async (q: string) => (await (await fetch(`${n.admin}/purge?${q}`, { method: 'POST' })).json()) as { removed: number };
  assert.equal((await purge(`url=${encodeURIComponent(`${origin.url}/b/1`)}`)).removed, 1);
  assert.equal((await purge(`prefix=${encodeURIComponent(`${origin.url}/a/`)}`)).removed, 2);
  assert.equal((await purge('tag=tagged')).removed, 2);
  assert.equal(n.node.store.stats().entries, 0);
  assert.equal((await fetch(`${n.admin}/purge`, { method: 'POST' })).status, 400);
});

test('the disk tier survives a restart', async (t) => {
  const origin = await startOrigin((req, res) => { res.writeHead(200, { 'cache-control': 'max-age=600' }); res.end('persisted'); });
  t.after(() => origin.close());
  const first = await startNode({ origin: origin.url }, { keepData: true });
  await first.get('/p');
  await waitFor(() => first.node.store.stats().entries === 1, 'stored');
  await first.stop();
  const second = await startNode({ origin: origin.url }, { dataDir: first.dataDir });
  t.after(() => second.stop());
  const r = await second.get('/p');
  assert.equal(r.text, 'persisted');
  assert.equal(origin.count('/p'), 1);
});

test('HEAD misses are fetched as GET and stored; unkeyed request headers are not forwarded', async (t) => {
  const origin = await startOrigin((req, res) => { res.writeHead(200, { 'cache-control': 'max-age=600', 'content-type': 'text/plain' }); res.end('headbody'); });
  const n = await startNode({ origin: origin.url });
  t.after(async () => { await n.stop(); await origin.close(); });
  const h = await n.get('/h', { 'x-forwarded-host': 'evil.example', 'x-original-url': '/admin' }, 'HEAD');
  assert.equal(h.status, 200);
  assert.equal(h.body.length, 0);
  assert.equal(origin.seen[0]?.method, 'GET');
  assert.equal(origin.seen[0]?.headers['x-forwarded-host'], undefined);
  assert.equal(origin.seen[0]?.headers['x-original-url'], undefined);
  await waitFor(() => n.node.store.stats().entries === 1, 'stored');
  assert.equal((await n.get('/h')).text, 'headbody');
  assert.equal(origin.count('/h'), 1);
});

test('103 Early Hints from the origin reach the client on a miss and are never replayed from the cache', async (t) => {
  const origin = await startOrigin((req, res) => {
    res.writeEarlyHints({ link: '</style.css>; rel=preload; as=style' });
    res.writeHead(200, { 'cache-control': 'max-age=600', 'content-length': '4' });
    res.end('page');
  });
  const n = await startNode({ origin: origin.url });
  t.after(async () => { await n.stop(); await origin.close(); });
  const { rawExchange } = await import('../../helpers/node.js');
  const req = 'GET /hints HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n';
  const first = await rawExchange(n.node.proxyAddress.port, req);
  assert.match(first, /^HTTP\/1\.1 103 Early Hints\r\nlink: <\/style\.css>; rel=preload; as=style\r\n\r\nHTTP\/1\.1 200 OK\r\n/i);
  assert.ok(first.endsWith('\r\n\r\npage'));
  await waitFor(() => n.node.store.stats().entries === 1, 'stored');
  const second = await rawExchange(n.node.proxyAddress.port, req);
  assert.match(second, /^HTTP\/1\.1 200 OK\r\n/, 'a hit carries no interim response');
  const old = await rawExchange(n.node.proxyAddress.port, 'GET /hints2 HTTP/1.0\r\nHost: x\r\n\r\n');
  assert.match(old, /^HTTP\/1\.1 200 OK\r\n/, 'HTTP/1.0 clients get no 1xx');
});

test('a range asked on a miss is streamed from the fetch as its bytes arrive; an object too large to store has its range forwarded', async (t) => {
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  const half = 64 * 1024;
  const origin = await startOrigin(async (req, res) => {
    if (req.url === '/huge') {
      // Larger than cache.maxObjectSize: never stored, so a range must not wait for the whole body.
      const size = 4 * 1024 * 1024;
      const m = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '');
      if (m) {
        const [a, b] = [Number(m[1]), Number(m[2])];
        res.writeHead(206, { 'cache-control': 'max-age=60', 'content-range': `bytes ${a}-${b}/${size}`, 'content-length': String(b - a + 1) });
        res.end(Buffer.alloc(b - a + 1, 7));
        return;
      }
      res.writeHead(200, { 'cache-control': 'max-age=60', 'content-length': String(size) });
      res.write(Buffer.alloc(1024, 7));
      return; // never finishes: a client waiting for the whole body would time out
    }
    res.writeHead(200, { 'cache-control': 'max-age=60', 'content-length': String(2 * half), etag: '"r1"' });
    res.write(Buffer.alloc(half, 1));
    await released;
    res.end(Buffer.alloc(half, 2));
  });
  const n = await startNode({ origin: origin.url, cache: { maxObjectSize: 1024 * 1024 } });
  t.after(async () => { release(); await n.stop(); await origin.close(); });

  // The first half has arrived, the second is held back: a range inside the first half is answered now.
  const first = await n.get('/video', { range: 'bytes=100-199' });
  assert.equal(first.status, 206);
  assert.equal(first.headers['content-range'], `bytes 100-199/${2 * half}`);
  assert.deepEqual(first.body, Buffer.alloc(100, 1));
  // A range across both halves is answered once the second arrives, from the same single origin fetch.
  const across = n.get('/video', { range: `bytes=${half - 2}-${half + 1}` });
  release();
  const r = await across;
  assert.equal(r.status, 206);
  assert.deepEqual([...r.body], [1, 1, 2, 2]);
  assert.equal(origin.count('/video'), 1);
  assert.ok(!('range' in (origin.seen[0]?.headers ?? {})), 'the cache fetched the whole object to store it');
  await waitFor(() => n.node.store.stats().entries === 1, 'the whole object to be stored');
  const hit = await n.get('/video', { range: 'bytes=0-0' });
  assert.match(String(hit.headers['cache-status']), /; hit/);

  const huge = await n.get('/huge', { range: 'bytes=10-19' });
  assert.equal(huge.status, 206);
  assert.equal(huge.headers['content-range'], `bytes 10-19/${4 * 1024 * 1024}`);
  assert.deepEqual(huge.body, Buffer.alloc(10, 7));
  assert.equal(origin.seen.filter((s) => s.url === '/huge' && s.headers.range === 'bytes=10-19').length, 1, 'the range was forwarded');
});
