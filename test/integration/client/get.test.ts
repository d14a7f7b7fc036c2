import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import FakeTimers from '@sinonjs/fake-timers';
import { getVerified, type GetEvent } from '../../../src/client/index.js';
import { isPeerwebError } from '../../../src/errors/index.js';
import { createReputation, generatePublisherKey, sha256 } from '../../../src/integrity/index.js';
import { createAuditor, createFolderSource, createRegistry } from '../../../src/mirror/index.js';
import { randomFile, startCheater, startMirror, startProxy, startSite, tempDir, writeFiles } from '../mirror/net-helpers.js';

const PIECE = 64 * 1024;

function filesOf(dir: string): Record<string, Buffer> {
  return { '/files/big.bin': readFileSync(join(dir, 'files/big.bin')), '/files/small.txt': readFileSync(join(dir, 'files/small.txt')) };
}
const CLIENT = '127.0.0.3';

async function siteWithMirrors(t: { after: (fn: () => Promise<void> | void) => void }, honest = 3, proxies?: string[]) {
  const dir = tempDir(t);
  const big = randomFile(20 * PIECE + 123);
  writeFiles(dir, { 'files/big.bin': big, 'files/small.txt': 'small and exact\n' });
  const site = await startSite(dir, { pieceSize: PIECE, pieceThreshold: 2 * PIECE, ...(proxies ? { proxies } : {}) });
  t.after(site.close);
  const mirrors = [];
  for (let i = 0; i < honest; i++) {
    const m = await startMirror(site, ['/files/']);
    t.after(m.close);
    await m.mirror.sync();
    const r = await site.front.offer(m.base, ['/files/']);
    assert.equal(r.state, 'live');
    mirrors.push(m);
  }
  return { dir, big, site, mirrors, url: `${site.url}/files/big.bin` };
}

test('three honest mirrors: the file comes from the mirrors in verified pieces, the origin sends none of it', async (t) => {
  const { big, site, url, dir } = await siteWithMirrors(t);
  const out = join(dir, 'out.bin');
  const r = await getVerified({ url, out, localAddress: CLIENT, parallel: 4 });
  assert.deepEqual(readFileSync(out), big);
  assert.equal(r.originBytes, 0);
  assert.equal(Object.keys(r.bytesFrom).length, 3, 'pieces spread over the three mirrors');
  assert.deepEqual(r.liars, []);
  assert.ok(!existsSync(`${out}.pwpart`) && !existsSync(`${out}.pwpart.json`));
  // A small file (no pieces) also verifies.
  const small = await getVerified({ url: `${site.url}/files/small.txt`, out: join(dir, 'small.txt'), localAddress: CLIENT });
  assert.equal(readFileSync(join(dir, 'small.txt'), 'utf8'), 'small and exact\n');
  assert.equal(small.originBytes, 0);
});

test('a mirror that always corrupts is caught by the client, reported, audited and delisted; output exact', async (t) => {
  const { big, site, url, dir } = await siteWithMirrors(t, 2);
  let lying = false;
  const cheat = await startCheater(filesOf(dir), () => lying);
  t.after(cheat.close);
  assert.equal((await site.front.offer(cheat.base, ['/files/'])).state, 'live');
  lying = true; // now it turns bad for everyone
  const events: GetEvent[] = [];
  const out = join(dir, 'out.bin');
  const r = await getVerified({ url, out, localAddress: CLIENT, parallel: 4, onEvent: (e) => events.push(e) });
  assert.deepEqual(readFileSync(out), big);
  assert.deepEqual(r.liars, [`${cheat.base}files/big.bin`]);
  assert.ok(events.some((e) => e.type === 'bad'));
  assert.equal(site.front.registry.get(cheat.base)?.state, 'delisted', 'the report triggered an audit that delisted it');
  assert.ok(!site.front.registry.holding('/files/big.bin').some((m) => m.base === cheat.base));
});

test('a mirror honest only to the origin is caught by audits sent through third-party proxies', async (t) => {
  const proxy = await startProxy();
  t.after(proxy.close);
  const { site, dir } = await siteWithMirrors(t, 1, [proxy.url]);
  const sly = await startCheater(filesOf(dir), (req) => req.socket.remoteAddress !== '127.0.0.1');
  t.after(sly.close);
  // Audits sent only directly from the origin's address see honest bytes.
  const directOnly = createRegistry();
  directOnly.add(sly.base, ['/files/']);
  const plain = createAuditor({ registry: directOnly, source: createFolderSource(dir, { maxObjectSize: 1 << 26 }), ranges: 4, localAddress: '127.0.0.1' });
  t.after(() => plain.close());
  assert.equal((await plain.audit(sly.base, { path: '/files/big.bin' }))?.verdict, 'pass');
  site.front.registry.add(sly.base, ['/files/']);
  let audits = 0;
  let delistedAfter = 0;
  for (let i = 0; i < 3 && site.front.registry.get(sly.base)?.state !== 'delisted'; i++) {
    await site.front.auditor.audit(sly.base, { path: '/files/big.bin' });
    audits++;
    delistedAfter = audits;
  }
  assert.equal(site.front.registry.get(sly.base)?.state, 'delisted');
  assert.ok(delistedAfter <= 3, `delisted within 3 audits (took ${delistedAfter})`);
  assert.ok(proxy.forwarded() > 0);
});

test('a mirror corrupting only some ranges: the client blames the piece, the focused audit delists it', async (t) => {
  const { big, site, url, dir } = await siteWithMirrors(t, 2);
  const bad = { start: 7 * PIECE, end: 8 * PIECE - 1 };
  const partial = await startCheater(filesOf(dir), (req, s, e) => new URL(req.url ?? '/', 'http://x').pathname.endsWith('big.bin') && s <= bad.end && e >= bad.start);
  t.after(partial.close);
  site.front.registry.add(partial.base, ['/files/']);
  site.front.registry.markVerified(partial.base, Date.now());
  const out = join(dir, 'out.bin');
  // The cheater is given priority 0 by the client, so it serves piece 7 at least once.
  const r = await getVerified({ url, out, localAddress: CLIENT, parallel: 1, mirrors: [`${partial.base}files/big.bin`] });
  assert.deepEqual(readFileSync(out), big);
  assert.deepEqual(r.liars, [`${partial.base}files/big.bin`]);
  assert.equal(site.front.registry.get(partial.base)?.state, 'delisted');
});

test('a mirror that dies mid-transfer: the client finishes from the others', async (t) => {
  const { big, url, dir } = await siteWithMirrors(t, 1);
  const dying = await startCheater({ '/files/big.bin': big }, () => false, { dieAfter: 3 });
  t.after(dying.close);
  const out = join(dir, 'out.bin');
  const events: GetEvent[] = [];
  const r = await getVerified({ url, out, localAddress: CLIENT, parallel: 3, mirrors: [`${dying.base}files/big.bin`], onEvent: (e) => events.push(e) });
  assert.deepEqual(readFileSync(out), big);
  assert.ok(events.some((e) => e.type === 'failed' && e.source.startsWith(dying.base)));
  assert.deepEqual(r.liars, []);
});

test('origin down, mirrors up: a client with the known digest (or the publisher key) succeeds; without, it refuses', async (t) => {
  const { big, site, mirrors, url, dir } = await siteWithMirrors(t, 2);
  await site.close();
  const out = join(dir, 'out.bin');
  const r = await getVerified({ url, out, localAddress: CLIENT, digest: sha256(big), mirrors: mirrors.map((m) => `${m.base}files/big.bin`), timeoutMs: 3000 });
  assert.deepEqual(readFileSync(out), big);
  assert.equal(r.originBytes, 0);
  await assert.rejects(getVerified({ url, out: join(dir, 'nope.bin'), localAddress: CLIENT, mirrors: mirrors.map((m) => `${m.base}files/big.bin`), timeoutMs: 3000 }), (e) => isPeerwebError(e, 'PW_ERR_DIGEST_UNKNOWN'));
  assert.ok(!existsSync(join(dir, 'nope.bin')));
  // With the publisher key, the digest comes from the origin's signed index kept by a mirror.
  const viaIndex = await getVerified({ url, out: join(dir, 'idx.bin'), localAddress: CLIENT, originKeys: [site.key], mirrors: mirrors.map((m) => `${m.base}files/big.bin`), timeoutMs: 3000 });
  assert.deepEqual(viaIndex.digest, sha256(big));
  assert.deepEqual(readFileSync(join(dir, 'idx.bin')), big);
  // Another key does not vouch for it.
  await assert.rejects(getVerified({ url, out: join(dir, 'nope.bin'), localAddress: CLIENT, originKeys: [generatePublisherKey()], mirrors: mirrors.map((m) => `${m.base}files/big.bin`), timeoutMs: 3000 }), (e) => isPeerwebError(e, 'PW_ERR_DIGEST_UNKNOWN'));
});

test('every source lies and the origin is down: nothing is written', async (t) => {
  const dir = tempDir(t);
  const big = randomFile(3 * PIECE);
  const liarA = await startCheater({ '/files/big.bin': big }, () => true);
  const liarB = await startCheater({ '/files/big.bin': big }, () => true);
  t.after(liarA.close);
  t.after(liarB.close);
  const out = join(dir, 'out.bin');
  await assert.rejects(
    getVerified({ url: 'http://127.0.0.1:9/files/big.bin', out, localAddress: CLIENT, digest: sha256(big), mirrors: [`${liarA.base}files/big.bin`, `${liarB.base}files/big.bin`], timeoutMs: 2000 }),
    (e) => isPeerwebError(e, 'PW_ERR_GET_NO_SOURCE'),
  );
  assert.deepEqual(readdirSync(dir), []);
});

test('resume: an interrupted download keeps its verified pieces and the next run fetches only the rest', async (t) => {
  const { big, url, dir } = await siteWithMirrors(t, 2);
  const out = join(dir, 'out.bin');
  const ac = new AbortController();
  let pieces = 0;
  await assert.rejects(
    getVerified({ url, out, localAddress: CLIENT, parallel: 1, signal: ac.signal, onEvent: (e) => { if (e.type === 'piece' && ++pieces === 5) ac.abort(); } }),
    (e) => isPeerwebError(e, 'PW_ERR_GET_INTERRUPTED'),
  );
  assert.ok(!existsSync(out));
  assert.ok(existsSync(`${out}.pwpart.json`));
  const rep = createReputation();
  const r = await getVerified({ url, out, localAddress: CLIENT, reputation: rep });
  assert.ok(r.resumedPieces >= 5, `resumed ${r.resumedPieces} pieces`);
  assert.deepEqual(readFileSync(out), big);
  const fetched = Object.values(r.bytesFrom).reduce((a, b) => a + b, 0);
  assert.equal(fetched, big.length - r.resumedPieces * PIECE);
});

test('scheduled audits (fake interval clock) delist a mirror that turned bad without any report', async (t) => {
  const { site, dir } = await siteWithMirrors(t, 1);
  let lying = false;
  const cheat = await startCheater(filesOf(dir), () => lying);
  t.after(cheat.close);
  assert.equal((await site.front.offer(cheat.base, ['/files/'])).state, 'live');
  lying = true;
  const clock = FakeTimers.install({ toFake: ['setInterval', 'clearInterval'] });
  t.after(() => clock.uninstall());
  site.front.auditor.start(60_000);
  clock.tick(59_000);
  await new Promise((r) => setImmediate(r));
  assert.equal(site.front.registry.get(cheat.base)?.state, 'live', 'no audit before the interval');
  clock.tick(1_000);
  const deadline = Date.now() + 5000;
  while (site.front.registry.get(cheat.base)?.state !== 'delisted' && Date.now() < deadline) await new Promise((r) => setImmediate(r));
  assert.equal(site.front.registry.get(cheat.base)?.state, 'delisted');
  assert.equal(site.front.registry.live().length, 1, 'the honest mirror stays listed');
});
