import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from 'ldapts';
import { spawnDaemon } from '../../helpers/daemon.js';

export const SLAPD = ['/usr/sbin/slapd', '/usr/local/sbin/slapd'].find((p) => existsSync(p));
export const SCHEMA = fileURLToPath(new URL('../../../schema/peerweb.schema', import.meta.url));
export const SUFFIX = 'dc=example,dc=org';
export const ROOT_DN = `cn=admin,${SUFFIX}`;
export const ROOT_PW = 'secret';
export const BASE = `ou=peerweb,${SUFFIX}`;

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

export interface Slapd { readonly url: string; readonly port: number; readonly dir: string; stop(): Promise<void> }

/** Starts slapd in the foreground from a config in a temp folder, on loopback; resolves once it answers. */
export async function startSlapd(extra = '', opts: { port?: number; seed?: boolean; global?: string } = {}): Promise<Slapd> {
  // A port free when chosen may be taken before slapd binds it: retry with another.
  for (let attempt = 1; ; attempt++) {
    try { return await startOnce(extra, opts); } catch (err) {
      // slapd -d 0 says nothing on a failed bind; an early exit with a chosen port is retried.
      if (attempt >= 5 || opts.port !== undefined || !/^slapd exited/.test((err as Error).message)) throw err;
    }
  }
}

async function startOnce(extra: string, opts: { port?: number; seed?: boolean; global?: string }): Promise<Slapd> {
  if (!SLAPD) throw new Error('slapd not installed');
  const dir = mkdtempSync(join(tmpdir(), 'pw-slapd-'));
  mkdirSync(join(dir, 'db'));
  const port = opts.port ?? await freePort();
  writeFileSync(join(dir, 'slapd.conf'), `include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include ${SCHEMA}
pidfile ${join(dir, 'slapd.pid')}
modulepath /usr/lib/ldap
moduleload back_mdb
allow update_anon
sizelimit 5000
${opts.global ?? ''}
database mdb
maxsize 67108864
suffix "${SUFFIX}"
rootdn "${ROOT_DN}"
rootpw ${ROOT_PW}
directory ${join(dir, 'db')}
index objectClass eq
index pwSite eq
index pwHolderKey eq
index pwExpires eq
access to dn.subtree="${BASE}" by * write
access to * by * read
${extra}
`);
  const url = `ldap://127.0.0.1:${port}`;
  const daemon = spawnDaemon(SLAPD, ['-d', '0', '-h', `${url}/`, '-f', join(dir, 'slapd.conf')], dir);
  const stop = daemon.stop;
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (daemon.exited()) { await stop(); throw new Error(`slapd exited: ${daemon.stderr()}`); }
    const c = new Client({ url, connectTimeout: 500, timeout: 1000 });
    try {
      await c.bind(ROOT_DN, ROOT_PW);
      if (opts.seed !== false) {
        await c.add(SUFFIX, { objectClass: ['top', 'dcObject', 'organization'], dc: 'example', o: 'Example' }).catch((e: { code?: number }) => { if (e.code !== 68) throw e; });
        await c.add(BASE, { objectClass: ['top', 'organizationalUnit'], ou: 'peerweb' }).catch((e: { code?: number }) => { if (e.code !== 68) throw e; });
      }
      await c.unbind();
      break;
    } catch (err) {
      await c.unbind().catch(() => {});
      if (Date.now() > deadline) { await stop(); throw new Error(`slapd did not answer: ${(err as Error).message} ${daemon.stderr()}`); }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return { url, port, dir, stop };
}
