import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { isPeerwebError } from '../../../src/errors/index.js';
import {
  DigestBuilder, createReputation, formatDigestField, formatLegacyDigest, parseDigestField, parseDigestText, parseLegacyDigest,
  pieceHashes, pieceRange, sha256, strongEtag, VerifyingStream,
} from '../../../src/integrity/index.js';

test('Repr-Digest of the RFC 9530 example body', () => {
  const d = sha256('{"hello": "world"}\n');
  assert.equal(formatDigestField(d), 'sha-256=:RK/0qy18MlBSVnWgjwz6lZEWjP/lF5HF9bvEF8FabDg=:');
  assert.deepEqual(parseDigestField('sha-512=:AAAA:, sha-256=:RK/0qy18MlBSVnWgjwz6lZEWjP/lF5HF9bvEF8FabDg=:'), d);
  assert.equal(parseDigestField('sha-512=:AAAA:'), undefined);
  assert.throws(() => parseDigestField('sha-256=:AAAA:'), (e) => isPeerwebError(e, 'PW_ERR_DIGEST_FORMAT'));
  assert.throws(() => parseDigestField('sha-256=RK/0'), (e) => isPeerwebError(e, 'PW_ERR_DIGEST_FORMAT'));
  assert.deepEqual(parseLegacyDigest(formatLegacyDigest(d)), d);
  assert.deepEqual(parseDigestText(d.toString('hex')), d);
  assert.deepEqual(parseDigestText(formatDigestField(d)), d);
  assert.deepEqual(parseDigestText(formatLegacyDigest(d)), d);
  assert.throws(() => parseDigestText('md5=abc'), (e) => isPeerwebError(e, 'PW_ERR_DIGEST_FORMAT'));
  assert.match(strongEtag(d), /^"sha256-[A-Za-z0-9_-]{43}"$/);
});

test('DigestBuilder over uneven chunks gives the same pieces as pieceHashes', () => {
  const data = Buffer.alloc(10_000);
  for (let i = 0; i < data.length; i++) data[i] = (i * 31) & 0xff;
  const b = new DigestBuilder(1024);
  for (let off = 0; off < data.length; off += 777) b.update(data.subarray(off, off + 777));
  const r = b.finish();
  assert.deepEqual(r.digest, sha256(data));
  assert.equal(r.size, 10_000);
  assert.deepEqual(r.pieces, pieceHashes(data, 1024));
  assert.equal(r.pieces.length, 10);
  assert.deepEqual(pieceRange(9, 10_000, 1024), { start: 9216, end: 9999 });
});

test('VerifyingStream fails at the end when one byte differs', async () => {
  const good = Buffer.from('exact publisher bytes');
  const sink = () => new Writable({ write(_c, _e, cb) { cb(); } });
  await pipeline(Readable.from([good]), new VerifyingStream(sha256(good), 'x', 'src'), sink());
  const bad = Buffer.from(good);
  bad[3] = (bad[3] ?? 0) ^ 1;
  await assert.rejects(pipeline(Readable.from([bad]), new VerifyingStream(sha256(good), 'x', 'src'), sink()), (e) => isPeerwebError(e, 'PW_ERR_DIGEST_MISMATCH'));
});

test('reputation: one bad byte bans for good; failures set aside; rank by priority then speed', () => {
  const r = createReputation({ maxFailures: 2 });
  const s = [{ url: 'a', priority: 2 }, { url: 'b', priority: 1 }, { url: 'c', priority: 2 }, { url: 'd', priority: 1 }];
  r.good('c', 10_000, 10);
  r.good('a', 1_000, 10);
  assert.deepEqual(r.rank(s).map((x) => x.url), ['b', 'd', 'c', 'a']);
  r.bad('b');
  r.good('b', 1e9, 1);
  assert.ok(r.isBanned('b'));
  r.failed('d');
  assert.ok(r.isUsable('d'));
  r.failed('d');
  assert.deepEqual(r.rank(s).map((x) => x.url), ['c', 'a']);
  assert.deepEqual(r.banned(), ['b']);
});
