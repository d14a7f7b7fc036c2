export * from './keys.js';
export {
  sha256, digestEquals, formatDigestField, parseDigestField, formatLegacyDigest, parseLegacyDigest, strongEtag,
  parseDigestText, pieceCount, pieceRange, pieceHashes, DigestBuilder, VerifyingStream, type Sha256,
} from './digest.js';
export {
  signMessage, verifyMessage, signatureBase, componentValue, fieldReader,
  type SignedMessage, type SignOptions, type VerifyOptions, type VerifiedSignature,
} from './signature.js';
export { createReputation, type Reputation, type SourceScore } from './reputation.js';
export { HashThread, hashThread, inlineSha256Stream, type Sha256Stream } from './hash-thread.js';
