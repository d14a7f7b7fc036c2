/**
 * The cache store: bodies by SHA-256, records by (key, variant). Three implementations of one
 * interface: the memory tier, the content-addressed disk tier and the two tiers together.
 */
import type { Logger } from '../util/log.js';
import { createDiskStore as openDisk, type DiskStore } from './disk-store.js';
import { createMemoryStore as newMemory, type MemoryStore } from './memory-store.js';
import { createTieredStore as newTiered, type TieredStore } from './tiered-store.js';
import type { CacheStore, SyncPeek } from './types.js';

export type {
  BodyReader, BodyWriter, CacheStore, EntryMeta, StoredEntry, StoreStats, SyncPeek,
} from './types.js';
export type { DiskStore, DiskStoreOptions } from './disk-store.js';
export type { MemoryStore, MemoryStoreOptions } from './memory-store.js';
export type { TieredStore, TieredStoreOptions, TierStats } from './tiered-store.js';
export { DISK_FORMAT_VERSION } from './constants.js';

/** The memory tier: LRU over keys, byte-accounted, nothing awaited inside. */
export function createMemoryStore(opts: { maxBytes: number; maxObjectSize?: number; now?: () => number }): CacheStore & SyncPeek & MemoryStore {
  return newMemory(opts);
}

/** Opens (creating when new) the content-addressed disk tier in `dir`; one process per folder. */
export function createDiskStore(opts: {
  dir: string; maxBytes: number; maxObjectSize?: number; logger?: Logger;
  now?: () => number; fsync?: boolean; sweepOnOpen?: boolean;
}): Promise<CacheStore & DiskStore> {
  return openDisk(opts);
}

/** Memory (from createMemoryStore) in front of disk (or alone when `disk` is null). */
export function createTieredStore(memory: CacheStore, disk: CacheStore | null, opts?: { memoryMaxObjectSize: number }): CacheStore & SyncPeek & TieredStore {
  return newTiered(memory, disk, opts);
}
