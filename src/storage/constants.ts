/** Defaults and bounds of the cache store, in one place. */

/** Longest cache key (characters). */
export const MAX_KEY_LENGTH = 64 * 1024;
/** Longest Vary secondary key (characters). */
export const MAX_VARIANT_LENGTH = 64 * 1024;
/** Most variants kept under one key; storing one more drops the least recently stored. */
export const MAX_VARIANTS_PER_KEY = 32;
/** Most surrogate keys (tags) on one entry. */
export const MAX_TAGS = 256;
/** Longest tag (characters). */
export const MAX_TAG_LENGTH = 1024;
/** Largest serialised `data` object of one entry (characters of JSON). */
export const MAX_DATA_JSON = 1024 * 1024;

/** Memory tier: estimated bytes of bookkeeping per entry, per key and per body, on top of their contents. */
export const MEMORY_ENTRY_OVERHEAD = 256;
export const MEMORY_KEY_OVERHEAD = 128;
export const MEMORY_BODY_OVERHEAD = 160;
/** Disk tier: bytes counted per record on top of its key, variant, data and tags. */
export const DISK_ENTRY_OVERHEAD = 256;

/** Disk tier: bodies up to this size are read whole and hashed on every open (held as a buffer). */
export const DISK_SMALL_BODY = 64 * 1024;
/** Disk tier: writers buffer this much before they open a temp file (small bodies are written in one go). */
export const DISK_STAGE_SIZE = 256 * 1024;
/** Disk tier: chunk size when streaming a body out or hashing it. */
export const DISK_READ_CHUNK = 256 * 1024;
/** Disk tier: `touch` calls are batched and written at most this often (ms)… */
export const TOUCH_FLUSH_INTERVAL = 1000;
/** …or as soon as this many distinct entries were touched. */
export const TOUCH_FLUSH_BATCH = 1024;
/** Disk tier: rows read per step of an eviction or purge. */
export const DELETE_BATCH = 256;

/** Memory tier: chunk size of `stream()` over a buffer. */
export const MEMORY_STREAM_CHUNK = 256 * 1024;

/** On-disk format version of the disk tier (folder `v1/`, SQLite `user_version`). */
export const DISK_FORMAT_VERSION = 1;
/** SQLite `application_id` of the disk tier's index: "PWST". */
export const DISK_APPLICATION_ID = 0x50575354;
