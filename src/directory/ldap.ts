import { createHash } from 'node:crypto';
import { AndFilter, Attribute, Change, Client, EqualityFilter, GreaterThanEqualsFilter, LessThanEqualsFilter, NoSuchObjectError, type Entry } from 'ldapts';
import { PeerwebError } from '../errors/index.js';
import {
  DEFAULT_DIRECTORY_LIMITS, checkDirPrefix, checkHolder, checkLookupPath, checkSite, holderKey, normalizeRegistration, selectEntries,
  type Directory, type DirectoryEntry, type DirectoryLimits, type Registration,
} from './types.js';

export interface LdapDirectoryOptions {
  /** ldap://HOST:PORT (an IP, or a name the system resolver knows; SRV targets are resolved by the caller). */
  readonly url: string;
  /** Base DN under which pwHolding entries live (created when missing, as an organizationalUnit). */
  readonly base: string;
  readonly bindDn?: string | undefined;
  readonly password?: string | undefined;
  readonly limits?: DirectoryLimits;
  readonly now?: () => number;
  readonly timeout?: number;
}

/** Entry name: a digest of (site, prefix, holder), so a re-registration replaces the same entry. */
function holdingId(site: string, prefix: string, holder: string): string {
  return createHash('sha256').update(`${site}\n${prefix}\n${holder}`).digest('hex').slice(0, 40);
}

function one(e: Entry, attr: string): string {
  const v = e[attr];
  const s = Array.isArray(v) ? v[0] : v;
  return s === undefined ? '' : Buffer.isBuffer(s) ? s.toString('utf8') : String(s);
}

/**
 * The directory in OpenLDAP with the peerweb schema (schema/peerweb.schema). Caps are checked
 * before a new registration is added and again after: a writer that then sees more live entries
 * than the cap takes its own entry back. So concurrent writers can never leave a cap overshot
 * (the last of them to count would have seen every kept entry); writers that backed off try
 * again after a random pause, and are refused only after a few collisions.
 */
/** Tries of one registration that collided with other writers at a cap. */
const CAP_ATTEMPTS = 4;

export function createLdapDirectory(opts: LdapDirectoryOptions): Directory {
  const limits = opts.limits ?? DEFAULT_DIRECTORY_LIMITS;
  const now = opts.now ?? Date.now;
  const client = new Client({ url: opts.url, timeout: opts.timeout ?? 10_000, connectTimeout: opts.timeout ?? 10_000 });
  let ready: Promise<void> | undefined;
  const unavailable = (err: unknown): never => {
    if (err instanceof PeerwebError) throw err;
    throw new PeerwebError('PW_ERR_DIRECTORY_UNAVAILABLE', { server: opts.url, reason: (err as Error).message }, { cause: err });
  };
  const connect = (): Promise<void> => {
    ready ??= (async () => {
      if (opts.bindDn) await client.bind(opts.bindDn, opts.password ?? '');
      try {
        await client.search(opts.base, { scope: 'base', attributes: ['1.1'] });
      } catch (err) {
        if (!(err instanceof NoSuchObjectError)) throw err;
        const rdn = /^ou=([^,]+),/i.exec(opts.base);
        if (!rdn) throw err;
        await client.add(opts.base, { objectClass: ['top', 'organizationalUnit'], ou: rdn[1]! });
      }
    })().catch((err: unknown) => { ready = undefined; throw err; });
    return ready;
  };
  const live = (attr: string, value: string, t: number): AndFilter => new AndFilter({
    filters: [new EqualityFilter({ attribute: 'objectClass', value: 'pwHolding' }), new EqualityFilter({ attribute: attr, value }), new GreaterThanEqualsFilter({ attribute: 'pwExpires', value: String(t + 1) })],
  });
  const count = async (attr: string, value: string, t: number, cap: number): Promise<number> => {
    const r = await client.search(opts.base, { scope: 'one', filter: live(attr, value, t), attributes: ['1.1'], sizeLimit: cap + 1 }).catch((err: unknown) => {
      if ((err as { code?: number }).code === 4) return { searchEntries: new Array(cap + 1) as Entry[] }; // size limit exceeded
      throw err;
    });
    return r.searchEntries.length;
  };
  const dnOf = (site: string, prefix: string, holder: string): string => `pwHoldingId=${holdingId(site, prefix, holder)},${opts.base}`;
  return {
    async register(r: Registration): Promise<DirectoryEntry> {
      const t = now();
      const e = normalizeRegistration(r, t, limits);
      try {
        await connect();
        const dn = dnOf(e.site, e.prefix, e.holder);
        const existing = await client.search(dn, { scope: 'base', attributes: ['pwExpires'] }).then((x) => x.searchEntries[0], (err: unknown) => {
          if (err instanceof NoSuchObjectError) return undefined;
          throw err;
        });
        if (existing && Number(one(existing, 'pwExpires')) > t) {
          await client.modify(dn, [
            new Change({ operation: 'replace', modification: new Attribute({ type: 'pwVersion', values: [String(e.version)] }) }),
            new Change({ operation: 'replace', modification: new Attribute({ type: 'pwDigest', values: [e.digest] }) }),
            new Change({ operation: 'replace', modification: new Attribute({ type: 'pwExpires', values: [String(e.expires)] }) }),
          ]);
          return e;
        }
        const hk = holderKey(e.holder);
        if (existing) await client.del(dn);
        // Writers that collided back off and try again after a random pause, a few times: the cap
        // is never overshot, and a burst of writers still gets its places.
        for (let attempt = 1; ; attempt++) {
          const site = await count('pwSite', e.site, t, limits.maxPerSite);
          if (site >= limits.maxPerSite) throw new PeerwebError('PW_ERR_DIRECTORY_CAP', { reason: `site ${e.site} already has ${site} holders (cap ${limits.maxPerSite})` });
          const held = await count('pwHolderKey', hk, t, limits.maxPerHolder);
          if (held >= limits.maxPerHolder) throw new PeerwebError('PW_ERR_DIRECTORY_CAP', { reason: `holder ${hk} already has ${held} registrations (cap ${limits.maxPerHolder})` });
          await client.add(dn, {
            objectClass: ['top', 'pwHolding'], pwHoldingId: holdingId(e.site, e.prefix, e.holder), pwSite: e.site, pwPrefix: e.prefix,
            pwHolder: e.holder, pwHolderKey: hk, pwVersion: String(e.version), pwDigest: e.digest, pwExpires: String(e.expires),
          });
          // Another writer may have added in between: count again, including this entry, and back off when over.
          const siteAfter = await count('pwSite', e.site, t, limits.maxPerSite);
          const heldAfter = siteAfter > limits.maxPerSite ? 0 : await count('pwHolderKey', hk, t, limits.maxPerHolder);
          if (siteAfter <= limits.maxPerSite && heldAfter <= limits.maxPerHolder) break;
          await client.del(dn).catch(() => undefined);
          if (attempt >= CAP_ATTEMPTS) {
            throw new PeerwebError('PW_ERR_DIRECTORY_CAP', {
              reason: siteAfter > limits.maxPerSite
                ? `site ${e.site} reached its cap of ${limits.maxPerSite} holders while this registration was added`
                : `holder ${hk} reached its cap of ${limits.maxPerHolder} registrations while this registration was added`,
            });
          }
          await new Promise((r) => setTimeout(r, 5 + Math.random() * 20 * 2 ** attempt));
        }
        return e;
      } catch (err) {
        return unavailable(err);
      }
    },
    async lookup(site: string, prefix?: string): Promise<DirectoryEntry[]> {
      checkSite(site);
      if (prefix !== undefined) checkLookupPath(prefix);
      try {
        await connect();
        const r = await client.search(opts.base, {
          scope: 'one', filter: live('pwSite', site, now()), sizeLimit: limits.maxPerSite,
          attributes: ['pwSite', 'pwPrefix', 'pwHolder', 'pwVersion', 'pwDigest', 'pwExpires'],
        });
        const entries = r.searchEntries.map((e) => ({
          site: one(e, 'pwSite'), prefix: one(e, 'pwPrefix'), holder: one(e, 'pwHolder'),
          version: Number(one(e, 'pwVersion')), digest: one(e, 'pwDigest'), expires: Number(one(e, 'pwExpires')),
        })).filter((e) => e.site === site && Number.isSafeInteger(e.version) && Number.isSafeInteger(e.expires));
        return selectEntries(entries, prefix, limits.maxResults);
      } catch (err) {
        return unavailable(err);
      }
    },
    async unregister(site: string, prefix: string, holder: string): Promise<boolean> {
      const dn = dnOf(checkSite(site), checkDirPrefix(prefix), checkHolder(holder));
      try {
        await connect();
        await client.del(dn);
        return true;
      } catch (err) {
        if (err instanceof NoSuchObjectError) return false;
        return unavailable(err);
      }
    },
    async purgeExpired(): Promise<number> {
      try {
        await connect();
        const r = await client.search(opts.base, {
          scope: 'one', sizeLimit: 1000, attributes: ['1.1'],
          filter: new AndFilter({ filters: [new EqualityFilter({ attribute: 'objectClass', value: 'pwHolding' }), new LessThanEqualsFilter({ attribute: 'pwExpires', value: String(now()) })] }),
        });
        for (const e of r.searchEntries) await client.del(e.dn);
        return r.searchEntries.length;
      } catch (err) {
        return unavailable(err);
      }
    },
    async close(): Promise<void> {
      await client.unbind().catch(() => {});
    },
  };
}
