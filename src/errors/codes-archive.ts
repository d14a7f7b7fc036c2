import { defineErrors } from './registry.js';

/** Codes of signed site archives, the handler sandbox, DNS keys and the directory. */
export const archiveErrors = defineErrors({
  PW_ERR_ARCHIVE_FORMAT: { status: 502, message: 'Archive {archive} is malformed: {reason}', doc: 'The .pwar file is not a well-formed zip (bad end record, zip64 fields, offsets outside the file, duplicate names, unsupported compression) or its manifest is not valid; nothing of it is served.' },
  PW_ERR_ARCHIVE_ENTRY_NAME: { status: 502, message: 'Archive entry name {name} is not allowed: {reason}', doc: 'An entry name is absolute, contains `..`, a backslash, a drive letter or control characters; the archive is refused.' },
  PW_ERR_ARCHIVE_BOMB: { status: 502, message: 'Archive entry {name} exceeds a size bound: {reason}', doc: 'An entry inflates beyond its declared size, beyond archive.maxEntrySize, or beyond the allowed compression ratio (zip bomb).' },
  PW_ERR_ARCHIVE_UNSIGNED: { status: 502, message: 'Archive {archive} has no signature', doc: 'The archive has no peerweb/manifest.sig; unsigned archives are never served.' },
  PW_ERR_ARCHIVE_UNKNOWN_KEY: { status: 502, message: 'Archive for {host} is signed by key {keyId}, which is not published for that host', doc: 'No key with this id is pinned in config or published in DNS (`_peerweb-key.<host>` TXT or KEY) for the origin host.' },
  PW_ERR_ARCHIVE_BAD_SIGNATURE: { status: 502, message: 'Archive signature by key {keyId} does not verify', doc: 'The Ed25519 signature does not match the manifest bytes: the manifest was altered or signed by someone else.' },
  PW_ERR_ARCHIVE_EXPIRED: { status: 502, message: 'Archive version {version} expired at {notAfter}', doc: 'The archive is past notAfter and its staleIfUnverified allowance (if any) does not cover now.' },
  PW_ERR_ARCHIVE_NOT_YET_VALID: { status: 502, message: 'Archive version {version} is not valid before {notBefore}', doc: 'The archive notBefore is in the future (beyond archive.clockSkew).' },
  PW_ERR_ARCHIVE_REPLAYED: { status: 502, message: 'Archive version {version} is older than version {known} already seen for {site}', doc: 'An older archive was offered after a newer one was accepted (replay); it is refused.' },
  PW_ERR_ARCHIVE_HASH_MISMATCH: { status: 502, message: 'Archive entry {name} does not match its manifest hash', doc: 'The bytes of an entry differ from the sha-256 or size in the signed manifest; they are never served.' },
  PW_ERR_ARCHIVE_ORIGIN_MISMATCH: { status: 502, message: 'Archive is for {actual}, not {expected}', doc: 'The manifest origin or prefix differs from the site the archive was fetched for.' },
  PW_ERR_ARCHIVE_BUILD: { status: 0, message: 'Cannot build archive from {dir}: {reason}', doc: 'peerweb archive build refused its input (missing folder, too many or too large files, bad route).' },
  PW_ERR_DNS_KEY: { status: 502, message: 'Cannot get publisher keys for {host}: {reason}', doc: 'The DNS query for `_peerweb-key.<host>` failed (timeout, server failure) or returned only malformed records.' },
  PW_ERR_SANDBOX_LIMIT: { status: 503, message: 'Handler {handler} stopped: {reason}', doc: 'An archive handler exceeded its CPU time, wall time or memory cap; only that request fails.' },
  PW_ERR_SANDBOX_HANDLER: { status: 500, message: 'Handler {handler} failed: {reason}', doc: 'An archive handler threw, returned something that is not a response, or could not be loaded.' },
  PW_ERR_SANDBOX_BUSY: { status: 503, message: 'All {size} handler VMs are busy and {waiting} requests wait', doc: 'The VM pool and its waiting list are full; retry later.' },
  PW_ERR_DIRECTORY_CAP: { status: 429, message: 'Directory registration refused: {reason}', doc: 'A registration exceeded the per-holder or per-site cap of the directory.' },
  PW_ERR_DIRECTORY_BAD_ENTRY: { status: 400, message: 'Directory entry invalid: {reason}', doc: 'A registration or lookup had a malformed site, prefix, holder URL, digest, version or TTL.' },
  PW_ERR_DIRECTORY_UNAVAILABLE: { status: 502, message: 'Directory {server} unavailable: {reason}', doc: 'No directory server could be found through SRV records, or the one found did not answer.' },
});
