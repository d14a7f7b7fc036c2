import { defineErrors } from './registry.js';

/** Codes of the cache store (`src/storage/`): memory tier, content-addressed disk tier, tiered store. */
export const storageErrors = defineErrors({
  PW_ERR_STORE_TOO_LARGE: { status: 0, message: 'Body of {size} bytes exceeds the store limit of {limit} bytes', doc: 'A body grew beyond cache.maxObjectSize, cache.memoryMaxObjectSize (memory-only node) or the store size; it is not stored and the response is only passed through.' },
  PW_ERR_STORE_MISMATCH: { status: 502, message: 'Body for {key} has {what} {actual}, expected {expected}', doc: 'A body written to the store did not have the size or SHA-256 announced for it (expectedSize / expectedDigest); nothing of it is stored.' },
  PW_ERR_STORE_FORMAT: { status: 0, message: 'Store {dir} cannot be opened: {reason}', doc: 'The disk store folder holds an index of another program or of an unknown on-disk format version; move it away or point cache data elsewhere.' },
  PW_ERR_STORE_LOCKED: { status: 0, message: 'Store {dir} is in use by another process', doc: 'Another peerweb process has the disk store open; each store folder belongs to one process.' },
  PW_ERR_STORE_INVALID: { status: 500, message: 'Store call invalid: {reason}', doc: 'A caller passed a malformed key, variant, tag list, data object, digest or byte range, or used a writer after commit or abort.' },
  PW_ERR_STORE_CLOSED: { status: 503, message: 'Store {name} is closed', doc: 'The store was used after close(); the node is shutting down.' },
});
