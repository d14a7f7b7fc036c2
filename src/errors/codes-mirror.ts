import { defineErrors } from './registry.js';

/** Codes of integrity checks, the origin front, mirrors, audits and the verifying client. */
export const mirrorErrors = defineErrors({
  PW_ERR_DIGEST_FORMAT: { status: 400, message: 'Digest value {value} is invalid: {reason}', doc: 'A Repr-Digest, Content-Digest, Digest or --digest value is not a sha-256 digest in a known form.' },
  PW_ERR_DIGEST_MISMATCH: { status: 502, message: 'Bytes of {what} from {source} do not match the expected digest', doc: 'Received bytes failed verification; they are dropped, never written or served, and the source is no longer trusted.' },
  PW_ERR_DIGEST_UNKNOWN: { status: 0, message: 'Expected digest of {url} is unknown: {reason}', doc: 'The client could not learn the digest to verify against (origin unreachable or without Repr-Digest); pass --digest.' },
  PW_ERR_SIGNATURE_MISSING: { status: 401, message: 'Message has no usable signature: {reason}', doc: 'A signed message (push, mirror map) lacks Signature-Input/Signature or does not cover the required components.' },
  PW_ERR_SIGNATURE_INVALID: { status: 403, message: 'Signature {label} is invalid: {reason}', doc: 'An HTTP message signature (RFC 9421) did not verify against the expected publisher key, is malformed or expired.' },
  PW_ERR_METALINK_INVALID: { status: 502, message: 'Metalink document from {source} is invalid: {reason}', doc: 'A Metalink 4 document (RFC 5854) could not be parsed or is inconsistent with the representation.' },
  PW_ERR_MIRROR_OFFER_REFUSED: { status: 403, message: 'Mirror offer from {base} refused: {reason}', doc: 'The origin policy (closed, allow-list, cap on count) does not accept this mirror, or its first audit failed.' },
  PW_ERR_MIRROR_BAD_REQUEST: { status: 400, message: 'Mirror request invalid: {reason}', doc: 'A request to a /.well-known/peerweb/ endpoint (offers, reports, index) or a push was malformed.' },
  PW_ERR_MIRROR_NOT_HELD: { status: 404, message: 'Mirror holds no copy of {path}', doc: 'The mirror does not carry this path (outside its prefixes or not yet synced).' },
  PW_ERR_MIRROR_PUSH_REJECTED: { status: 403, message: 'Push to {path} rejected: {reason}', doc: 'A PUT to a mirror was not for an origin it mirrors or its signature did not verify against the origin key.' },
  PW_ERR_MIRROR_AUTH_REQUIRED: { status: 401, message: 'Mirror client {source} needs valid credentials: {reason}', doc: 'The mirror restricts its clients (mirror.clients.tokens / mirror.clients.users) and the request had no valid Bearer token or Basic credentials; see WWW-Authenticate.' },
  PW_ERR_MIRROR_NOTICE_INVALID: { status: 403, message: 'Delisting notice refused: {reason}', doc: 'A delisting notice (/.well-known/peerweb/delisted) was malformed, not signed by the publisher key of its origin, too old, or its body did not match Content-Digest; it is not applied.' },
  PW_ERR_MIRROR_SUBSCRIBE: { status: 400, message: 'Subscription to delisting notices refused: {reason}', doc: 'A POST /.well-known/peerweb/subscriptions named no usable http(s) URL, the URL did not echo the challenge, or the origin already has as many subscribers as it keeps.' },
  PW_ERR_MIRROR_SYNC: { status: 0, message: 'Sync of {prefix} from {origin} failed: {reason}', doc: 'peerweb mirror sync could not list or copy the prefix; entries already verified are kept.' },
  PW_ERR_ORIGIN_KEY_UNKNOWN: { status: 0, message: 'No publisher key for {host}: {reason}', doc: 'peerweb get or mirror sync needed the publisher key of the origin, no --origin-key was given, and none could be had from a `_peerweb-key.<host>` TXT record (an IP address has none, the name has no such record, or the DNS query failed).' },
  PW_ERR_GET_NO_SOURCE: { status: 0, message: 'No source delivered verified bytes of {url}: {reason}', doc: 'Every mirror and the origin failed or lied; nothing was written to the output.' },
  PW_ERR_GET_INTERRUPTED: { status: 0, message: 'Download of {url} interrupted; run again to resume', doc: 'The download was stopped; verified pieces are kept beside the output for a resumed run.' },
});
