import { after } from 'node:test';
import { createLdapDirectory } from '../../../src/directory/index.js';
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
