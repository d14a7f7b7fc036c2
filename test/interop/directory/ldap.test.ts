import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createLdapDirectory, DEFAULT_DIRECTORY_LIMITS } from '../../../src/directory/index.js';
import type { PeerwebError } from '../../../src/errors/index.js';
import { directoryConformance } from '../../unit/directory/conformance.js';
import { BASE, SLAPD, startSlapd, type Slapd } from './slapd.js';

// One slapd for the file; each conformance test gets its own empty base DN under ou=peerweb.
let server: Promise<Slapd> | undefined;
let n = 0;
after(async () => { if (server) await (await server).stop(); });

directoryConformance('ldap (OpenLDAP slapd with schema/peerweb.schema)', async (limits, now) => {
  server ??= startSlapd();
  const s = await server;
  // Anonymous writes: registration needs no account (the ACL allows writes under ou=peerweb only).
  const dir = createLdapDirectory({ url: s.url, base: `ou=t${++n},${BASE}`, limits, now });
  return { dir, close: () => dir.close() };
}, { skip: SLAPD ? false : 'slapd is not installed (Debian package slapd); CI installs it' });

test('ldap: concurrent registrations from separate connections never leave a site over its cap', { skip: SLAPD ? false : 'slapd is not installed (Debian package slapd); CI installs it' }, async () => {
  server ??= startSlapd();
  const s = await server;
  const base = `ou=race${++n},${BASE}`;
  const limits = { ...DEFAULT_DIRECTORY_LIMITS, maxPerSite: 3 };
  const site = 'https://race.example';
  // One client per writer, so the registrations really interleave at the server.
  const writers = Array.from({ length: 12 }, () => createLdapDirectory({ url: s.url, base, limits }));
  try {
    await writers[0]!.lookup(site); // creates the base entry once
    const results = await Promise.allSettled(writers.map((d, i) =>
      d.register({ site, prefix: '/', version: 1, digest: Buffer.alloc(32, i).toString('hex'), holder: `http://127.0.0.1:${9100 + i}/a.pwar` })));
    const ok = results.filter((r) => r.status === 'fulfilled').length;
    for (const r of results) {
      if (r.status === 'rejected') assert.equal((r.reason as PeerwebError).code, 'PW_ERR_DIRECTORY_CAP');
    }
    const listed = await writers[0]!.lookup(site);
    assert.ok(listed.length <= 3, `${listed.length} holders listed with a cap of 3`);
    assert.equal(listed.length, ok, 'every accepted registration is listed and no refused one is');
    // Once the contention is over, a refused writer that retries gets the free places.
    for (const [i, r] of results.entries()) {
      if (r.status === 'rejected' && (await writers[0]!.lookup(site)).length < 3) {
        await writers[i]!.register({ site, prefix: '/', version: 1, digest: Buffer.alloc(32, i).toString('hex'), holder: `http://127.0.0.1:${9100 + i}/a.pwar` });
      }
    }
    assert.equal((await writers[0]!.lookup(site)).length, 3);
  } finally {
    await Promise.all(writers.map((d) => d.close()));
  }
});
