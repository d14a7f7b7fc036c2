import type { Socket } from 'node:net';
import type { Fields } from '../http/fields.js';

/** Limits of the accept layer (from config `limits.*`). */
export interface AcceptLimits {
  readonly requestLine: number;
  readonly headerSize: number;
  readonly headerCount: number;
  readonly requestBody: number;
  readonly headerTimeout: number;
  readonly bodyTimeout: number;
  readonly idleTimeout: number;
  readonly maxConnections: number;
  readonly pipelineDepth: number;
  /** Response bytes the kernel may hold unsent per connection (TCP_NOTSENT_LOWAT); 0 or absent: the system's. */
  readonly unsentBytes?: number;
}

/** A parsed, strictly valid request. The body (if any) is streamed and already de-chunked. */
export interface IncomingRequest {
  readonly method: string;
  /** The request target exactly as sent (origin-form, absolute-form, authority-form or "*"). */
  readonly target: string;
  /** 0 for HTTP/1.0, 1 for HTTP/1.1. */
  readonly versionMinor: 0 | 1;
  readonly headers: Fields;
  /** Length of the body when framed by Content-Length; null when chunked; 0 when no body. */
  readonly contentLength: number | null;
  readonly hasBody: boolean;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localAddress: string;
  readonly localPort: number;
  /** Time the first byte of the request line was received (ms, Date.now()). */
  readonly receivedAt: number;
  /** Aborted when the client goes away before the response has been written. */
  readonly signal: AbortSignal;
  /** Whether the client went away before the response was complete: `signal.aborted` without making the signal. */
  readonly aborted: boolean;
  /** The de-chunked body, bounded by limits.requestBody (a larger one errors with PW_ERR_HTTP_BODY_TOO_LARGE). */
  body(): AsyncIterable<Buffer>;
  /** Reads the whole body into memory (bounded by `limit` and limits.requestBody). */
  readBody(limit?: number): Promise<Buffer>;
}

/**
 * Where a response is written. Responses on a connection go out in request order whatever order
 * they are produced in (a response produced early for a pipelined request is held until its turn,
 * bounded; its writer sees backpressure).
 */
/** A status line and fields checked and serialised by `prepareHead` (framing and connection fields left out). */
export interface PreparedHead {
  readonly status: number;
  /** Status line and field lines, each ending in CRLF. */
  readonly text: string;
  /** The same without the Content-Length line (for a 2xx answer to CONNECT). */
  readonly withoutLength: string;
  /** The Content-Length given, or -1. */
  readonly contentLength: number;
}

export interface OutgoingResponse {
  /** True while the connection will be kept open after this response (false after HTTP/1.0 without keep-alive, Connection: close, a parse error…). */
  readonly keepAlive: boolean;
  /** True once the head has been written. */
  readonly headersSent: boolean;
  /** The request was HEAD: the body is never written, whatever the caller passes. */
  readonly isHead: boolean;
  /**
   * Writes the status line and fields. The server adds framing: it keeps a Content-Length given
   * in `headers`, otherwise uses chunked (HTTP/1.1) or close-delimited (HTTP/1.0); it adds
   * `Connection: close` when the connection will close, and removes any Transfer-Encoding,
   * Connection or Keep-Alive field the caller passed.
   */
  writeHead(status: number, headers: Fields, reason?: string): void;
  /** `writeHead` with a head checked and serialised once by `prepareHead`, for heads many responses share. */
  writePreparedHead(head: PreparedHead): void;
  /**
   * Sends an interim (1xx) response such as 103 Early Hints before the final head; ignored for
   * HTTP/1.0 clients, after the head, and for 100 and 101 (handled by the server itself).
   */
  writeInformational(status: number, headers: Fields): void;
  /** Writes body bytes; false means wait for 'drain' (see `waitDrain`). */
  write(chunk: Buffer): boolean;
  waitDrain(): Promise<void>;
  /** Ends the response (with an optional last chunk). */
  end(chunk?: Buffer): void;
  /** Runs `fn`; the head and body bytes it writes leave in one system call (the socket is corked meanwhile). */
  batch(fn: () => void): void;
  /**
   * Fast path for cache hits: `head` is a complete pre-serialised status line and fields,
   * including Content-Length and ending after the last field's CRLF but before the empty line.
   * `extra` holds per-response fields ("Age: 3\r\n"), also without the final CRLF.
   * The server adds "Connection: close\r\n" if needed, the empty line, and the body (unless HEAD).
   */
  sendPreserialized(head: Buffer, extra: string, body: Buffer | null): void;
  /** Gives up on this response: the connection is destroyed (used when an upstream body breaks mid-way). */
  abort(reason?: Error): void;
  /**
   * For CONNECT after a 2xx head: returns the raw client socket once every earlier response has
   * been written; bytes the client sent after the request head are pushed back first.
   */
  takeSocket(): Promise<Socket>;
}

export type RequestHandler = (req: IncomingRequest, res: OutgoingResponse) => void;

export interface AcceptServer {
  /** Starts listening; resolves to the bound address (port 0 → the port picked). */
  listen(host: string, port: number): Promise<{ host: string; port: number }>;
  /** Stops accepting, closes idle connections, waits for in-flight responses up to `graceMs`, then destroys the rest. */
  close(graceMs?: number): Promise<void>;
  /** Open client connections. */
  readonly connections: number;
}

export interface AcceptOptions {
  readonly limits: AcceptLimits;
  readonly onRequest: RequestHandler;
  /** Called for each rejected request or connection-level error (for metrics and logs). */
  readonly onError?: (err: Error, info: { remoteAddress: string }) => void;
}
