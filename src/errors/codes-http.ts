import { defineErrors } from './registry.js';

/** Codes of the pure HTTP field parsers (`src/http/`). */
export const httpErrors = defineErrors({
  PW_ERR_SF_PARSE: { status: 400, message: 'Structured field value {value} is invalid: {reason}', doc: 'A structured field (RFC 8941) failed strict parsing; the whole field is ignored or the message refused, depending on the caller.' },
  PW_ERR_SF_SERIALIZE: { status: 0, message: 'Structured field value cannot be serialised: {reason}', doc: 'A value given to an RFC 8941 serialiser is outside what the format can carry (for example an integer beyond 15 digits or a string with non-ASCII characters).' },
});
