import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { Fields } from '../../../src/http/index.js';
import { isPeerwebError } from '../../../src/errors/index.js';
import {
  fieldReader, formatDigestField, generatePublisherKey, sha256, signatureBase, signMessage, verifyMessage, type PublisherKey,
} from '../../../src/integrity/index.js';

// RFC 9421 Appendix B.1.4 test key and B.2.6 example (Ed25519 is deterministic, so the bytes must match).
const RFC_PRIVATE = '-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIJ+DYvh6SEqVTm50DFtMDoQikTmiCqirVv9mWG9qfSnF\n-----END PRIVATE KEY-----\n';
const RFC_SIG = 'wqcAqbmYJ2ji2glfAMaRy4gruYYnx2nEFN2HN6jrnDnQCK1u02Gb04v9EDgwUPiu4A0w6vuQv5lIp5WPpBKRCw==';

function rfcRequest() {
  const f = new Fields([
    ['Host', 'example.com'],
    ['Date', 'Tue, 20 Apr 2021 02:07:55 GMT'],
    ['Content-Type', 'application/json'],
    ['Content-Digest', 'sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:'],
    ['Content-Length', '18'],
  ]);
  return { method: 'POST', targetUri: 'https://example.com/foo?param=Value&Pet=dog', field: fieldReader(f) };
}

test('RFC 9421 B.2.6: Ed25519 signature over the example request matches byte for byte and verifies', () => {
  const privateKey = createPrivateKey(RFC_PRIVATE);
  const key: PublisherKey = { privateKey, publicKey: createPublicKey(privateKey), keyId: 'test-key-ed25519' };
  const msg = rfcRequest();
  const components = ['date', '@method', '@path', '@authority', 'content-type', 'content-length'];
  const base = signatureBase(msg, components, '("date" "@method" "@path" "@authority" "content-type" "content-length");created=1618884473;keyid="test-key-ed25519"');
  assert.equal(base.split('\n')[2], '"@path": /foo');
  // The RFC's own Signature-Input, verified with our code.
  const withSig = new Fields(rfcRequestFields());
  withSig.set('Signature-Input', 'sig-b26=("date" "@method" "@path" "@authority" "content-type" "content-length");created=1618884473;keyid="test-key-ed25519"');
  withSig.set('Signature', `sig-b26=:${RFC_SIG}:`);
  const v = verifyMessage({ ...msg, field: fieldReader(withSig) }, { keys: (id) => (id === 'test-key-ed25519' ? key.publicKey : undefined), required: ['@method', '@path'], now: 1618884473 });
  assert.equal(v.label, 'sig-b26');
  // One changed byte in a covered field must fail.
  withSig.set('Content-Length', '19');
  assert.throws(() => verifyMessage({ ...msg, field: fieldReader(withSig) }, { keys: () => key.publicKey, required: [], now: 1618884473 }), (e) => isPeerwebError(e, 'PW_ERR_SIGNATURE_INVALID'));
});

function rfcRequestFields(): [string, string][] {
  return [
    ['Host', 'example.com'], ['Date', 'Tue, 20 Apr 2021 02:07:55 GMT'], ['Content-Type', 'application/json'], ['Content-Length', '18'],
  ];
}

test('signMessage writes alg and keyid parameters and its output verifies', () => {
  const privateKey = createPrivateKey(RFC_PRIVATE);
  const key: PublisherKey = { privateKey, publicKey: createPublicKey(privateKey), keyId: 'test-key-ed25519' };
  const msg = rfcRequest();
  const out = signMessage(msg, { key, components: ['@method', '@target-uri'], created: 1618884473, label: 'x' });
  assert.match(out.signatureInput, /^x=\("@method" "@target-uri"\);created=1618884473;alg="ed25519";keyid="test-key-ed25519"$/);
  const f = new Fields(rfcRequestFields()).set('Signature-Input', out.signatureInput).set('Signature', out.signature);
  assert.equal(verifyMessage({ ...msg, field: fieldReader(f) }, { keys: () => key.publicKey, required: ['@method', '@target-uri'], now: 1618884473 }).keyId, 'test-key-ed25519');
});

test('a push signature covers method, target URI and content digest; changing any of them fails', () => {
  const key = generatePublisherKey();
  const body = Buffer.from('hello mirror');
  const headers: Record<string, string> = { 'content-digest': formatDigestField(sha256(body)) };
  const msg = { method: 'PUT', targetUri: 'http://m1.example/www.example.com/a.txt', field: fieldReader(headers) };
  const s = signMessage(msg, { key, components: ['@method', '@target-uri', 'content-digest'] });
  const signed = { ...headers, 'signature-input': s.signatureInput, signature: s.signature };
  const opts = { keys: (id: string) => (id === key.keyId ? key.publicKey : undefined), required: ['@method', '@target-uri', 'content-digest'] };
  assert.equal(verifyMessage({ ...msg, field: fieldReader(signed) }, opts).keyId, key.keyId);
  assert.throws(() => verifyMessage({ ...msg, method: 'DELETE', field: fieldReader(signed) }, opts), (e) => isPeerwebError(e, 'PW_ERR_SIGNATURE_INVALID'));
  assert.throws(() => verifyMessage({ ...msg, targetUri: 'http://m1.example/www.example.com/b.txt', field: fieldReader(signed) }, opts), (e) => isPeerwebError(e, 'PW_ERR_SIGNATURE_INVALID'));
  assert.throws(() => verifyMessage({ ...msg, field: fieldReader({ ...signed, 'content-digest': formatDigestField(sha256('other')) }) }, opts), (e) => isPeerwebError(e, 'PW_ERR_SIGNATURE_INVALID'));
  // Another key, an unknown key id, a signature that does not cover content-digest.
  const other = generatePublisherKey();
  assert.throws(() => verifyMessage({ ...msg, field: fieldReader(signed) }, { ...opts, keys: () => other.publicKey }), (e) => isPeerwebError(e, 'PW_ERR_SIGNATURE_INVALID'));
  const partial = signMessage(msg, { key, components: ['@method', '@target-uri'] });
  assert.throws(() => verifyMessage({ ...msg, field: fieldReader({ ...headers, 'signature-input': partial.signatureInput, signature: partial.signature }) }, opts), (e) => isPeerwebError(e, 'PW_ERR_SIGNATURE_MISSING'));
  assert.throws(() => verifyMessage({ ...msg, field: fieldReader(headers) }, opts), (e) => isPeerwebError(e, 'PW_ERR_SIGNATURE_MISSING'));
  // Too old and expired.
  const old = signMessage(msg, { key, components: ['@method', '@target-uri', 'content-digest'], created: 1000, expires: 2000 });
  assert.throws(() => verifyMessage({ ...msg, field: fieldReader({ ...headers, 'signature-input': old.signatureInput, signature: old.signature }) }, opts), /too old/);
});

test('malformed signature fields are refused with a clear reason', () => {
  const msg = { method: 'PUT', targetUri: 'http://m/a', field: fieldReader({ 'signature-input': 'sig1=("@method"', signature: 'sig1=:AAAA:' }) };
  assert.throws(() => verifyMessage(msg, { keys: () => undefined, required: [] }), /Signature \? is invalid/);
});
