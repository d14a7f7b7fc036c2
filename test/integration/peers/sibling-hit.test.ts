// A real node with a stand-in sibling (ICP endpoint + HTTP server): sibling fetches are only-if-cached.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, request, type IncomingHttpHeaders } from 'node:http';
import { createSocket } from 'node:dgram';
import { startNode } from '../../helpers/node.js';
import { startOrigin } from '../../helpers/origin.js';
import { createIcpEndpoint } from '../../../src/peers/index.js';

const SIBLING = '127.0.0.2';

async function freeUdpPort(host: string): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, host, r));
  const { port } = s.address();
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** GET an absolute URL through the forward proxy on 127.0.0.1:port. */
function proxyGet(port: number, url: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: url, headers: { host: new URL(url).host }, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { text += d; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('a sibling is asked with only-if-cached; its 504 (the ICP HIT did not hold) sends us direct without marking it dead', async (t) => {
  const origin = await startOrigin((req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'public, max-age=600' });
    res.end(`origin ${req.url}`);
  });
  t.after(() => origin.close());
  // The stand-in sibling says HIT to every ICP query but holds only /held.
  const icp = await createIcpEndpoint({ host: SIBLING, port: 0, lookup: () => 'hit' });
  t.after(() => icp.close());
  const asked: IncomingHttpHeaders[] = [];
  const http = createServer((req, res) => {
    asked.push(req.headers);
    const onlyIfCached = /only-if-cached/.test(String(req.headers['cache-control']));
    if (new URL(req.url ?? '', 'http://x').pathname === '/held') {
      res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'public, max-age=600' });
      res.end('from sibling');
    } else if (onlyIfCached) {
      res.writeHead(504, { 'content-type': 'text/plain' });
      res.end('not cached');
    } else {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('sibling fetched a miss for us');
    }
  });
  await new Promise<void>((r) => http.listen(0, SIBLING, r));
  t.after(() => new Promise<void>((r) => { http.closeAllConnections(); http.close(() => r()); }));
  const httpPort = (http.address() as { port: number }).port;

  const node = await startNode({
    'cache.disk': 0, 'forward.allowPrivate': true, 'peers.healthInterval': 0,
    'peers.icp': `127.0.0.1:${await freeUdpPort('127.0.0.1')}`,
    'peers.siblings': `${SIBLING}:${httpPort}:${icp.address.port}`,
  });
  t.after(() => node.stop());

  const held = await proxyGet(node.node.proxyAddress.port, `${origin.url}/held`);
  assert.equal(held.text, 'from sibling');
  assert.equal(node.node.metrics.get('peerweb_requests_total', 'SIBLING_HIT'), 1);
  assert.equal(origin.count('/held'), 0);

  const stale = await proxyGet(node.node.proxyAddress.port, `${origin.url}/gone`);
  assert.equal(stale.status, 200);
  assert.equal(stale.text, 'origin /gone');
  assert.equal(origin.count('/gone'), 1, 'we went to the origin ourselves');
  assert.equal(asked.length, 2);
  for (const h of asked) assert.match(String(h['cache-control']), /only-if-cached/);
  assert.equal(node.node.metrics.get('peerweb_requests_total', 'SIBLING_HIT'), 1);
  const health = await (await fetch(`${node.admin}/health`)).json() as { peers: Array<{ state: string; failures: number }> };
  assert.equal(health.peers[0]?.state, 'alive');
  assert.equal(health.peers[0]?.failures, 0);
});

test('a parent answering 5xx is reported failed and the next choice (direct) serves; the node keeps running', async (t) => {
  const origin = await startOrigin((req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'public, max-age=600' });
    res.end(`origin ${req.url}`);
  });
  t.after(() => origin.close());
  let parentAsked = 0;
  const parent = createServer((_req, res) => {
    parentAsked++;
    res.writeHead(503, { 'content-type': 'text/plain' });
    res.end('busy');
  });
  await new Promise<void>((r) => parent.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => { parent.closeAllConnections(); parent.close(() => r()); }));
  const node = await startNode({
    'cache.disk': 0, 'forward.allowPrivate': true, 'peers.healthInterval': 0, 'peers.deadBackoff': '60s',
    'peers.parents': `127.0.0.1:${(parent.address() as { port: number }).port}`,
  });
  t.after(() => node.stop());
  const r = await proxyGet(node.node.proxyAddress.port, `${origin.url}/p`);
  assert.equal(r.text, 'origin /p');
  assert.equal(parentAsked, 1);
  const health = await (await fetch(`${node.admin}/health`)).json() as { peers: Array<{ state: string }> };
  assert.equal(health.peers[0]?.state, 'dead');
  // Dead during its back-off: not asked again, and the node still answers.
  assert.equal((await proxyGet(node.node.proxyAddress.port, `${origin.url}/q`)).text, 'origin /q');
  assert.equal(parentAsked, 1);
  assert.equal(origin.seen.length, 2);
});
