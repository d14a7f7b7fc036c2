import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { startOrigin } from '../../helpers/origin.js';
import { rawExchange, startNode } from '../../helpers/node.js';

const untilEnd = (s: string) => /\r\n\r\n/.test(s) && (/content-length: 0\r\n/i.test(s) || /\r\n\r\n[\s\S]+/.test(s));

test('forward proxy: absolute-form requests are fetched and cached (private destinations allowed by config)', async (t) => {
  const origin = await startOrigin((req, res) => { res.writeHead(200, { 'cache-control': 'max-age=60', 'content-length': '2' }); res.end('ok'); });
  const n = await startNode({ 'forward.allowPrivate': true });
  t.after(async () => { await n.stop(); await origin.close(); });
  const port = n.node.proxyAddress.port;
  const req = `GET ${origin.url}/fw HTTP/1.1\r\nHost: 127.0.0.1:${origin.port}\r\nConnection: close\r\n\r\n`;
  const a = await rawExchange(port, req);
  assert.match(a, /^HTTP\/1\.1 200 /);
  assert.match(a, /\r\n\r\nok$/);
  const b = await rawExchange(port, req);
  assert.match(b, /cache-status: peerweb-[^;]+; hit/i);
  assert.equal(origin.count('/fw'), 1);
});

test('forward proxy refuses loopback, private and link-local destinations in every spelling', async (t) => {
  const n = await startNode({});
  t.after(() => n.stop());
  const port = n.node.proxyAddress.port;
  const targets = [
    'http://127.0.0.1/', 'http://2130706433/', 'http://0177.0.0.1/', 'http://0x7f.1/', 'http://[::1]/',
    'http://[::ffff:127.0.0.1]/', 'http://user@127.0.0.1/', 'http://localhost/', 'http://10.1.2.3/',
    'http://192.168.0.1/', 'http://169.254.169.254/latest/meta-data/', 'http://[fe80::1]/', 'http://0.0.0.0/',
  ];
  for (const target of targets) {
    const r = await rawExchange(port, `GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    // userinfo in a request target is refused by the parser already (RFC 9112 forbids generating it).
    const expected = target.includes('@') ? /^HTTP\/1\.1 (400|403) / : /^HTTP\/1\.1 403 /;
    assert.match(r, expected, `${target} must be refused, got ${r.slice(0, 60)}`);
  }
  const c = await rawExchange(port, 'CONNECT 127.0.0.1:443 HTTP/1.1\r\nHost: 127.0.0.1:443\r\n\r\n', untilEnd);
  assert.match(c, /^HTTP\/1\.1 403 /);
  const p = await rawExchange(port, 'CONNECT example.com:25 HTTP/1.1\r\nHost: example.com:25\r\n\r\n', untilEnd);
  assert.match(p, /^HTTP\/1\.1 403 /, 'port 25 is not an allowed CONNECT port');
});

test('CONNECT tunnels bytes both ways to an allowed port', async (t) => {
  const echo = createServer((s) => s.pipe(s));
  await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
  const echoPort = (echo.address() as { port: number }).port;
  const n = await startNode({ 'forward.allowPrivate': true, 'forward.connectPorts': [echoPort] });
  t.after(async () => { await n.stop(); await new Promise((r) => echo.close(r)); });
  const got = await rawExchange(n.node.proxyAddress.port, `CONNECT 127.0.0.1:${echoPort} HTTP/1.1\r\nHost: 127.0.0.1:${echoPort}\r\n\r\nping-through-tunnel`, (s) => s.includes('ping-through-tunnel'));
  assert.match(got, /^HTTP\/1\.1 200 /);
  assert.ok(got.endsWith('ping-through-tunnel'));
});

test('a request that already passed through this node is refused as a loop', async (t) => {
  const n = await startNode({ 'forward.allowPrivate': true });
  t.after(() => n.stop());
  const name = n.node.config['proxy.name'];
  assert.match(name, /^peerweb-/, 'a node left on the default gets a distinct pseudonym');
  const r = await rawExchange(n.node.proxyAddress.port, `GET http://127.0.0.1:9/ HTTP/1.1\r\nHost: 127.0.0.1:9\r\nVia: 1.0 other, 1.1 ${name}\r\nConnection: close\r\n\r\n`);
  assert.match(r, /^HTTP\/1\.1 508 /);
});

test('a reverse proxy refuses ambiguous framing with 400 and closes; nothing reaches the origin', async (t) => {
  const origin = await startOrigin((req, res) => { res.end('x'); });
  const n = await startNode({ origin: origin.url });
  t.after(async () => { await n.stop(); await origin.close(); });
  const smuggle = 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /admin HTTP/1.1\r\nHost: a\r\n\r\n';
  const r = await rawExchange(n.node.proxyAddress.port, smuggle);
  assert.match(r, /^HTTP\/1\.1 400 /);
  assert.equal((r.match(/HTTP\/1\.1/g) ?? []).length, 1, 'exactly one response, then close');
  assert.equal(origin.count(), 0);
});
