export type { AcceptLimits, AcceptOptions, AcceptServer, IncomingRequest, OutgoingResponse, RequestHandler } from './types.js';
export { createAcceptServer } from './server.js';
export { RequestParser, validAuthority, type ParsedHead, type ParserLimits, type ParserSink } from './parser.js';
