import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generatePublisherKey, fieldReader } from '../../../src/integrity/index.js';
import { buildNotice, createDelistBook, createRegistry, signNotice, verifyNotice, type Delisting } from '../../../src/mirror/index.js';
import { PeerwebError } from '../../../src/errors/index.js';

const key = generatePublisherKey();
const other = generatePublisherKey();
const keysFor = async (origin: string) => (origin === 'http://www.example.com' ? [key] : []);
const liar: Delisting = { authority: 'http://liar.example:8080', bases: ['http://liar.example:8080/m/www/'], reason: 'bytes differ', at: 1_000, until: 10_000 };

test('registry: a failed audit delists every base on the mirror host, for the cool-down only', () => {
  let t = 0;
  const changes: string[] = [];
  const reg = createRegistry({ cooldownMs: 5000, now: () => t, onChange: (c) => changes.push(c.kind) });
  reg.add('http://liar:1/m/a/', ['/a/']);
  reg.add('http://liar:1/m/b/', ['/b/']);
  reg.add('http://honest:1/m/', ['/']);
  for (const b of ['http://liar:1/m/a/', 'http://liar:1/m/b/', 'http://honest:1/m/']) reg.markVerified(b, t);
  assert.equal(reg.holding('/b/x').length, 2);
  reg.delist('http://liar:1/m/a/', 'bytes differ');
  assert.deepEqual(reg.live().map((r) => r.base), ['http://honest:1/m/'], 'all prefixes and bases of that host leave the lists');
  assert.equal(reg.add('http://liar:1/other/', ['/']).state, 'delisted', 'a new base on the same host starts delisted');
  assert.deepEqual(changes, ['listed', 'listed', 'listed', 'delisted']);
  assert.equal(reg.delistings().length, 1);
  t = 4999;
  assert.equal(reg.add('http://liar:1/m/a/', ['/a/']).state, 'delisted', 'still cooling down');
  t = 5000;
  assert.equal(reg.delisting('http://liar:1/m/a/'), undefined);
  assert.equal(reg.add('http://liar:1/m/a/', ['/a/']).state, 'pending', 'after the cool-down it may offer again (and is audited)');
  assert.deepEqual(reg.delistings(), []);
  const reg2 = createRegistry({ now: () => 0 });
  reg2.restore([{ authority: 'http://liar:1', bases: [], reason: 'r', at: 0, until: 100 }, { authority: 'http://old:1', bases: [], reason: 'r', at: 0, until: 0 }]);
  assert.equal(reg2.add('http://liar:1/m/', ['/']).state, 'delisted', 'restored delistings hold after a restart');
  assert.equal(reg2.add('http://old:1/m/', ['/']).state, 'pending', 'expired ones are not restored');
});

test('delisting notices: signed by the publisher key, verified before they are applied, never rolled back', async () => {
  const n1 = buildNotice('http://www.example.com', 5, [liar], 2_000);
  for (const as of ['request', 'response'] as const) {
    const s = signNotice(n1, key, as);
    const got = await verifyNotice(fieldReader(s.headers), s.body, as, keysFor);
    assert.deepEqual(got.mirrors.map((m) => m.authority), ['http://liar.example:8080']);
    // Signed as one kind, it is not the other (a response signature cannot be POSTed as a request).
    await assert.rejects(verifyNotice(fieldReader(s.headers), s.body, as === 'request' ? 'response' : 'request', keysFor));
  }
  const s = signNotice(n1, key, 'request');
  const tampered = Buffer.from(s.body.toString().replace('liar.example', 'honest.example'));
  await assert.rejects(verifyNotice(fieldReader(s.headers), tampered, 'request', keysFor), (e: unknown) => e instanceof PeerwebError && e.code === 'PW_ERR_MIRROR_NOTICE_INVALID');
  const forged = signNotice(n1, other, 'request');
  await assert.rejects(verifyNotice(fieldReader(forged.headers), forged.body, 'request', keysFor), (e: unknown) => e instanceof PeerwebError && e.code === 'PW_ERR_SIGNATURE_INVALID', 'another key cannot speak for the origin');
  const elsewhere = signNotice(buildNotice('http://evil.example', 9, [liar], 2_000), key, 'request');
  await assert.rejects(verifyNotice(fieldReader(elsewhere.headers), elsewhere.body, 'request', keysFor), /no publisher key is known for http:\/\/evil\.example/);
  const created = Math.floor(Date.now() / 1000);
  await assert.rejects(verifyNotice(fieldReader(s.headers), s.body, 'request', keysFor, created + 3601), /too old/, 'a captured notice is refused after an hour');

  let t = 3_000;
  const book = createDelistBook({ now: () => t });
  assert.equal(book.apply(n1), true);
  assert.equal(book.isDelisted('http://liar.example:8080/m/www/a.bin'), true);
  assert.equal(book.isDelisted('http://liar.example:8080/any/other/path'), true, 'every resource on the host');
  assert.equal(book.isDelisted('http://liar.example:8081/m/www/a.bin'), false);
  assert.equal(book.apply(buildNotice('http://www.example.com', 4, [], 1_000)), false, 'an older (replayed) notice does not undo a newer one');
  assert.equal(book.apply(buildNotice('http://www.example.com', 5, [], 1_000)), false);
  assert.equal(book.isDelisted('http://liar.example:8080/m/www/a.bin'), true);
  t = 10_000;
  assert.equal(book.isDelisted('http://liar.example:8080/m/www/a.bin'), false, 'the notice says until when');
});
