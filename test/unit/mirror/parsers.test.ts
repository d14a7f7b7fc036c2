import { test } from 'node:test';
import assert from 'node:assert/strict';
import FakeTimers from '@sinonjs/fake-timers';
import { isPeerwebError } from '../../../src/errors/index.js';
import { pieceHashes, sha256 } from '../../../src/integrity/index.js';
import {
  addressRanges, buildMetalink, createRateLimiter, createRegistry, formatLink, isMirrorable, parseLinks, parseMetalink,
  parseSingleRange, parseWillMirror, refuseOffer,
} from '../../../src/mirror/index.js';

test('Metalink 4: what we write reads back; inconsistent or hostile documents are refused', () => {
  const data = Buffer.alloc(1000, 7);
  const doc = buildMetalink({ name: 'a&b.iso', size: 1000, digest: sha256(data), pieceSize: 300, pieces: pieceHashes(data, 300), urls: [{ url: 'http://m1/a', priority: 1 }, { url: 'http://o/a?x=1&y=2', priority: 2 }] });
  assert.match(doc, /<hash type="sha-256">[0-9a-f]{64}<\/hash>/);
  const m = parseMetalink(doc, 'test');
  assert.equal(m.name, 'a&b.iso');
  assert.equal(m.size, 1000);
  assert.deepEqual(m.digest, sha256(data));
  assert.equal(m.pieces?.length, 4);
  assert.deepEqual(m.urls, [{ url: 'http://m1/a', priority: 1 }, { url: 'http://o/a?x=1&y=2', priority: 2 }]);
  const bad = (xml: string) => assert.throws(() => parseMetalink(xml, 'test'), (e) => isPeerwebError(e, 'PW_ERR_METALINK_INVALID'));
  bad(doc.replace(/<hash>[0-9a-f]{64}<\/hash>\n/, '')); // one piece hash missing
  bad(doc.replace('<size>1000</size>', '<size>5000</size>'));
  bad(`<!DOCTYPE x [<!ENTITY e "boom">]>${doc}`);
  bad(doc.replace('type="sha-256">', 'type="md5">'));
  bad('<metalink xmlns="urn:ietf:params:xml:ns:metalink"></metalink>');
  // file: and javascript: URLs are skipped.
  assert.deepEqual(parseMetalink(doc.replace('http://m1/a', 'file:///etc/passwd'), 't').urls.map((u) => u.url), ['http://o/a?x=1&y=2']);
});

test('Link fields: duplicates with pri, describedby with type, relative references, several rels', () => {
  const v = [formatLink('http://m1/x', 'duplicate', { pri: 1 }), formatLink('/meta/x', 'describedby', { type: 'application/metalink4+xml' }), '<y>; rel="duplicate canonical"; pri=2', 'garbage, <z'].join(', ');
  const links = parseLinks(v, 'http://origin.example/dir/page');
  assert.deepEqual(links.map((l) => [l.href, l.rel]), [
    ['http://m1/x', 'duplicate'], ['http://origin.example/meta/x', 'describedby'],
    ['http://origin.example/dir/y', 'duplicate'], ['http://origin.example/dir/y', 'canonical'],
  ]);
  assert.equal(links[1]?.params.type, 'application/metalink4+xml');
  assert.equal(links[2]?.params.pri, '2');
});

test('single byte ranges', () => {
  assert.deepEqual(parseSingleRange('bytes=0-9', 100), { start: 0, end: 9 });
  assert.deepEqual(parseSingleRange('bytes=90-', 100), { start: 90, end: 99 });
  assert.deepEqual(parseSingleRange('bytes=-10', 100), { start: 90, end: 99 });
  assert.deepEqual(parseSingleRange('bytes=95-200', 100), { start: 95, end: 99 });
  assert.equal(parseSingleRange('bytes=100-', 100), 'unsatisfiable');
  assert.equal(parseSingleRange('bytes=0-1,5-6', 100), undefined);
  assert.equal(parseSingleRange('items=0-1', 100), undefined);
  assert.equal(parseSingleRange('bytes=9-1', 100), undefined);
  assert.equal(parseSingleRange(undefined, 100), undefined);
});

test('never mirrored: private, no-store, Set-Cookie, Authorization unless public', () => {
  const h = (o: Record<string, string>) => (n: string) => o[n];
  assert.ok(isMirrorable(h({}), 200, h({ 'cache-control': 'max-age=60' })));
  assert.ok(!isMirrorable(h({}), 200, h({ 'cache-control': 'private, max-age=60' })));
  assert.ok(!isMirrorable(h({}), 200, h({ 'cache-control': 'no-store' })));
  assert.ok(!isMirrorable(h({}), 200, h({ 'set-cookie': 'a=b' })));
  assert.ok(!isMirrorable(h({ authorization: 'Basic x' }), 200, h({})));
  assert.ok(isMirrorable(h({ authorization: 'Basic x' }), 200, h({ 'cache-control': 'public' })));
  assert.ok(!isMirrorable(h({}), 404, h({})));
});

test('mirror offers: Will-Mirror parsing and the origin policy', () => {
  assert.deepEqual(parseWillMirror('"/docs/", "/img/"; base="https://me.example/m/"'), { base: 'https://me.example/m/', prefixes: ['/docs/', '/img/'], restricted: false });
  assert.equal(parseWillMirror('"/docs/"; base="https://me.example/m/"; restricted').restricted, true);
  assert.equal(parseWillMirror('"/docs/"; base="https://me.example/m/"; restricted=?0').restricted, false);
  assert.throws(() => parseWillMirror('"/docs/"'), (e) => isPeerwebError(e, 'PW_ERR_MIRROR_BAD_REQUEST'));
  assert.throws(() => parseWillMirror('"/../"; base="https://me.example/"'), (e) => isPeerwebError(e, 'PW_ERR_MIRROR_BAD_REQUEST'));
  assert.throws(() => parseWillMirror('"/d/"; base="ftp://me.example/"'), (e) => isPeerwebError(e, 'PW_ERR_MIRROR_BAD_REQUEST'));
  const policy = { mode: 'allow-list' as const, allow: ['https://ok.example/'], maxMirrors: 2 };
  assert.equal(refuseOffer(policy, 'https://ok.example/m/', 0), undefined);
  assert.match(refuseOffer(policy, 'https://other.example/', 0) ?? '', /allow-list/);
  assert.match(refuseOffer(policy, 'https://ok.example/m/', 2) ?? '', /already has 2/);
  assert.match(refuseOffer({ ...policy, mode: 'closed' }, 'https://ok.example/', 0) ?? '', /no mirrors/);
  const reg = createRegistry();
  reg.add('http://a/', ['/x/']);
  reg.markVerified('http://a/', 1);
  reg.add('http://b/', ['/y/']);
  reg.markVerified('http://b/', 1);
  assert.deepEqual(reg.holding('/x/file').map((m) => m.base), ['http://a/']);
  reg.delist('http://a/', 'lied');
  reg.markVerified('http://a/', 2);
  assert.deepEqual(reg.holding('/x/file'), [], 'a delisted mirror is never listed again');
});

test('rate limiter: burst, refill over (fake) time, global cap; address ranges', () => {
  const clock = FakeTimers.createClock(0);
  const rl = createRateLimiter({ rate: 2, burst: 3, globalRate: 0, now: () => clock.now });
  assert.deepEqual([rl.take('a'), rl.take('a'), rl.take('a')], [0, 0, 0]);
  assert.equal(rl.take('a'), 1);
  assert.equal(rl.take('b'), 0, 'per source');
  clock.tick(500);
  assert.equal(rl.take('a'), 0);
  assert.ok(rl.take('a') > 0);
  const g = createRateLimiter({ rate: 0, burst: 1, globalRate: 2, now: () => clock.now });
  assert.deepEqual([g.take('x'), g.take('y'), g.take('z') > 0], [0, 0, true]);
  const inRange = addressRanges(['127.0.0.0/8', '::1/128']);
  assert.ok(inRange('127.0.0.3'));
  assert.ok(inRange('::ffff:127.0.0.1'));
  assert.ok(inRange('::1'));
  assert.ok(!inRange('10.1.2.3'));
});
