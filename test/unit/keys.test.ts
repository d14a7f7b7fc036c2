import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sign, verify } from 'node:crypto';
import { generatePublisherKey, loadPrivateKey, loadPublicKey, parseTxtRecordValue, saveKey, txtRecordValue, zoneFileLine } from '../../src/integrity/keys.js';

test('a key rebuilt from its DNS TXT value verifies signatures of the private key', () => {
  const key = generatePublisherKey();
  const msg = Buffer.from('manifest bytes');
  const sig = sign(null, msg, key.privateKey!);
  const fromDns = parseTxtRecordValue(txtRecordValue(key.publicKey));
  assert.equal(fromDns.keyId, key.keyId);
  assert.ok(verify(null, msg, fromDns.publicKey, sig));
  assert.ok(!verify(null, Buffer.from('other bytes'), fromDns.publicKey, sig));
  assert.match(zoneFileLine('www.example.com', key.publicKey), /^_peerweb-key\.www\.example\.com\. 3600 IN TXT "v=peerweb1; k=ed25519; p=[A-Za-z0-9+/]{43}="$/);
});

test('saved keys load back with the same id; the private file is owner-only', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pw-keys-'));
  try {
    const key = generatePublisherKey();
    const { privateFile, publicFile } = saveKey(key, dir);
    assert.equal(statSync(privateFile).mode & 0o777, 0o600);
    assert.equal(loadPrivateKey(privateFile).keyId, key.keyId);
    assert.equal(loadPublicKey(publicFile).keyId, key.keyId);
    assert.equal(loadPublicKey(txtRecordValue(key.publicKey).split('p=')[1]!).keyId, key.keyId);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('malformed TXT values are refused with the reason', () => {
  assert.throws(() => parseTxtRecordValue('v=spf1 -all'), /no "="|version/);
  assert.throws(() => parseTxtRecordValue('v=peerweb2; k=ed25519; p=AAAA'), /peerweb1/);
  assert.throws(() => parseTxtRecordValue('v=peerweb1; k=rsa; p=AAAA'), /ed25519/);
  assert.throws(() => parseTxtRecordValue('v=peerweb1; k=ed25519'), /no p=/);
  assert.throws(() => parseTxtRecordValue('v=peerweb1; k=ed25519; p=AAAA'), /base64 of 32 bytes/);
});
