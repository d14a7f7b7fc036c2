export type { AcceptLimits, AcceptOptions, AcceptServer, IncomingRequest, OutgoingResponse, PreparedHead, RequestHandler } from './types.js';
export { createAcceptServer } from './server.js';
export { prepareHead } from './exchange.js';
export { RequestParser, validAuthority, type ParsedHead, type ParserLimits, type ParserSink } from './parser.js';
