import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { IncomingHttpHeaders } from 'node:http';
import { request } from 'undici';
import { getVerified, type GetEvent } from '../../../src/client/index.js';
import { generatePublisherKey } from '../../../src/integrity/index.js';
import {
  NOTICE_PATH, WELL_KNOWN, buildNotice, createFolderSource, createOriginFront, signNotice, type OriginFront,
} from '../../../src/mirror/index.js';
import { listen, randomFile, startCheater, startMirror, tempDir, writeFiles } from '../mirror/net-helpers.js';

const PIECE = 64 * 1024;
const CLIENT = '127.0.0.3';

interface Stored { status: number; headers: IncomingHttpHeaders; body: Buffer }

/**
 * An origin front with two honest mirrors and one that lies, behind a layer that can replay
 * answers captured earlier (as a plain cache in between would) and replace the delisting notice.
 */
async function staleSite(t: { after: (fn: () => Promise<void> | void) => void }) {
  const dir = tempDir(t);
  const big = randomFile(12 * PIECE + 7);
  writeFiles(dir, { 'files/big.bin': big });
  const key = generatePublisherKey();
  const stale = new Map<string, Stored>();
  let notice: { body: Buffer; headers: Record<string, string> } | undefined;
  let front: OriginFront | undefined;
  const srv = await listen(async (req, res) => {
    const kept = stale.get(`${req.method} ${req.url}`);
    if (kept) {
      res.writeHead(kept.status, kept.headers);
      res.end(req.method === 'HEAD' ? undefined : kept.body);
      return;
    }
    if (notice && req.url === NOTICE_PATH) {
      res.writeHead(200, { ...notice.headers, 'content-length': String(notice.body.length) });
      res.end(notice.body);
      return;
    }
    await (front as OriginFront).serve(req, res);
  });
  front = createOriginFront({
    key, source: createFolderSource(dir, { maxObjectSize: 64 * 1024 * 1024 }), policy: { mode: 'open', allow: [], maxMirrors: 8 },
    publicBase: srv.url, pieceSize: PIECE, pieceThreshold: 2 * PIECE, localAddress: '127.0.0.1', timeoutMs: 5000,
  });
  t.after(async () => { await srv.close(); await front?.close(); });
  const site = { front, server: srv.server, url: srv.url, key, dir, close: srv.close };
  const honest = [];
  for (let i = 0; i < 2; i++) {
    const m = await startMirror(site, ['/files/']);
    t.after(m.close);
    await m.mirror.sync();
    assert.equal((await front.offer(m.base, ['/files/'])).state, 'live');
    honest.push(m);
  }
  let lying = false;
  const cheat = await startCheater({ '/files/big.bin': big }, () => lying);
  t.after(cheat.close);
  assert.equal((await front.offer(cheat.base, ['/files/'])).state, 'live');
  lying = true; // it passed its audit, then turned

  const url = `${srv.url}/files/big.bin`;
  /** Keeps what the origin answers now to the HEAD and the Metalink, and replays it from then on. */
  const freeze = async () => {
    for (const [method, path, headers] of [['HEAD', '/files/big.bin', { 'list-mirrors': '?1' }], ['GET', `${WELL_KNOWN}metalink/files/big.bin`, {}]] as const) {
      const r = await request(`${srv.url}${path}`, { method, headers });
      stale.set(`${method} ${path}`, { status: r.statusCode, headers: r.headers as IncomingHttpHeaders, body: Buffer.from(await r.body.arrayBuffer()) });
    }
  };
  return { big, dir, url, key, front, honest, cheat, freeze, stale, setNotice: (n: typeof notice) => { notice = n; } };
}

for (const withKey of [false, true]) {
  test(`get reads the origin's delisting notice${withKey ? ' (signature checked with the publisher key)' : ''}: a stale list naming a delisted mirror sends it no request`, async (t) => {
    const s = await staleSite(t);
    await s.freeze();
    const head = s.stale.get('HEAD /files/big.bin');
    assert.match(String(head?.headers.link), new RegExp(s.cheat.base.replace(/[.]/g, '\\.')), 'the replayed HEAD still lists the liar');
    assert.match(s.stale.get(`GET ${WELL_KNOWN}metalink/files/big.bin`)?.body.toString() ?? '', new RegExp(s.cheat.base.replace(/[.]/g, '\\.')), 'and so does the replayed Metalink');
    s.front.registry.delist(s.cheat.base, 'failed audit');
    const served = s.cheat.served();
    const events: GetEvent[] = [];
    const out = join(s.dir, 'out.bin');
    const r = await getVerified({ url: s.url, out, localAddress: CLIENT, parallel: 4, onEvent: (e) => events.push(e), ...(withKey ? { originKeys: [s.key] } : {}) });
    assert.deepEqual(readFileSync(out), s.big);
    assert.equal(s.cheat.served(), served, 'the delisted mirror got no request');
    assert.ok(events.some((e) => e.type === 'delisted' && e.source.startsWith(s.cheat.base)), 'the client says why it left it out');
    assert.deepEqual(r.liars, []);
    assert.ok(Object.keys(r.bytesFrom).every((u) => s.honest.some((m) => u.startsWith(m.base))), `bytes came from the honest mirrors: ${Object.keys(r.bytesFrom).join(', ')}`);
  });
}

test('a notice signed by another key, or altered after signing, is ignored', async (t) => {
  const s = await staleSite(t);
  const other = generatePublisherKey();
  // Names both honest mirrors: obeyed, it would leave only the liar and the origin.
  const entries = s.honest.map((m) => ({ authority: new URL(m.base).origin, bases: [m.base], reason: 'forged', at: Date.now(), until: Date.now() + 3_600_000 }));
  s.setNotice(signNotice(buildNotice(new URL(s.url).origin, 99, entries, Date.now()), other, 'response'));
  const r1 = await getVerified({ url: s.url, out: join(s.dir, 'a.bin'), localAddress: CLIENT, parallel: 4, originKeys: [s.key] });
  assert.deepEqual(readFileSync(join(s.dir, 'a.bin')), s.big);
  assert.ok(s.honest.some((m) => Object.keys(r1.bytesFrom).some((u) => u.startsWith(m.base))), 'the honest mirrors were still used');

  const genuine = signNotice(buildNotice(new URL(s.url).origin, 99, entries, Date.now()), s.key, 'response');
  const altered = Buffer.from(genuine.body.toString().replace('forged', 'FORGED'));
  s.setNotice({ body: altered, headers: genuine.headers });
  const r2 = await getVerified({ url: s.url, out: join(s.dir, 'b.bin'), localAddress: CLIENT, parallel: 4 });
  assert.deepEqual(readFileSync(join(s.dir, 'b.bin')), s.big);
  assert.ok(s.honest.some((m) => Object.keys(r2.bytesFrom).some((u) => u.startsWith(m.base))), 'an altered notice is not applied');

  // The same notice unaltered and genuinely signed is obeyed: the honest mirrors are left out.
  s.setNotice(genuine);
  const events: GetEvent[] = [];
  await getVerified({ url: s.url, out: join(s.dir, 'c.bin'), localAddress: CLIENT, parallel: 4, originKeys: [s.key], onEvent: (e) => events.push(e) });
  assert.deepEqual(readFileSync(join(s.dir, 'c.bin')), s.big);
  assert.equal(events.filter((e) => e.type === 'delisted').length, 2);
});
