import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Fields } from '../../../src/http/index.js';
import { formatDigestField, generatePublisherKey, sha256, strongEtag } from '../../../src/integrity/index.js';
import { createOriginFront, type ContentSource } from '../../../src/mirror/index.js';

const source: ContentSource = { get: async () => undefined, list: async () => [] };

test('decorate adds integrity headers and links only to responses that may be mirrored', async (t) => {
  const front = createOriginFront({ key: generatePublisherKey(), source, policy: { mode: 'open', allow: [], maxMirrors: 4 }, publicBase: 'http://www.example.com', pieceSize: 1024, pieceThreshold: 4096 });
  t.after(() => front.close());
  front.registry.add('http://m1.example/www/', ['/d/']);
  front.registry.markVerified('http://m1.example/www/', 1);
  front.registry.add('http://m2.example/', ['/other/']);
  front.registry.markVerified('http://m2.example/', 1);
  const d = sha256('body');
  const run = (reqHeaders: Record<string, string>, resHeaders: [string, string][], size = 4) => {
    const h = new Fields(resHeaders);
    front.decorate({ path: '/d/file.bin', method: 'GET', requestHeaders: reqHeaders }, 200, h, { digest: d, size });
    return h;
  };
  const plain = run({}, [['Cache-Control', 'max-age=60']]);
  assert.equal(plain.get('repr-digest'), formatDigestField(d));
  assert.equal(plain.get('etag'), strongEtag(d));
  assert.equal(plain.get('digest'), `SHA-256=${d.toString('base64')}`);
  assert.equal(plain.get('link'), undefined);
  const listed = run({ 'list-mirrors': '?1' }, [], 10_000);
  assert.deepEqual(listed.getAll('link'), [
    '<http://www.example.com/.well-known/peerweb/metalink/d/file.bin>; rel=describedby; type="application/metalink4+xml"',
    '<http://m1.example/www/d/file.bin>; rel=duplicate; pri=1',
  ]);
  assert.equal(run({ 'list-mirrors': '?0' }, []).get('link'), undefined);
  for (const [req, res] of [
    [{}, [['Cache-Control', 'private']]], [{}, [['Cache-Control', 'no-store']]], [{}, [['Set-Cookie', 'id=1']]], [{ authorization: 'Bearer x' }, []],
  ] as [Record<string, string>, [string, string][]][]) {
    const h = run({ ...req, 'list-mirrors': '?1' }, res);
    assert.equal(h.get('repr-digest'), undefined, JSON.stringify([req, res]));
    assert.equal(h.get('link'), undefined);
  }
  assert.equal(run({ authorization: 'Bearer x' }, [['Cache-Control', 'public, max-age=5']]).get('repr-digest'), formatDigestField(d));
  front.registry.delist('http://m1.example/www/', 'lied');
  assert.deepEqual(run({ 'list-mirrors': '?1' }, []).getAll('link'), [], 'delisting takes effect on the next response');
});
