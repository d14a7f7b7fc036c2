import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createLdapDirectory, discoverDirectories } from '../../../src/directory/index.js';
import { DNSMASQ, startDnsmasq } from '../../integration/directory/dnsmasq.js';
import { BASE, SLAPD, startSlapd } from './slapd.js';

const skip = !SLAPD || !DNSMASQ ? 'slapd and dnsmasq are needed (Debian packages slapd, dnsmasq); CI installs them' : false;

test('a node finds the LDAP directory through _ldap._tcp SRV in DNS and registers there', { skip }, async (t) => {
  const ldap = await startSlapd();
  t.after(() => ldap.stop());
  const dns = await startDnsmasq(['local=/example.com/', `srv-host=_ldap._tcp.example.com,dir.example.com,${ldap.port},0,10`, 'host-record=dir.example.com,127.0.0.1']);
  t.after(() => dns.stop());
  const [server] = await discoverDirectories('example.com', { server: dns.server });
  assert.equal(server?.url, ldap.url);
  const dir = createLdapDirectory({ url: server!.url, base: `ou=srv,${BASE}` });
  t.after(() => dir.close());
  await dir.register({ site: 'https://www.example.com', prefix: '/', version: 3, digest: 'd'.repeat(64), holder: 'http://127.0.0.1:9010/a.pwar' });
  assert.deepEqual((await dir.lookup('https://www.example.com', '/search')).map((e) => e.version), [3]);
});
