/** Pure HTTP field parsers and serialisers: no sockets, no I/O. */
export { Fields } from './fields.js';
export {
  type CacheControl,
  parseCacheControl,
  deltaSeconds,
  parseDeltaSeconds,
  directiveFieldNames,
  DELTA_SECONDS_MAX,
  splitList,
  unquote,
  quoteIfNeeded,
  isToken,
} from './cache-control.js';
export { parseHttpDate, formatHttpDate, httpDateNow } from './date.js';
export {
  type ByteRange,
  type RangeResult,
  type MultipartPlan,
  parseRange,
  coalesceRanges,
  contentRange,
  contentRangeUnsatisfied,
  parseContentRange,
  multipartByteranges,
  multipartBody,
  randomBoundary,
} from './range.js';
export {
  type ETag,
  type ETagList,
  type IfRange,
  parseETag,
  formatETag,
  parseETagList,
  strongMatch,
  weakMatch,
  parseIfRange,
  ifRangeMatches,
} from './etag.js';
export { HOP_BY_HOP, connectionOptions, stripHopByHop, appendVia, viaHasPseudonym } from './hop-by-hop.js';
export {
  SfToken,
  SfDecimal,
  type SfBareItem,
  type SfParams,
  type SfItem,
  type SfInnerList,
  type SfMember,
  type SfList,
  type SfDictionary,
  isInnerList,
  sfItem,
  parseSfList,
  parseSfDictionary,
  parseSfItem,
  serializeSfList,
  serializeSfDictionary,
  serializeSfItem,
  serializeSfBareItem,
} from '../util/structured-fields.js';
export { formatReprDigest, parseDigestField, formatLegacyDigest, parseLegacyDigest } from './digest.js';
export { type Link, parseLinkHeader, formatLink } from './link.js';
