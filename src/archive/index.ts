/** Signed site archives (.pwar): format, build and sign, verification, serving a site from an archive. */
export { openArchive, httpRangeSource, chooseFetchMode } from './site.js';
export type { ArchiveSite, ArchiveSource, OpenArchiveOptions, SiteRequest, SiteResponse } from './site.js';
export { buildArchive, signArchive, contentTypeOf } from './build.js';
export type { BuildOptions } from './build.js';
export { FORMAT, MANIFEST_NAME, SIGNATURE_NAME, parseManifest, serializeManifest, manifestDigest, signManifest, parseSignature, verifyManifest } from './manifest.js';
export type { Manifest, ManifestFile, ManifestRoute, ManifestSignature, KeyResolver, VerifyOptions, Verified } from './manifest.js';
export { ZipReader, writeZip, bufferSource, checkEntryName, DEFAULT_ZIP_LIMITS } from './zip.js';
export type { RangeSource, ZipEntry, ZipInput, ZipLimits } from './zip.js';
export { durationFlag, timeFlag, str } from './cli-args.js';
export { planUpdate, updateArchive } from './update.js';
export type { UpdatePlan, UpdateResult } from './update.js';
export { createArchiveManager, holderRequestHandler, HOLDER_PATH } from './manager.js';
export type { ArchiveManager, ArchiveManagerOptions, ArchiveSiteConfig, HolderDirectory } from './manager.js';
export { archiveManagerFromConfig, keyResolverFromConfig } from './from-config.js';
