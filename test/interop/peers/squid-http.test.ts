// Squid 5 and a real peerweb node side by side over HTTP and ICP, in all four relations.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request, type IncomingHttpHeaders } from 'node:http';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { loadConfig } from '../../../src/config/index.js';
import { createNode, type PeerwebNode } from '../../../src/node/index.js';
import { startNode, type TestNode } from '../../helpers/node.js';
import { startOrigin, waitFor, type TestOrigin } from '../../helpers/origin.js';
import { freeTcpPort, freeUdpPort, startSquid, squidMissing, type Squid } from './squid.js';

// Squid ignores ICP from its own address (127.0.0.1): our node lives on 127.0.0.2.
const US = '127.0.0.2';

/** GET `url` through the HTTP proxy at host:port. */
function proxyGet(host: string, port: number, url: string): Promise<{ status: number; body: string; headers: IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = request({ host, port, path: url, method: 'GET', headers: { host: new URL(url).host }, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
    });
    req.setTimeout(10_000, () => req.destroy(new Error(`proxy GET ${url} through ${host}:${port} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

/** A cacheable origin (max-age 1 h, validators) recording who sent each request. */
async function cacheableOrigin(): Promise<TestOrigin> {
  return startOrigin((req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'public, max-age=3600', 'last-modified': new Date(Date.now() - 3_600_000).toUTCString() });
    res.end(`origin body for ${req.url}`);
  });
}

/** Which cache sent the origin this request: the last Via entry is the one that connected. */
function fetcher(node: PeerwebNode, via: string | string[] | undefined): 'peerweb' | 'squid' | 'client' {
  const last = (Array.isArray(via) ? via.join(', ') : via ?? '').split(',').map((s) => s.trim()).filter(Boolean).at(-1);
  if (last === undefined) return 'client';
  if (/\(squid\/[\d.]+\)$/.test(last)) return 'squid';
  assert.equal(last.split(/\s+/)[1], node.config['proxy.name'], `unexpected Via entry ${last}`);
  return 'peerweb';
}

function fetchers(origin: TestOrigin, node: PeerwebNode, path: string): string[] {
  return origin.seen.filter((s) => s.url === path).map((s) => fetcher(node, s.headers.via));
}

/** Squid's access log (one line per request: result/status, URL, hierarchy code/peer). */
function readAccessLog(squid: Squid): string {
  const f = join(squid.dir, 'access.log');
  return existsSync(f) ? readFileSync(f, 'utf8') : '';
}

/** Squid writes its access log a little after it answers: poll it (with a deadline) for `re`. */
async function accessLogged(squid: Squid, re: RegExp): Promise<void> {
  await waitFor(() => re.test(readAccessLog(squid)), `${re} in Squid's access log`).catch(() => undefined);
  assert.match(readAccessLog(squid), re);
}

/** Our response reached the client; wait until the store has committed it (what our ICP answers from). */
async function stored(node: TestNode, url: string): Promise<void> {
  await waitFor(() => node.node.store.peek(url) !== undefined, `${url} in the store`);
}

/** Our node: a forward proxy on 127.0.0.2 with its ICP endpoint there too; loopback origins allowed (tests). */
async function ourNode(values: Record<string, unknown>): Promise<{ node: TestNode; icpPort: number }> {
  const icpPort = await freeUdpPort(US);
  const node = await startNode({ listen: `${US}:0`, 'cache.disk': 0, 'forward.allowPrivate': true, 'peers.icp': `${US}:${icpPort}`, 'peers.healthInterval': 0, ...values });
  return { node, icpPort };
}

test('Squid as our sibling: we fetch Squid\'s ICP HIT from Squid over HTTP (SIBLING_HIT); its MISS sends us to the origin', { skip: squidMissing, timeout: 60_000 }, async (t) => {
  const origin = await cacheableOrigin();
  t.after(() => origin.close());
  const squid = await startSquid([]);
  t.after(() => squid.stop());
  const { node } = await ourNode({ 'peers.siblings': `127.0.0.1:${squid.httpPort}:${squid.icpPort}` });
  t.after(() => node.stop());

  const held = `${origin.url}/held-by-squid`;
  assert.equal((await proxyGet('127.0.0.1', squid.httpPort, held)).status, 200);
  assert.deepEqual(fetchers(origin, node.node, '/held-by-squid'), ['squid']);

  const r = await proxyGet(US, node.node.proxyAddress.port, held);
  assert.equal(r.status, 200);
  assert.equal(r.body, 'origin body for /held-by-squid');
  assert.deepEqual(fetchers(origin, node.node, '/held-by-squid'), ['squid'], 'the origin was not asked again');
  assert.equal(node.node.metrics.get('peerweb_requests_total', 'SIBLING_HIT'), 1);
  await accessLogged(squid, /TCP_(MEM_)?HIT\/200 .*\/held-by-squid/);
  // Now it is ours: a second request is our own hit.
  assert.equal((await proxyGet(US, node.node.proxyAddress.port, held)).body, r.body);
  assert.equal(node.node.metrics.get('peerweb_requests_total', 'SIBLING_HIT'), 1);

  // Squid does not have this one: it answers ICP MISS, and we go to the origin ourselves (a sibling is for hits only).
  const other = await proxyGet(US, node.node.proxyAddress.port, `${origin.url}/not-at-squid`);
  assert.equal(other.status, 200);
  assert.deepEqual(fetchers(origin, node.node, '/not-at-squid'), ['peerweb']);
  assert.doesNotMatch(readAccessLog(squid), /GET \S*not-at-squid/, 'nothing was fetched through Squid');
  const [st] = (await (await fetch(`${node.admin}/health`)).json() as { peers: Array<{ icpReplies: Record<string, number> }> }).peers;
  assert.equal(st?.icpReplies.HIT, 1);
  assert.equal(st?.icpReplies.MISS, 1);
});

test('Squid as our parent: our misses go through Squid, which fetches from the origin; never-direct is honoured', { skip: squidMissing, timeout: 60_000 }, async (t) => {
  const origin = await cacheableOrigin();
  t.after(() => origin.close());
  const squid = await startSquid([]);
  let squidUp = true;
  t.after(() => (squidUp ? squid.stop() : undefined));
  const { node } = await ourNode({ 'peers.parents': `127.0.0.1:${squid.httpPort}:${squid.icpPort}`, 'peers.neverDirect': true });
  t.after(() => node.stop());

  const url = `${origin.url}/through-parent`;
  const r = await proxyGet(US, node.node.proxyAddress.port, url);
  assert.equal(r.status, 200, r.body);
  assert.equal(r.body, 'origin body for /through-parent');
  assert.deepEqual(fetchers(origin, node.node, '/through-parent'), ['squid'], 'Squid fetched it, once');
  assert.match(String(origin.seen[0]?.headers.via), new RegExp(`${node.node.config['proxy.name']}.*squid`), 'the request passed through us, then Squid');
  assert.equal(node.node.metrics.get('peerweb_requests_total', 'PARENT'), 1);
  await accessLogged(squid, /TCP_MISS\/200 .*\/through-parent/);
  // Our own hit next time: neither Squid nor the origin is asked.
  assert.equal((await proxyGet(US, node.node.proxyAddress.port, url)).body, r.body);
  assert.equal(origin.count('/through-parent'), 1);
  assert.equal(node.node.metrics.get('peerweb_requests_total', 'PARENT'), 1);

  // Parent gone and never-direct: we answer an error and never go to the origin ourselves.
  await squid.stop();
  squidUp = false;
  const down = await proxyGet(US, node.node.proxyAddress.port, `${origin.url}/parent-down`);
  assert.ok(down.status >= 500, `status ${down.status}`);
  assert.equal(origin.count('/parent-down'), 0, 'never-direct: the origin was not contacted');
});

test('we are Squid\'s sibling: Squid asks us by ICP and fetches our HIT from our HTTP port; our MISS sends Squid to the origin', { skip: squidMissing, timeout: 60_000 }, async (t) => {
  const origin = await cacheableOrigin();
  t.after(() => origin.close());
  const { node, icpPort } = await ourNode({});
  t.after(() => node.stop());
  const squid = await startSquid([`cache_peer ${US} sibling ${node.node.proxyAddress.port} ${icpPort} name=peerweb no-digest`, 'minimum_icp_query_timeout 50']);
  t.after(() => squid.stop());

  const held = `${origin.url}/held-by-us`;
  assert.equal((await proxyGet(US, node.node.proxyAddress.port, held)).status, 200);
  assert.deepEqual(fetchers(origin, node.node, '/held-by-us'), ['peerweb']);
  await stored(node, held);
  const hitsBefore = node.node.metrics.get('peerweb_requests_total', 'HIT');

  const r = await proxyGet('127.0.0.1', squid.httpPort, held);
  assert.equal(r.status, 200);
  assert.equal(r.body, 'origin body for /held-by-us');
  assert.deepEqual(fetchers(origin, node.node, '/held-by-us'), ['peerweb'], 'the origin was not asked again');
  assert.equal(node.node.metrics.get('peerweb_requests_total', 'HIT'), hitsBefore + 1, 'Squid\'s request was our hit');
  await accessLogged(squid, /\/held-by-us .*SIBLING_HIT\/127\.0\.0\.2/);

  const miss = await proxyGet('127.0.0.1', squid.httpPort, `${origin.url}/not-held`);
  assert.equal(miss.status, 200);
  assert.deepEqual(fetchers(origin, node.node, '/not-held'), ['squid'], 'Squid went to the origin itself after our ICP MISS');
  const c = (await (await fetch(`${node.admin}/health`)).json() as { icp?: string });
  assert.equal(c.icp, `${US}:${icpPort}`);
});

test('we are Squid\'s parent: Squid\'s misses come to us and we fetch from the origin once; our HIT is served from our cache', { skip: squidMissing, timeout: 60_000 }, async (t) => {
  const origin = await cacheableOrigin();
  t.after(() => origin.close());
  const { node, icpPort } = await ourNode({});
  t.after(() => node.stop());
  const squid = await startSquid([`cache_peer ${US} parent ${node.node.proxyAddress.port} ${icpPort} name=peerweb no-digest`, 'never_direct allow all', 'minimum_icp_query_timeout 50', 'debug_options ALL,1 44,2']);
  t.after(() => squid.stop());

  const url = `${origin.url}/via-us`;
  const r = await proxyGet('127.0.0.1', squid.httpPort, url);
  assert.equal(r.status, 200, squid.log().slice(-2000));
  assert.equal(r.body, 'origin body for /via-us');
  assert.deepEqual(fetchers(origin, node.node, '/via-us'), ['peerweb'], 'we fetched it for Squid, once');
  assert.match(String(origin.seen[0]?.headers.via), new RegExp(`squid.*${node.node.config['proxy.name']}`), 'through Squid, then us');
  await accessLogged(squid, /\/via-us .*FIRST_PARENT_MISS\/127\.0\.0\.2/);

  // An object we hold and Squid does not: our ICP HIT, served from our cache, origin untouched.
  const held = `${origin.url}/ours`;
  assert.equal((await proxyGet(US, node.node.proxyAddress.port, held)).status, 200);
  await stored(node, held);
  const hitsBefore = node.node.metrics.get('peerweb_requests_total', 'HIT');
  const h = await proxyGet('127.0.0.1', squid.httpPort, held);
  assert.equal(h.body, 'origin body for /ours');
  assert.deepEqual(fetchers(origin, node.node, '/ours'), ['peerweb']);
  assert.equal(node.node.metrics.get('peerweb_requests_total', 'HIT'), hitsBefore + 1);
  // Squid's peer selection (its access log may show the hierarchy code of a reused connection instead).
  assert.match(squid.log(), /PARENT_HIT flags=\d+, destination #1 for http:\/\/127\.0\.0\.1:\d+\/ours/, squid.log().slice(-3000));
});

/** The peerweb TOML and the squid.conf lines of the "Squid next door" example in docs/peers.md. */
function docExample(): { toml: string; squidConf: string[] } {
  const doc = readFileSync(new URL('../../../docs/peers.md', import.meta.url), 'utf8');
  const section = doc.slice(doc.indexOf('## Squid next door'));
  const toml = /```toml\n([\s\S]*?)```/.exec(section)?.[1];
  const squid = /`squid\.conf` lines:\n\n```\n([\s\S]*?)```/.exec(section)?.[1];
  assert.ok(toml && squid, 'docs/peers.md has the Squid next door example');
  return { toml, squidConf: squid.split('\n').filter((l) => l.trim() !== '') };
}

test('the "Squid next door" example of docs/peers.md as written: mutual siblings, hits flow both ways, origin once per URL', { skip: squidMissing, timeout: 60_000 }, async (t) => {
  const origin = await cacheableOrigin();
  t.after(() => origin.close());
  const { toml, squidConf } = docExample();
  // Squid's ports are picked first too: Squid probes its peers when it starts and calls one that is
  // not listening yet dead for a while, so peerweb starts first (as docs/peers.md says).
  const [squidHttp, squidIcp, ourHttp, ourIcp] = [await freeTcpPort(), await freeUdpPort(), await freeTcpPort(), await freeUdpPort(US)];
  const file = join(mkdtempSync(join(tmpdir(), 'pw-doc-')), 'peerweb.toml');
  t.after(() => rmSync(dirname(file), { recursive: true, force: true }));
  const ours = toml
    .replace('"127.0.0.2:8080"', `"${US}:${ourHttp}"`).replace('"127.0.0.2:3131"', `"${US}:${ourIcp}"`)
    .replace('httpPort = 3128', `httpPort = ${squidHttp}`).replace('icpPort = 3130', `icpPort = ${squidIcp}`);
  assert.notEqual(ours, toml);
  writeFileSync(file, ours);
  // Test-only values: a temp data folder, loopback origins allowed, no admin port clash.
  const config = loadConfig({ file, values: { data: dirname(file), admin: '127.0.0.1:0', 'cache.disk': 0, 'forward.allowPrivate': true, 'log.access': 'off', 'peers.healthInterval': 0 } });
  const node = await createNode(config);
  await node.start();
  t.after(() => node.stop());
  // The doc's lines as they are, ports put in (the helper's own http_port stays open beside ours; its icp_port is overridden).
  const lines = squidConf.map((l) => l
    .replace('http_port 127.0.0.1:3128', `http_port 127.0.0.1:${squidHttp}`).replace(/^icp_port 3130$/, `icp_port ${squidIcp}`)
    .replace(' 8080 3131 ', ` ${ourHttp} ${ourIcp} `));
  assert.equal(lines.filter((l, i) => l !== squidConf[i]).length, 3, 'three lines name ports');
  const squid = await startSquid(lines);
  t.after(() => squid.stop());
  assert.match(squid.log(), new RegExp(`Accepting ICP messages on 127\\.0\\.0\\.1:${squidIcp}`));
  assert.equal(node.proxyAddress.port, ourHttp);

  // Squid has A: we get it from Squid (our SIBLING_HIT), the origin is asked once, by Squid.
  const a = `${origin.url}/a`;
  assert.equal((await proxyGet('127.0.0.1', squidHttp, a)).status, 200);
  const viaUs = await proxyGet(US, ourHttp, a);
  assert.equal(viaUs.body, 'origin body for /a');
  assert.deepEqual(fetchers(origin, node, '/a'), ['squid']);
  assert.equal(node.metrics.get('peerweb_requests_total', 'SIBLING_HIT'), 1);

  // We have B: Squid gets it from us (its SIBLING_HIT), the origin is asked once, by us.
  const b = `${origin.url}/b`;
  assert.equal((await proxyGet(US, ourHttp, b)).status, 200);
  assert.deepEqual(fetchers(origin, node, '/b'), ['peerweb'], 'Squid answered ICP MISS for B: we went direct');
  await waitFor(() => node.store.peek(b) !== undefined, 'B in our store');
  const viaSquid = await proxyGet('127.0.0.1', squidHttp, b);
  assert.equal(viaSquid.body, 'origin body for /b');
  assert.deepEqual(fetchers(origin, node, '/b'), ['peerweb']);
  await accessLogged(squid, /\/b .*SIBLING_HIT\/127\.0\.0\.2/);
  assert.equal(origin.seen.length, 2);
});
