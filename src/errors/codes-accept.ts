import { defineErrors } from './registry.js';

/** Codes of the accept layer (strict HTTP/1.1 server) beyond the core HTTP parsing codes. */
export const acceptErrors = defineErrors({
  PW_ERR_HTTP_TRANSFER_CODING: { status: 501, message: 'Transfer coding {coding} not implemented', doc: 'The request uses a transfer coding other than a lone "chunked" (for example "gzip, chunked"); the connection is closed after the 501.' },
  PW_ERR_ACCEPT_CONNECTIONS_FULL: { status: 0, message: 'Connection from {remoteAddress} refused: {limit} connections open', doc: 'A new client connection arrived while limits.maxConnections were open; it is closed at once.' },
  PW_ERR_ACCEPT_RESPONSE: { status: 500, message: 'Response cannot be written: {reason}', doc: 'A request handler misused the response (head written twice, a field with CR or LF, more body bytes than its Content-Length); the connection is aborted rather than sending a malformed message.' },
});
