import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeIcp, encodeIcp, IcpOpcode, ICP_MAX_DATAGRAM, ICP_MAX_URL, ICP_FLAG_HIT_OBJ } from '../../../src/peers/index.js';

const URL1 = 'http://www.example.com/a/b?c=d';

test('query round trip keeps every field, with the Squid layout', () => {
  const buf = encodeIcp({ opcode: IcpOpcode.QUERY, reqnum: 0xdeadbeef, url: URL1, options: ICP_FLAG_HIT_OBJ, optionData: 7, sender: '10.1.2.3', requester: '192.0.2.9' });
  assert.equal(buf.length, 20 + 4 + URL1.length + 1);
  assert.equal(buf[0], 1);
  assert.equal(buf[1], 2);
  assert.equal(buf.readUInt16BE(2), buf.length);
  assert.equal(buf.readUInt32BE(4), 0xdeadbeef);
  assert.equal(buf[buf.length - 1], 0);
  const r = decodeIcp(buf);
  assert.ok(r.ok);
  assert.deepEqual(r.message, { opcode: 1, version: 2, reqnum: 0xdeadbeef, options: ICP_FLAG_HIT_OBJ >>> 0, optionData: 7, sender: '10.1.2.3', requester: '192.0.2.9', url: URL1 });
});

test('reply round trips for every reply opcode', () => {
  for (const op of [IcpOpcode.HIT, IcpOpcode.MISS, IcpOpcode.MISS_NOFETCH, IcpOpcode.DENIED, IcpOpcode.ERR, IcpOpcode.DECHO, IcpOpcode.SECHO]) {
    const buf = encodeIcp({ opcode: op, reqnum: 42, url: URL1 });
    assert.equal(buf.length, 20 + URL1.length + 1);
    const r = decodeIcp(buf);
    assert.ok(r.ok, `opcode ${op}`);
    assert.equal(r.message.opcode, op);
    assert.equal(r.message.reqnum, 42);
    assert.equal(r.message.url, URL1);
    assert.equal(r.message.requester, undefined);
    assert.equal(r.message.sender, '0.0.0.0');
  }
});

test('a version 3 query decodes (same layout) so it can be answered', () => {
  const buf = encodeIcp({ opcode: IcpOpcode.QUERY, reqnum: 5, url: URL1, version: 3 });
  const r = decodeIcp(buf);
  assert.ok(r.ok);
  assert.equal(r.message.version, 3);
});

function reason(buf: Buffer): string {
  const r = decodeIcp(buf);
  assert.equal(r.ok, false);
  return r.ok ? 'ok' : r.reason;
}

test('malformed datagrams are rejected with their reason', () => {
  const good = encodeIcp({ opcode: IcpOpcode.QUERY, reqnum: 1, url: URL1 });
  assert.equal(reason(Buffer.alloc(0)), 'too-short');
  assert.equal(reason(good.subarray(0, 19)), 'too-short');
  // header-only query: claims 20 bytes, has no requester/URL
  const headerOnly = Buffer.from(good.subarray(0, 20)); headerOnly.writeUInt16BE(20, 2);
  assert.equal(reason(headerOnly), 'too-short');
  for (const v of [0, 1, 4, 255]) { const b = Buffer.from(good); b[1] = v; assert.equal(reason(b), 'bad-version', `version ${v}`); }
  for (const len of [0, good.length - 1, good.length + 1, 0xffff]) { const b = Buffer.from(good); b.writeUInt16BE(len, 2); assert.equal(reason(b), 'bad-length', `length ${len}`); }
  for (const op of [0, 5, 6, 7, 8, 9, 12, 13, 14, 15, 20, 24, 99, 255]) { const b = Buffer.from(good); b[0] = op; assert.equal(reason(b), 'bad-opcode', `opcode ${op}`); }
  const noNul = Buffer.from(good); noNul[noNul.length - 1] = 0x61;
  assert.equal(reason(noNul), 'missing-nul');
  const early = Buffer.from(good); early[30] = 0;
  assert.equal(reason(early), 'missing-nul');
  const trailing = Buffer.concat([good, Buffer.from([0x41])]); trailing.writeUInt16BE(trailing.length, 2);
  assert.equal(reason(trailing), 'missing-nul');
  const big = Buffer.alloc(ICP_MAX_DATAGRAM + 1); big[0] = 1; big[1] = 2;
  assert.equal(reason(big), 'oversized');
});

test('bad URLs are rejected but the query stays answerable', () => {
  const mk = (url: string) => {
    const b = Buffer.alloc(25 + Buffer.byteLength(url, 'latin1'));
    b[0] = 1; b[1] = 2; b.writeUInt16BE(b.length, 2); b.writeUInt32BE(77, 4); b.write(url, 24, 'latin1');
    return b;
  };
  for (const u of ['', 'not a url', 'ftp://x/', 'http://', 'http://exa mple.com/', 'http://x/\u00e9', '/relative', 'http://x/\t']) {
    const r = decodeIcp(mk(u));
    assert.equal(r.ok, false, JSON.stringify(u));
    if (!r.ok) {
      assert.equal(r.reason, 'bad-url', JSON.stringify(u));
      assert.equal(r.reqnum, 77);
      assert.equal(r.opcode, 1);
    }
  }
  const long = 'http://x/' + 'a'.repeat(ICP_MAX_URL);
  const r = decodeIcp(mk(long));
  assert.ok(!r.ok && r.reason === 'url-too-long');
});

test('HIT_OBJ is recognised (object after the URL) so it can be ignored', () => {
  const url = Buffer.from('http://x/y\0');
  const obj = Buffer.from([0, 3, 0x61, 0x62, 0x63]);
  const b = Buffer.concat([Buffer.alloc(20), url, obj]);
  b[0] = IcpOpcode.HIT_OBJ; b[1] = 2; b.writeUInt16BE(b.length, 2);
  const r = decodeIcp(b);
  assert.ok(r.ok);
  assert.equal(r.message.opcode, IcpOpcode.HIT_OBJ);
  assert.equal(r.message.url, 'http://x/y');
});

test('encode refuses values that cannot go on the wire', () => {
  assert.throws(() => encodeIcp({ opcode: IcpOpcode.QUERY, reqnum: -1, url: URL1 }), RangeError);
  assert.throws(() => encodeIcp({ opcode: IcpOpcode.QUERY, reqnum: 2 ** 32, url: URL1 }), RangeError);
  assert.throws(() => encodeIcp({ opcode: IcpOpcode.QUERY, reqnum: 1, url: 'http://x/ y' }), RangeError);
  assert.throws(() => encodeIcp({ opcode: IcpOpcode.QUERY, reqnum: 1, url: 'http://x/\0' }), RangeError);
  assert.throws(() => encodeIcp({ opcode: IcpOpcode.QUERY, reqnum: 1, url: URL1, sender: '1.2.3' }), RangeError);
  assert.throws(() => encodeIcp({ opcode: IcpOpcode.QUERY, reqnum: 1, url: URL1, requester: '1.2.3.256' }), RangeError);
});

test('random garbage never throws', () => {
  let seed = 12345;
  const rnd = () => { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; return seed; };
  for (let i = 0; i < 5000; i++) {
    const len = rnd() % 80;
    const b = Buffer.alloc(len);
    for (let j = 0; j < len; j++) b[j] = rnd() & 0xff;
    if (len > 4 && i % 2 === 0) { b[1] = 2; b.writeUInt16BE(len, 2); b[0] = [1, 2, 3][i % 3] as number; }
    const r = decodeIcp(b);
    assert.equal(typeof r.ok, 'boolean');
  }
});
