import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { createLdapDirectory } from '../../../src/directory/index.js';
import { BASE, ROOT_DN, ROOT_PW, SLAPD, SUFFIX, startSlapd } from './slapd.js';

const skip = !SLAPD ? 'slapd is not installed (Debian package slapd); CI installs it'
  : !existsSync('/usr/lib/ldap/syncprov.la') ? 'the syncprov overlay of slapd is not installed' : false;

test('two OpenLDAP servers replicate the directory (syncrepl, refreshAndPersist)', { skip }, async (t) => {
  const provider = await startSlapd('overlay syncprov\nsyncprov-checkpoint 100 1\n', { global: 'moduleload syncprov' });
  t.after(() => provider.stop());
  const consumer = await startSlapd(
    `syncrepl rid=001 provider=${provider.url} type=refreshAndPersist retry="1 +" searchbase="${SUFFIX}" bindmethod=simple binddn="${ROOT_DN}" credentials=${ROOT_PW}\nupdateref ${provider.url}\n`,
    { seed: false },
  );
  t.after(() => consumer.stop());
  const writer = createLdapDirectory({ url: provider.url, base: BASE });
  const reader = createLdapDirectory({ url: consumer.url, base: BASE });
  t.after(async () => { await writer.close(); await reader.close(); });
  const entry = { site: 'https://www.example.com', prefix: '/', version: 7, digest: 'c'.repeat(64), holder: 'http://127.0.0.1:9009/site.pwar' };
  await writer.register(entry);
  const deadline = Date.now() + 15_000;
  let seen: Awaited<ReturnType<typeof reader.lookup>> = [];
  while (Date.now() < deadline) {
    seen = await reader.lookup(entry.site).catch(() => []);
    if (seen.length > 0) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.deepEqual(seen.map((e) => [e.holder, e.version]), [[entry.holder, 7]]);
  // Updates replicate too.
  await writer.register({ ...entry, version: 8 });
  while (Date.now() < deadline) {
    seen = await reader.lookup(entry.site).catch(() => []);
    if (seen[0]?.version === 8) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(seen[0]?.version, 8);
});
