import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** An Ed25519 publisher key. `keyId` names the public key in signatures and DNS. */
export interface PublisherKey {
  readonly publicKey: KeyObject;
  /** Absent for a key known only by its public half (from DNS or a pin). */
  readonly privateKey?: KeyObject;
  readonly keyId: string;
}

/** DER prefix of an Ed25519 SubjectPublicKeyInfo; the raw 32-byte key follows it. */
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

export function rawPublicKey(pub: KeyObject): Buffer {
  const der = pub.export({ format: 'der', type: 'spki' });
  if (der.length !== 44 || !der.subarray(0, 12).equals(ED25519_SPKI_PREFIX)) throw new Error('Key is not an Ed25519 public key');
  return der.subarray(12);
}

export function publicKeyFromRaw(raw: Buffer): KeyObject {
  if (raw.length !== 32) throw new Error(`Ed25519 public key must be 32 bytes, got ${raw.length}`);
  return createPublicKey({ key: Buffer.concat([ED25519_SPKI_PREFIX, raw]), format: 'der', type: 'spki' });
}

/** Base64 of the raw 32-byte key, as published in DNS (`p=`). */
export function publicKeyBase64(pub: KeyObject): string {
  return rawPublicKey(pub).toString('base64');
}

export function publicKeyFromBase64(b64: string): KeyObject {
  if (!/^[A-Za-z0-9+/]{42,43}=?$/.test(b64)) throw new Error(`Public key ${JSON.stringify(b64)} is not base64 of 32 bytes`);
  return publicKeyFromRaw(Buffer.from(b64, 'base64'));
}

/** Key id: base64url of the first 12 bytes of SHA-256 over the raw public key (16 characters). */
export function keyIdOf(pub: KeyObject): string {
  return createHash('sha256').update(rawPublicKey(pub)).digest().subarray(0, 12).toString('base64url');
}

export function generatePublisherKey(): PublisherKey {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  return { publicKey, privateKey, keyId: keyIdOf(publicKey) };
}

export function publisherKeyFromPublic(pub: KeyObject): PublisherKey {
  return { publicKey: pub, keyId: keyIdOf(pub) };
}

/** Writes `<name>.key` (PKCS#8 PEM, mode 0600) and `<name>.pub` (SPKI PEM) into `dir`; returns the paths. */
export function saveKey(key: PublisherKey, dir: string, name = 'peerweb'): { privateFile: string; publicFile: string } {
  if (!key.privateKey) throw new Error('Only a key with its private half can be saved');
  mkdirSync(dir, { recursive: true });
  const privateFile = join(dir, `${name}.key`);
  const publicFile = join(dir, `${name}.pub`);
  writeFileSync(privateFile, key.privateKey.export({ format: 'pem', type: 'pkcs8' }), { mode: 0o600 });
  writeFileSync(publicFile, key.publicKey.export({ format: 'pem', type: 'spki' }));
  return { privateFile, publicFile };
}

/** Loads a private key file (PEM PKCS#8) written by `saveKey` or OpenSSL. */
export function loadPrivateKey(file: string): PublisherKey {
  const privateKey = createPrivateKey(readFileSync(file));
  if (privateKey.asymmetricKeyType !== 'ed25519') throw new Error(`Key in ${file} is ${privateKey.asymmetricKeyType}, not ed25519`);
  const publicKey = createPublicKey(privateKey);
  return { privateKey, publicKey, keyId: keyIdOf(publicKey) };
}

/** Loads a public key given as a PEM file path or as the base64 `p=` value. */
export function loadPublicKey(fileOrBase64: string): PublisherKey {
  const pub = /^[A-Za-z0-9+/]{42,43}=?$/.test(fileOrBase64)
    ? publicKeyFromBase64(fileOrBase64)
    : createPublicKey(readFileSync(fileOrBase64));
  if (pub.asymmetricKeyType !== 'ed25519') throw new Error(`Key ${fileOrBase64} is not ed25519`);
  return publisherKeyFromPublic(pub);
}

/** The TXT record value to publish at `_peerweb-key.<host>`. */
export function txtRecordValue(pub: KeyObject): string {
  return `v=peerweb1; k=ed25519; p=${publicKeyBase64(pub)}`;
}

/** A zone-file line for the record. */
export function zoneFileLine(host: string, pub: KeyObject, ttl = 3600): string {
  return `_peerweb-key.${host.replace(/\.$/, '')}. ${ttl} IN TXT "${txtRecordValue(pub)}"`;
}

/** Parses a `_peerweb-key` TXT value; throws with the reason when it is not a peerweb1 ed25519 key. */
export function parseTxtRecordValue(txt: string): PublisherKey {
  const tags = new Map<string, string>();
  for (const part of txt.split(';')) {
    const t = part.trim();
    if (!t) continue;
    const eq = t.indexOf('=');
    if (eq <= 0) throw new Error(`Key record tag ${JSON.stringify(t)} has no "="`);
    tags.set(t.slice(0, eq).trim().toLowerCase(), t.slice(eq + 1).trim());
  }
  if (tags.get('v') !== 'peerweb1') throw new Error(`Key record version ${JSON.stringify(tags.get('v'))} is not peerweb1`);
  if ((tags.get('k') ?? 'ed25519') !== 'ed25519') throw new Error(`Key record type ${JSON.stringify(tags.get('k'))} is not ed25519`);
  const p = tags.get('p');
  if (!p) throw new Error('Key record has no p= public key');
  return publisherKeyFromPublic(publicKeyFromBase64(p));
}
