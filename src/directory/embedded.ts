import Database from 'better-sqlite3';
import { PeerwebError } from '../errors/index.js';
import {
  DEFAULT_DIRECTORY_LIMITS, checkDirPrefix, checkHolder, checkLookupPath, checkSite, holderKey, normalizeRegistration, selectEntries,
  type Directory, type DirectoryEntry, type DirectoryLimits, type Registration,
} from './types.js';

export interface EmbeddedDirectoryOptions {
  /** SQLite file; ':memory:' (the default) keeps it in memory. */
  readonly file?: string;
  readonly limits?: DirectoryLimits;
  /** Clock, ms since the epoch (fake clocks in tests). */
  readonly now?: () => number;
}

interface Row { site: string; prefix: string; holder: string; version: number; digest: string; expires: number }

/** The default directory: one SQLite table, served over HTTP by `directoryHttpHandler`. */
export function createEmbeddedDirectory(opts: EmbeddedDirectoryOptions = {}): Directory {
  const db = new Database(opts.file ?? ':memory:');
  db.pragma('journal_mode = WAL');
  db.exec(`CREATE TABLE IF NOT EXISTS holdings (
    site TEXT NOT NULL, prefix TEXT NOT NULL, holder TEXT NOT NULL, holder_key TEXT NOT NULL,
    version INTEGER NOT NULL, digest TEXT NOT NULL, expires INTEGER NOT NULL,
    PRIMARY KEY (site, prefix, holder));
    CREATE INDEX IF NOT EXISTS holdings_holder ON holdings (holder_key, expires);
    CREATE INDEX IF NOT EXISTS holdings_expires ON holdings (expires);`);
  const limits = opts.limits ?? DEFAULT_DIRECTORY_LIMITS;
  const now = opts.now ?? Date.now;
  const q = {
    purge: db.prepare('DELETE FROM holdings WHERE expires <= ?'),
    exists: db.prepare('SELECT 1 FROM holdings WHERE site = ? AND prefix = ? AND holder = ? AND expires > ?'),
    countSite: db.prepare('SELECT count(*) AS n FROM holdings WHERE site = ? AND expires > ?'),
    countHolder: db.prepare('SELECT count(*) AS n FROM holdings WHERE holder_key = ? AND expires > ?'),
    upsert: db.prepare(`INSERT INTO holdings (site, prefix, holder, holder_key, version, digest, expires) VALUES (?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT (site, prefix, holder) DO UPDATE SET version = excluded.version, digest = excluded.digest, expires = excluded.expires`),
    bySite: db.prepare('SELECT site, prefix, holder, version, digest, expires FROM holdings WHERE site = ? AND expires > ? LIMIT ?'),
    del: db.prepare('DELETE FROM holdings WHERE site = ? AND prefix = ? AND holder = ?'),
  };
  let closed = false;
  const register = db.transaction((e: DirectoryEntry, t: number): DirectoryEntry => {
    if (!q.exists.get(e.site, e.prefix, e.holder, t)) {
      const site = (q.countSite.get(e.site, t) as { n: number }).n;
      if (site >= limits.maxPerSite) throw new PeerwebError('PW_ERR_DIRECTORY_CAP', { reason: `site ${e.site} already has ${site} holders (cap ${limits.maxPerSite})` });
      const hk = holderKey(e.holder);
      const held = (q.countHolder.get(hk, t) as { n: number }).n;
      if (held >= limits.maxPerHolder) throw new PeerwebError('PW_ERR_DIRECTORY_CAP', { reason: `holder ${hk} already has ${held} registrations (cap ${limits.maxPerHolder})` });
    }
    q.upsert.run(e.site, e.prefix, e.holder, holderKey(e.holder), e.version, e.digest, e.expires);
    return e;
  });
  return {
    async register(r: Registration) {
      const t = now();
      return register(normalizeRegistration(r, t, limits), t);
    },
    async lookup(site: string, prefix?: string) {
      checkSite(site);
      if (prefix !== undefined) checkLookupPath(prefix);
      // All live entries of the site are few (capped by maxPerSite); selection happens in one place for every backend.
      const rows = q.bySite.all(site, now(), limits.maxPerSite) as Row[];
      return selectEntries(rows.map((r) => ({ site: r.site, prefix: r.prefix, version: r.version, digest: r.digest, holder: r.holder, expires: r.expires })), prefix, limits.maxResults);
    },
    async unregister(site: string, prefix: string, holder: string) {
      return q.del.run(checkSite(site), checkDirPrefix(prefix), checkHolder(holder)).changes > 0;
    },
    async purgeExpired() {
      return q.purge.run(now()).changes;
    },
    async close() {
      if (!closed) { closed = true; db.close(); }
    },
  };
}
