import Database from 'better-sqlite3';
import { PeerwebError } from '../errors/index.js';
import { DISK_APPLICATION_ID, DISK_FORMAT_VERSION } from './constants.js';

/**
 * The disk tier's metadata index: one SQLite database in WAL mode, opened in exclusive locking
 * mode (one process per store folder), with its on-disk format version in `user_version` and
 * its owner in `application_id`.
 */

const SCHEMA = `
CREATE TABLE entries (
  id INTEGER PRIMARY KEY,
  key TEXT NOT NULL,
  variant TEXT NOT NULL,
  digest TEXT NOT NULL,
  size INTEGER NOT NULL,
  data TEXT NOT NULL,
  tags TEXT NOT NULL,
  stored_at INTEGER NOT NULL,
  last_used INTEGER NOT NULL,
  lru INTEGER NOT NULL,
  meta_bytes INTEGER NOT NULL,
  UNIQUE (key, variant)
);
CREATE INDEX entries_digest ON entries (digest);
CREATE INDEX entries_lru ON entries (lru);
CREATE TABLE tags (
  tag TEXT NOT NULL,
  entry INTEGER NOT NULL,
  PRIMARY KEY (tag, entry)
) WITHOUT ROWID;
CREATE INDEX tags_entry ON tags (entry);
`;

/** A row as the delete paths need it. */
export interface RowRef {
  readonly id: number;
  readonly digest: string;
  readonly size: number;
  readonly meta_bytes: number;
}

export interface EntryRow {
  readonly key: string;
  readonly variant: string;
  readonly digest: string;
  readonly size: number;
  readonly data: string;
  readonly tags: string;
  readonly stored_at: number;
}

function sqliteCode(err: unknown): string {
  return typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : '';
}

function failOpen(dir: string, err: unknown): never {
  const code = sqliteCode(err);
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) throw new PeerwebError('PW_ERR_STORE_LOCKED', { dir }, { cause: err });
  if (code === 'SQLITE_NOTADB' || code.startsWith('SQLITE_CORRUPT')) {
    throw new PeerwebError('PW_ERR_STORE_FORMAT', { dir, reason: 'its index is not a peerweb store database' }, { cause: err });
  }
  throw new PeerwebError('PW_ERR_STORE_IO', { reason: `cannot open the index of ${dir}: ${(err as Error).message}` }, { cause: err });
}

/** Opens (creating when new) the index; refuses another program's database or an unknown format version. */
export function openIndex(file: string, dir: string): Database.Database {
  let db: Database.Database;
  try {
    db = new Database(file, { timeout: 0 });
  } catch (err) {
    failOpen(dir, err);
  }
  try {
    db.pragma('locking_mode = EXCLUSIVE');
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    // Takes the exclusive lock now (held until close) so a second process fails here, not later.
    db.exec('BEGIN IMMEDIATE; COMMIT');
    const appId = db.pragma('application_id', { simple: true }) as number;
    const version = db.pragma('user_version', { simple: true }) as number;
    if (appId === 0 && version === 0) {
      const tables = (db.prepare('SELECT COUNT(*) AS n FROM sqlite_master').get() as { n: number }).n;
      if (tables !== 0) throw new PeerwebError('PW_ERR_STORE_FORMAT', { dir, reason: 'its index is a database of another program' });
      db.transaction(() => {
        db.exec(SCHEMA);
        db.pragma(`application_id = ${DISK_APPLICATION_ID}`);
        db.pragma(`user_version = ${DISK_FORMAT_VERSION}`);
      })();
    } else if (appId !== DISK_APPLICATION_ID) {
      throw new PeerwebError('PW_ERR_STORE_FORMAT', { dir, reason: `its index belongs to another program (application id ${appId})` });
    } else if (version !== DISK_FORMAT_VERSION) {
      throw new PeerwebError('PW_ERR_STORE_FORMAT', { dir, reason: `on-disk format version ${version} is not known to this version of peerweb, which reads version ${DISK_FORMAT_VERSION}` });
    }
    return db;
  } catch (err) {
    db.close();
    if (err instanceof PeerwebError) throw err;
    failOpen(dir, err);
  }
}

/** The prepared statements of the disk tier. */
export function prepareStatements(db: Database.Database) {
  return {
    getKV: db.prepare<[string, string], RowRef & { data_len: number }>('SELECT id, digest, size, meta_bytes, length(data) AS data_len FROM entries WHERE key = ? AND variant = ?'),
    hasDigest: db.prepare<[string], { size: number }>('SELECT size FROM entries WHERE digest = ? LIMIT 1'),
    insert: db.prepare<[string, string, string, number, string, string, number, number, number, number]>(
      'INSERT INTO entries (key, variant, digest, size, data, tags, stored_at, last_used, lru, meta_bytes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)'),
    deleteId: db.prepare<[number]>('DELETE FROM entries WHERE id = ?'),
    deleteTags: db.prepare<[number]>('DELETE FROM tags WHERE entry = ?'),
    insertTag: db.prepare<[string, number]>('INSERT OR IGNORE INTO tags (tag, entry) VALUES (?, ?)'),
    lookup: db.prepare<[string], EntryRow>('SELECT key, variant, digest, size, data, tags, stored_at FROM entries WHERE key = ? ORDER BY id DESC'),
    byKey: db.prepare<[string], RowRef & { variant: string }>('SELECT id, digest, size, meta_bytes, variant FROM entries WHERE key = ? ORDER BY id DESC'),
    byDigest: db.prepare<[string], RowRef>('SELECT id, digest, size, meta_bytes FROM entries WHERE digest = ?'),
    updateData: db.prepare<[string, number, number]>('UPDATE entries SET data = ?, meta_bytes = ? WHERE id = ?'),
    touch: db.prepare<[number, number, string, string]>('UPDATE entries SET last_used = ?, lru = ? WHERE key = ? AND variant = ?'),
    lruBatch: db.prepare<[number], RowRef>('SELECT id, digest, size, meta_bytes FROM entries ORDER BY lru LIMIT ?'),
    prefixBatch: db.prepare<[string, number], RowRef & { key: string }>('SELECT id, key, digest, size, meta_bytes FROM entries WHERE key >= ? ORDER BY key LIMIT ?'),
    tagBatch: db.prepare<[string, number], RowRef>('SELECT e.id, e.digest, e.size, e.meta_bytes FROM tags t JOIN entries e ON e.id = t.entry WHERE t.tag = ? LIMIT ?'),
    entryTotals: db.prepare<[], { n: number; meta: number; lru: number }>('SELECT COUNT(*) AS n, COALESCE(SUM(meta_bytes), 0) AS meta, COALESCE(MAX(lru), 0) AS lru FROM entries'),
    bodyTotals: db.prepare<[], { n: number; bytes: number }>('SELECT COUNT(*) AS n, COALESCE(SUM(size), 0) AS bytes FROM (SELECT digest, MAX(size) AS size FROM entries GROUP BY digest)'),
  };
}

export type Statements = ReturnType<typeof prepareStatements>;
