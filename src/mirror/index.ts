export { createOriginFront, parseWillMirror, WELL_KNOWN, type OriginFront, type OriginFrontOptions, type RequestInfo, type PushResult, type NotifyResult } from './origin-front.js';
export { createMirror, removeMirrorDir, type Mirror, type MirrorOptions, type StoredEntry, type SyncReport } from './mirror.js';
export { createAuditor, AUDIT_TAG, type Auditor, type AuditorOptions, type AuditResult, type AuditVerdict } from './auditor.js';
export { createRegistry, mirrorUrl, authorityOf, type MirrorRecord, type MirrorRegistry, type MirrorState, type Delisting, type RegistryChange } from './registry.js';
export {
  buildNotice, signNotice, parseNotice, readNoticeUnsigned, verifyNotice, createDelistBook, NOTICE_PATH, NOTICE_TAG, MIRROR_LINKS_TAG, MAX_NOTICE_BYTES,
  type DelistNotice, type DelistBook, type NoticeEntry,
} from './delist.js';
export { createClientAuth, hashPassword, newToken, tokenEntryProblem, userEntryProblem, SCRYPT_DEFAULTS, type ClientAuth, type ClientIdentity, type AuthOutcome } from './credentials.js';
export { createFolderSource, describeEntry, contentTypeOf, isSafePath, type ContentSource, type SourceEntry, type Description } from './source.js';
export { buildMetalink, parseMetalink, METALINK_TYPE, type MetalinkFile } from './metalink.js';
export { formatLink, parseLinks, type LinkValue } from './link.js';
export { isMirrorable, refuseOffer, type MirrorPolicy } from './policy.js';
export { parseSingleRange, type ByteRange } from './range.js';
export { createRateLimiter, addressRanges, type RateLimiter } from './rate-limit.js';
export { createAdmission, type Admission, type AdmissionOptions, type AdmissionRequest } from './admission.js';
export { pushFromOrigin } from './push.js';
export { createUpstreamSource } from './upstream-source.js';
