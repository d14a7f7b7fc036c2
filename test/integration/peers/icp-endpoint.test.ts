import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import { createIcpEndpoint, decodeIcp, encodeIcp, IcpOpcode, type IcpEndpoint } from '../../../src/peers/index.js';

async function client(t: { after(fn: () => unknown): void }): Promise<Socket> {
  const s = createSocket('udp4');
  s.bind(0, '127.0.0.1');
  await once(s, 'listening');
  t.after(() => s.close());
  return s;
}

/** Sends a datagram and waits (with a deadline) for the next one. */
function ask(s: Socket, ep: IcpEndpoint, buf: Buffer, ms = 2000): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => { s.off('message', on); resolve(undefined); }, ms);
    const on = (msg: Buffer) => { clearTimeout(timer); s.off('message', on); resolve(msg); };
    s.on('message', on);
    s.send(buf, ep.address.port, ep.address.host);
  });
}

const hits = new Set(['http://origin.test/cached']);
const lookup = (url: string) => (hits.has(url) ? 'hit' : url.includes('nofetch') ? 'miss-nofetch' : 'miss') as 'hit' | 'miss' | 'miss-nofetch';

test('endpoint answers HIT, MISS, MISS_NOFETCH, DENIED and a version 3 query with v2 replies', async (t) => {
  const ep = await createIcpEndpoint({ host: '127.0.0.1', port: 0, lookup, access: (a) => a === '127.0.0.1' });
  t.after(() => ep.close());
  const s = await client(t);
  const cases: [string, number, number][] = [
    ['http://origin.test/cached', 2, IcpOpcode.HIT],
    ['http://origin.test/other', 2, IcpOpcode.MISS],
    ['http://origin.test/nofetch', 2, IcpOpcode.MISS_NOFETCH],
    ['http://origin.test/cached', 3, IcpOpcode.HIT],
  ];
  let reqnum = 100;
  for (const [url, version, want] of cases) {
    const got = await ask(s, ep, encodeIcp({ opcode: IcpOpcode.QUERY, reqnum: ++reqnum, url, version: version as 2 | 3 }));
    assert.ok(got, `reply for ${url} v${version}`);
    const r = decodeIcp(got);
    assert.ok(r.ok);
    assert.equal(r.message.opcode, want);
    assert.equal(r.message.version, 2);
    assert.equal(r.message.reqnum, reqnum);
    assert.equal(r.message.url, url);
  }
  const c = ep.counters();
  assert.equal(c.repliesSent.HIT, 2);
  assert.equal(c.repliesSent.MISS, 1);
  assert.equal(c.repliesSent.MISS_NOFETCH, 1);
});

test('queries from addresses outside the access rule get DENIED', async (t) => {
  const ep = await createIcpEndpoint({ host: '127.0.0.1', port: 0, lookup, access: () => false });
  t.after(() => ep.close());
  const s = await client(t);
  const got = await ask(s, ep, encodeIcp({ opcode: IcpOpcode.QUERY, reqnum: 9, url: 'http://origin.test/cached' }));
  assert.ok(got);
  const r = decodeIcp(got);
  assert.ok(r.ok && r.message.opcode === IcpOpcode.DENIED && r.message.reqnum === 9);
});

test('garbage datagrams are dropped and counted, bad URLs get ERR, and the endpoint keeps answering', async (t) => {
  const ep = await createIcpEndpoint({ host: '127.0.0.1', port: 0, lookup });
  t.after(() => ep.close());
  const s = await client(t);
  const good = encodeIcp({ opcode: IcpOpcode.QUERY, reqnum: 1, url: 'http://origin.test/cached' });
  const garbage: Buffer[] = [
    Buffer.alloc(0), Buffer.from('hello'), Buffer.alloc(19),
    Buffer.alloc(20000, 1), // oversized
    (() => { const b = Buffer.from(good); b[1] = 9; return b; })(),
    (() => { const b = Buffer.from(good); b.writeUInt16BE(3, 2); return b; })(),
    (() => { const b = Buffer.from(good); b[0] = 77; return b; })(),
    (() => { const b = Buffer.from(good); b[b.length - 1] = 0x41; return b; })(),
    encodeIcp({ opcode: IcpOpcode.HIT, reqnum: 555, url: 'http://unsolicited.test/' }),
    encodeIcp({ opcode: IcpOpcode.MISS, reqnum: 0, url: 'http://unsolicited.test/' }),
  ];
  for (let i = 0; i < 200; i++) garbage.push(Buffer.from(Array.from({ length: (i * 7) % 60 }, (_, j) => (i * 31 + j * 17) & 0xff)));
  for (const g of garbage) s.send(g, ep.address.port, ep.address.host);
  // The endpoint is still fine: a real query after the garbage is answered.
  const got = await ask(s, ep, encodeIcp({ opcode: IcpOpcode.QUERY, reqnum: 4242, url: 'http://origin.test/cached' }));
  assert.ok(got);
  const r = decodeIcp(got);
  assert.ok(r.ok && r.message.opcode === IcpOpcode.HIT && r.message.reqnum === 4242);
  const c = ep.counters();
  assert.ok(c.dropped.oversized >= 1, 'oversized counted');
  assert.ok(c.dropped['bad-version'] >= 1);
  assert.ok(c.dropped['bad-length'] >= 1);
  assert.ok(c.dropped['bad-opcode'] >= 1);
  assert.ok(c.dropped['missing-nul'] >= 1);
  assert.ok(c.dropped['too-short'] >= 2);
  assert.equal(c.dropped.unsolicited, 2);
  // A well-formed query with a URL containing a space is answered ERR.
  const bad = Buffer.from(good.subarray(0, 24));
  const withSpace = Buffer.concat([bad, Buffer.from('http://x/a b\0')]); withSpace.writeUInt16BE(withSpace.length, 2); withSpace.writeUInt32BE(31, 4);
  const err = await ask(s, ep, withSpace);
  assert.ok(err);
  const er = decodeIcp(err);
  assert.ok(er.ok);
  assert.equal(er.message.opcode, IcpOpcode.ERR);
  assert.equal(er.message.reqnum, 31);
  assert.equal(er.message.url, 'http://x/a%20b');
  assert.equal(ep.counters().repliesSent.ERR, 1);
});

test('a flood from one source is cut by the per-source rate limit', async (t) => {
  const ep = await createIcpEndpoint({ host: '127.0.0.1', port: 0, lookup, ratePerSource: 10, burstPerSource: 20 });
  t.after(() => ep.close());
  const s = await client(t);
  let replies = 0;
  s.on('message', () => { replies++; });
  const n = 300;
  for (let i = 0; i < n; i++) s.send(encodeIcp({ opcode: IcpOpcode.QUERY, reqnum: i + 1, url: 'http://origin.test/x' }), ep.address.port, ep.address.host);
  const deadline = Date.now() + 3000;
  while (ep.counters().datagramsReceived < n && Date.now() < deadline) await new Promise((r) => setImmediate(r));
  assert.equal(ep.counters().datagramsReceived, n);
  const c = ep.counters();
  assert.ok(c.dropped['rate-limited'] >= n - 40, `rate-limited ${c.dropped['rate-limited']}`);
  assert.ok(c.queriesReceived <= 40 && c.queriesReceived >= 20, `answered ${c.queriesReceived}`);
});

test('ping: first HIT wins, replies are matched by reqnum, source and URL, silence times out', async (t) => {
  const a = await createIcpEndpoint({ host: '127.0.0.1', port: 0, lookup: () => 'miss' });
  const b = await createIcpEndpoint({ host: '127.0.0.1', port: 0, lookup: () => 'hit' });
  const me = await createIcpEndpoint({ host: '127.0.0.1', port: 0, lookup: () => 'miss' });
  const silent = createSocket('udp4');
  silent.bind(0, '127.0.0.1');
  await once(silent, 'listening');
  t.after(async () => { await a.close(); await b.close(); await me.close(); silent.close(); });
  const targets = [a.address, b.address];
  const r = await me.ping(targets, 'http://origin.test/p', { timeoutMs: 2000 });
  assert.equal(r.timedOut, false);
  assert.ok(r.replies.some((x) => x.index === 1 && x.opcode === 'HIT'));
  const all = await me.ping([a.address], 'http://origin.test/q', { timeoutMs: 2000 });
  assert.deepEqual(all.replies.map((x) => [x.index, x.opcode]), [[0, 'MISS']]);
  assert.equal(all.timedOut, false);
  const t0 = performance.now();
  const quiet = await me.ping([a.address, { host: '127.0.0.1', port: (silent.address()).port }], 'http://origin.test/r', { timeoutMs: 150 });
  assert.equal(quiet.timedOut, true);
  assert.deepEqual(quiet.replies.map((x) => x.opcode), ['MISS']);
  assert.ok(performance.now() - t0 >= 140);
  const ac = new AbortController();
  const p = me.ping([{ host: '127.0.0.1', port: (silent.address()).port }], 'http://origin.test/s', { timeoutMs: 5000, signal: ac.signal });
  ac.abort();
  assert.equal((await p).aborted, true);
});
