import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { formatReprDigest, parseDigestField, formatLegacyDigest, parseLegacyDigest, parseLinkHeader, formatLink } from '../../../src/http/index.js';
import { isPeerwebError } from '../../../src/errors/index.js';

const sha = createHash('sha256').update('hello').digest();

test('Repr-Digest format and parse', () => {
  const v = formatReprDigest({ 'sha-256': sha });
  assert.equal(v, `sha-256=:${sha.toString('base64')}:`);
  const m = parseDigestField(`${v}, sha-512=:AAAA:, other=1`);
  assert.deepEqual(m.get('sha-256'), sha);
  assert.deepEqual(m.get('sha-512'), Buffer.from('AAAA', 'base64'));
  assert.equal(m.has('other'), false);
  assert.equal(parseDigestField('sha-256=abc').size, 0); // a token, not a byte sequence: skipped
  assert.throws(() => parseDigestField('SHA-256=:AAAA:'), (e: unknown) => isPeerwebError(e, 'PW_ERR_SF_PARSE'));
  assert.throws(() => parseDigestField('sha-256=:!!:'), (e: unknown) => isPeerwebError(e, 'PW_ERR_SF_PARSE'));
});

test('legacy Digest format and parse', () => {
  const v = formatLegacyDigest({ 'sha-256': sha });
  assert.equal(v, `SHA-256=${sha.toString('base64')}`);
  const m = parseLegacyDigest(`${v}, MD5=AAAA, bad, sha-256=ZZZZ, unix=abc!`);
  assert.deepEqual(m.get('sha-256'), sha);
  assert.deepEqual(m.get('md5'), Buffer.from('AAAA', 'base64'));
  assert.equal(m.size, 2);
});

test('Link parse', () => {
  const links = parseLinkHeader('<https://m1.example/a.iso>; rel=duplicate; pri=1, <https://m2.example/a.iso>;rel="duplicate"; PRI="2"; rel=other; title="a, \\"b\\""');
  assert.deepEqual(links, [
    { uri: 'https://m1.example/a.iso', params: { rel: 'duplicate', pri: '1' } },
    { uri: 'https://m2.example/a.iso', params: { rel: 'duplicate', pri: '2', title: 'a, "b"' } },
  ]);
  assert.deepEqual(parseLinkHeader('<a>; x'), [{ uri: 'a', params: { x: '' } }]);
  assert.deepEqual(parseLinkHeader('<a>; rel=x, garbage, <b>'), [{ uri: 'a', params: { rel: 'x' } }]);
  assert.deepEqual(parseLinkHeader(undefined), []);
  assert.deepEqual(parseLinkHeader(''), []);
});

test('Link format', () => {
  assert.equal(formatLink('https://m1.example/a.iso', { rel: 'duplicate', pri: 1 }), '<https://m1.example/a.iso>; rel=duplicate; pri=1');
  assert.equal(formatLink('https://x/a b>c', { title: 'a b' }), '<https://x/a%20b%3Ec>; title="a b"');
  const round = parseLinkHeader(formatLink('https://x/é', { rel: 'duplicate' }));
  assert.deepEqual(round, [{ uri: 'https://x/%C3%A9', params: { rel: 'duplicate' } }]);
});
