/** Signed site archives (.pwar): format, build and sign, verification, serving a site from an archive. */
export { openArchive, httpRangeSource, chooseFetchMode } from './site.js';
export type { ArchiveSite, ArchiveSource, OpenArchiveOptions, SiteRequest, SiteResponse } from './site.js';
export { buildArchive, signArchive, packArchive, contentTypeOf, SHARD_TARGET } from './build.js';
export type { BuildOptions, PackFile, PackMeta, PackOptions } from './build.js';
export {
  FORMAT, MANIFEST_NAME, SIGNATURE_NAME, parseManifest, serializeManifest, manifestDigest, signManifest, parseSignature, verifyManifest,
  encodeTail, decodeTail, comparePaths,
} from './manifest.js';
export type { Manifest, IndexRef, ManifestRoute, ManifestSignature, KeyResolver, VerifyOptions, Verified } from './manifest.js';
export { INDEX_FORMAT, INDEX_FOLDER, shardName, serializeShard, parseShard } from './file-index.js';
export type { ManifestFile, IndexRow } from './file-index.js';
export { ArchiveIndex, readArchiveTail, readRanges, inspectArchive, RANGE_MERGE_GAP } from './reader.js';
export type { LocatedFile } from './reader.js';
export { ZipReader, writeZip, prepareEntry, readZipTail, bufferSource, checkEntryName, DEFAULT_ZIP_LIMITS, ARCHIVE_TAIL_READ } from './zip.js';
export type { RangeSource, ZipEntry, ZipInput, ZipLimits, ZipTail, PreparedEntry } from './zip.js';
export { durationFlag, timeFlag, str } from './cli-args.js';
export { planUpdate, updateArchive } from './update.js';
export type { UpdatePlan, UpdateResult } from './update.js';
export { createArchiveManager, holderRequestHandler, HOLDER_PATH } from './manager.js';
export type { ArchiveManager, ArchiveManagerOptions, ArchiveSiteConfig, HolderDirectory } from './manager.js';
export { archiveManagerFromConfig, keyResolverFromConfig } from './from-config.js';
