import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import { getVerified } from '../../../src/client/index.js';
import { createMirror, hashPassword, newToken } from '../../../src/mirror/index.js';
import { listen, randomFile, startMirror, startSite, tempDir, writeFiles } from './net-helpers.js';

// The library mirror (createMirror) applies the same client rules as a mirror node: address
// ranges or credentials, a bucket per credential, 401 with a challenge, and the origin's signed
// requests always let through.

const FAST = { log2n: 10, r: 8, p: 1 };

test('createMirror restricts clients by credentials: 401 with a challenge, tokens and passwords let in, a bucket each, the origin never locked out', async (t) => {
  const dir = tempDir(t);
  writeFiles(dir, { 'p/a.txt': 'a' });
  const site = await startSite(dir);
  t.after(site.close);
  const { token, entry } = newToken('reader');
  const user = await hashPassword('alice', 'correct horse', FAST);
  let mirror: ReturnType<typeof createMirror> | undefined;
  const srv = await listen(async (req, res) => { if (!(await mirror?.handle(req, res))) res.writeHead(404).end(); });
  t.after(srv.close);
  mirror = createMirror({
    origin: site.url, prefixes: ['/p/'], base: `${srv.url}/m/`, originKeys: [site.key], maxObjectSize: 1 << 20,
    rate: 0.01, burst: 3, globalRate: 0, allowClients: ['10.0.0.0/8'], exemptClients: [], clients: { tokens: [entry], users: [user] },
  });
  t.after(() => mirror?.close());
  await mirror.sync();
  const get = async (headers: Record<string, string> = {}) => {
    const r = await request(`${srv.url}/m/p/a.txt`, { headers });
    const text = await r.body.text();
    return { status: r.statusCode, headers: r.headers, text };
  };

  const anonymous = await get();
  assert.equal(anonymous.status, 401);
  assert.match(String(anonymous.headers['www-authenticate']), /Bearer/);
  assert.match(String(anonymous.headers['www-authenticate']), /Basic/);
  assert.equal((await get({ authorization: 'Bearer not-the-token' })).status, 401);

  // Each refusal above cost the address a token, and so does a password not seen yet (guessing is limited).
  const basic = { authorization: `Basic ${Buffer.from('alice:correct horse').toString('base64')}` };
  const withPassword = await get(basic);
  assert.equal(withPassword.status, 200);
  assert.equal(withPassword.text, 'a');
  assert.equal((await get({ authorization: `Basic ${Buffer.from('alice:wrong').toString('base64')}` })).status, 429, 'the address has no token left to guess with');

  const bearer = { authorization: `Bearer ${token}` };
  const statuses = [];
  for (let i = 0; i < 4; i++) statuses.push((await get(bearer)).status);
  assert.deepEqual(statuses, [200, 200, 200, 429], 'the token has its own bucket of 3');
  const limited = await get(bearer);
  assert.match(String(limited.headers['retry-after']), /^\d+$/);
  assert.equal((await get(basic)).status, 200, 'the password has its own bucket too');

  // The origin's audit (on offer) gets through although its address is neither allowed nor credentialed.
  assert.equal((await site.front.offer(`${srv.url}/m/`, ['/p/'])).state, 'live');
  const after = (await get()).status;
  assert.ok(after === 401 || after === 429, `and that opened nothing for others (${after})`);
});

test('a restricted mirror says so in its offer: marked in the signed map, left out of Link lists and Metalinks; get uses it only with credentials', async (t) => {
  const dir = tempDir(t);
  const big = randomFile(6 * 64 * 1024 + 5);
  writeFiles(dir, { 'p/big.bin': big });
  const site = await startSite(dir, { pieceSize: 64 * 1024, pieceThreshold: 128 * 1024 });
  t.after(site.close);
  const open = await startMirror(site, ['/p/']);
  t.after(open.close);
  await open.mirror.sync();
  await open.mirror.offer();
  const { token, entry } = newToken('reader');
  let served = 0;
  let closed: ReturnType<typeof createMirror> | undefined;
  const srv = await listen(async (req, res) => { served++; if (!(await closed?.handle(req, res))) res.writeHead(404).end(); });
  t.after(srv.close);
  closed = createMirror({ origin: site.url, prefixes: ['/p/'], base: `${srv.url}/m/`, originKeys: [site.key], maxObjectSize: 1 << 20, rate: 0, globalRate: 0, clients: { tokens: [entry] } });
  t.after(() => closed?.close());
  await closed.sync();
  assert.equal((await closed.offer()).state, 'live', 'audited (signed) and listed');

  const map = (await (await request(`${site.url}/.well-known/peerweb/mirrors`)).body.json()) as { mirrors: { base: string; restricted?: boolean }[] };
  assert.deepEqual(map.mirrors.map((m) => [m.base, m.restricted === true]).sort(), [[open.base, false], [`${srv.url}/m/`, true]].sort());
  const head = await request(`${site.url}/p/big.bin`, { method: 'HEAD', headers: { 'list-mirrors': '?1' } });
  await head.body.dump();
  const links = String(head.headers.link);
  assert.ok(links.includes(open.base) && !links.includes(srv.url), links);
  const metalink = await (await request(`${site.url}/.well-known/peerweb/metalink/p/big.bin`)).body.text();
  assert.ok(metalink.includes(open.base) && !metalink.includes(srv.url));

  // Without credentials the client never tries it; named with credentials, it is used.
  const before = served;
  await getVerified({ url: `${site.url}/p/big.bin`, out: join(dir, 'a.bin'), parallel: 4 });
  assert.equal(served, before, 'no request to the restricted mirror');
  const r = await getVerified({
    url: `${site.url}/p/big.bin`, out: join(dir, 'b.bin'), parallel: 4,
    mirrors: [`${srv.url}/m/p/big.bin`], mirrorAuth: [{ base: `${srv.url}/m/`, authorization: `Bearer ${token}` }],
  });
  assert.deepEqual(readFileSync(join(dir, 'b.bin')), big);
  assert.ok((r.bytesFrom[`${srv.url}/m/p/big.bin`] ?? 0) > 0, `the named mirror served pieces: ${JSON.stringify(r.bytesFrom)}`);
  assert.deepEqual(r.liars, []);
});
