import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildArchive, openArchive } from '../../../src/archive/index.js';
import { discoverDirectories, dnsKeyResolver, keyRecordRdata } from '../../../src/directory/index.js';
import { generatePublisherKey, txtRecordValue } from '../../../src/integrity/keys.js';
import { isPeerwebError } from '../../../src/errors/index.js';
import { main } from '../../../src/cli/main.js';
import { DNSMASQ, startDnsmasq, type Dnsmasq } from './dnsmasq.js';

const skip = DNSMASQ ? false : 'dnsmasq is not installed (Debian package dnsmasq); CI installs it';
const SITE = fileURLToPath(new URL('../../fixtures/archive/site/', import.meta.url));
const current = generatePublisherKey();
const next = generatePublisherKey();
const keyOnly = generatePublisherKey();
let dns: Dnsmasq | undefined;

before(async () => {
  if (!DNSMASQ) return;
  dns = await startDnsmasq([
    // Answer NXDOMAIN (not REFUSED) for other names of these zones, as their authoritative servers would.
    'local=/example.com/', 'local=/example/',
    // Two keys for rotation, plus records that must be ignored.
    `txt-record=_peerweb-key.www.example.com,"${txtRecordValue(current.publicKey)}"`,
    `txt-record=_peerweb-key.www.example.com,"${txtRecordValue(next.publicKey)}"`,
    'txt-record=_peerweb-key.www.example.com,"v=peerweb1; k=rsa; p=AAAA"',
    'txt-record=_peerweb-key.www.example.com,"unrelated text"',
    // The KEY record type (25) of the original proposal.
    `dns-rr=_peerweb-key.keyonly.example.com,25,${keyRecordRdata(keyOnly.publicKey).toString('hex')}`,
    'srv-host=_webldap._tcp.example.com,ldap1.example.com,3891,0,10',
    'srv-host=_ldap._tcp.example.com,ldap2.example.com,3892,10,10',
    'srv-host=_ldap._tcp.example.com,ldap3.example.com,3893,5,10',
    'srv-host=_peerweb-dir._tcp.example.com,dir.example.com,8443,0,10',
    'srv-host=_peerweb-dir._tcp.httponly.example,dir.example.com,8080,0,10',
    'host-record=ldap1.example.com,127.0.0.11',
    'host-record=ldap2.example.com,127.0.0.12',
    'host-record=ldap3.example.com,127.0.0.13',
    'host-record=dir.example.com,127.0.0.14',
  ]);
});
after(async () => { await dns?.stop(); });

test('publisher keys come from TXT records (several for rotation) and KEY records', { skip }, async () => {
  const r = dnsKeyResolver({ server: dns!.server, timeout: 2000 });
  assert.deepEqual((await r.keysFor('www.example.com')).map((k) => k.keyId).sort(), [current.keyId, next.keyId].sort());
  assert.deepEqual((await r.keysFor('keyonly.example.com')).map((k) => k.keyId), [keyOnly.keyId]);
  assert.deepEqual(await r.keysFor('nokey.example.com'), []);
});

test('archives verify against keys in DNS; unknown keys and hosts without keys are refused', { skip }, async () => {
  const trust = dnsKeyResolver({ server: dns!.server, timeout: 2000 });
  const now = Date.parse('2026-01-02T00:00:00Z');
  const opts = { dir: SITE, origin: 'https://www.example.com', prefix: '/', notBefore: Date.parse('2026-01-01T00:00:00Z'), validFor: 7 * 86_400_000 };
  for (const key of [current, next]) {
    const site = await openArchive({ bytes: buildArchive({ ...opts, key }) }, trust, { now: () => now });
    assert.equal(site.keyId, key.keyId);
    await site.close();
  }
  await assert.rejects(openArchive({ bytes: buildArchive({ ...opts, key: generatePublisherKey() }) }, trust, { now: () => now }), (e) => isPeerwebError(e, 'PW_ERR_ARCHIVE_UNKNOWN_KEY'));
  await assert.rejects(openArchive({ bytes: buildArchive({ ...opts, origin: 'https://nokey.example.com', key: current }) }, trust, { now: () => now }), (e) => isPeerwebError(e, 'PW_ERR_ARCHIVE_UNKNOWN_KEY'));
  const k = await openArchive({ bytes: buildArchive({ ...opts, origin: 'https://keyonly.example.com', key: keyOnly }) }, trust, { now: () => now });
  await k.close();
});

test('peerweb archive verify --dns asks the given server', { skip }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pw-dns-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'site.pwar');
  writeFileSync(file, buildArchive({ dir: SITE, origin: 'https://www.example.com', prefix: '/', notBefore: Date.now() - 1000, validFor: 86_400_000, key: next }));
  let out = '';
  let err = '';
  const io = { stdout: { write: (s: string) => { out += s; return true; } }, stderr: { write: (s: string) => { err += s; return true; } }, env: {} };
  assert.equal(await main(['archive', 'verify', file, '--dns', dns!.server], io), 0, err);
  assert.match(out, /^OK https:\/\/www\.example\.com\//);
  writeFileSync(file, buildArchive({ dir: SITE, origin: 'https://www.example.com', prefix: '/', notBefore: Date.now() - 1000, validFor: 86_400_000, key: generatePublisherKey() }));
  assert.equal(await main(['archive', 'verify', file, '--dns', dns!.server], io), 1);
  assert.match(err, /not published for that host/);
});

test('directory servers are found through SRV in the order _webldap, _ldap (by priority), _peerweb-dir', { skip }, async () => {
  const found = await discoverDirectories('example.com', { server: dns!.server, timeout: 2000 });
  assert.deepEqual(found.map((s) => s.url), [
    'ldap://127.0.0.11:3891', 'ldap://127.0.0.13:3893', 'ldap://127.0.0.12:3892',
    'http://127.0.0.14:8443/.well-known/peerweb/directory',
  ]);
  assert.deepEqual((await discoverDirectories('httponly.example', { server: dns!.server })).map((s) => s.kind), ['http']);
  await assert.rejects(discoverDirectories('none.example', { server: dns!.server }), (e) => isPeerwebError(e, 'PW_ERR_DIRECTORY_UNAVAILABLE'));
});
