import { PeerwebError } from '../errors/index.js';
import { Fields } from '../http/fields.js';
import { COLON, CR, FIELD_VALUE, HEX, HTAB, LF, QDTEXT, REG_NAME, SP, TARGET, TOKEN, describeByte } from './chars.js';

/** Limits the parser enforces (a subset of AcceptLimits). */
export interface ParserLimits {
  /** Longest request line in bytes, CRLF excluded (414 beyond). */
  readonly requestLine: number;
  /** Largest header section in bytes, field lines with their CRLF (431 beyond); also bounds the trailer section. */
  readonly headerSize: number;
  /** Most header fields (431 beyond); also bounds the trailer fields. */
  readonly headerCount: number;
  /** Largest request body (413 beyond: Content-Length checked before reading, chunked counted as it arrives). */
  readonly requestBody: number;
  /** Longest chunk-size line including extensions (400 beyond). Default 4096. */
  readonly chunkLine?: number;
}

/** A strictly valid request head. */
export interface ParsedHead {
  readonly method: string;
  readonly target: string;
  readonly versionMinor: 0 | 1;
  readonly headers: Fields;
  /** Content-Length of the body; null when chunked; 0 when there is no body. */
  readonly contentLength: number | null;
  readonly chunked: boolean;
  readonly hasBody: boolean;
  /** The client allows the connection to persist after this request (HTTP/1.1 default, HTTP/1.0 with keep-alive; never after CONNECT). */
  readonly keepAlive: boolean;
  /** HTTP/1.1 request with `Expect: 100-continue`. */
  readonly expectContinue: boolean;
}

/** Receives what the parser finds. Callbacks may call `pause()` on the parser. */
export interface ParserSink {
  onHead(head: ParsedHead): void;
  /** A piece of de-chunked body (a view of the input buffer: do not modify). */
  onBody(chunk: Buffer): void;
  /** Trailer fields of a chunked body (validated; may be empty), just before onMessageEnd. */
  onTrailers?(trailers: Fields): void;
  onMessageEnd(): void;
  /** The input is refused; the parser stops for good. */
  onError(err: PeerwebError): void;
}

const enum S {
  Start,
  Headers,
  BodyLength,
  ChunkSize,
  ChunkData,
  ChunkDataEnd,
  Trailers,
  /** After CONNECT: the rest of the input belongs to the tunnel. */
  Tunnel,
  /** After a message that ends the connection: further input is ignored. */
  Done,
  Error,
}

const EMPTY = Buffer.alloc(0);
const MAX_CHUNK_HEX_DIGITS = 16;

/** Buffer's own latin1 decoder (present on every Node Buffer), without the argument checks of `toString`. */
type Latin1Buffer = Buffer & { latin1Slice(start: number, end: number): string };
function latin1(b: Buffer, start: number, end: number): string {
  return (b as Latin1Buffer).latin1Slice(start, end);
}

/** Field names most clients send, spelled as they send them: matched byte-wise to reuse one string. */
const COMMON_NAMES = [
  'Host', 'host', 'User-Agent', 'user-agent', 'Accept', 'accept', 'Accept-Encoding', 'accept-encoding', 'Accept-Language',
  'accept-language', 'Connection', 'connection', 'Content-Length', 'content-length', 'Content-Type', 'content-type',
  'Cache-Control', 'cache-control', 'Cookie', 'cookie', 'Referer', 'referer', 'If-None-Match', 'if-none-match',
  'If-Modified-Since', 'if-modified-since', 'Range', 'range', 'Transfer-Encoding', 'transfer-encoding', 'Via', 'via',
  'Authorization', 'authorization', 'Upgrade-Insecure-Requests', 'Sec-Fetch-Mode', 'Sec-Fetch-Site', 'Sec-Fetch-Dest',
  'Pragma', 'Origin', 'X-Forwarded-For', 'Expect', 'TE', 'Date',
];
/** By length, then first byte: candidate names with their bytes. */
const NAME_TABLE: (Map<number, [string, Buffer][]> | undefined)[] = [];
for (const n of COMMON_NAMES) {
  const byFirst = (NAME_TABLE[n.length] ??= new Map());
  const c = n.charCodeAt(0);
  let list = byFirst.get(c);
  if (list === undefined) byFirst.set(c, (list = []));
  list.push([n, Buffer.from(n, 'latin1')]);
}

function fieldName(b: Buffer, start: number, end: number): string {
  const cands = NAME_TABLE[end - start]?.get(b[start] as number);
  if (cands !== undefined) {
    for (const [name, bytes] of cands) {
      let k = 1;
      const len = bytes.length;
      while (k < len && bytes[k] === b[start + k]) k++;
      if (k === len) return name;
    }
  }
  return latin1(b, start, end);
}

function parseError(reason: string): PeerwebError {
  return new PeerwebError('PW_ERR_HTTP_PARSE', { reason });
}

/**
 * Incremental, strict HTTP/1.1 request parser (RFC 9112). Feed it Buffers with `push`; it calls the
 * sink for each head, body piece, message end and error. Anything ambiguous is an error: the caller
 * answers with `err.status` and closes the connection.
 */
export class RequestParser {
  private readonly sink: ParserSink;
  private readonly requestLineLimit: number;
  private readonly headerSizeLimit: number;
  private readonly headerCountLimit: number;
  private readonly bodyLimit: number;
  private readonly chunkLineLimit: number;

  private state: S = S.Start;
  private buf: Buffer = EMPTY;
  private off = 0;
  /** Where to resume looking for LF in the current incomplete line. */
  private scan = 0;
  private isPaused = false;
  private running = false;

  // Per message.
  private emptyLineSkipped = false;
  private method = '';
  private target = '';
  private versionMinor: 0 | 1 = 1;
  private raw: string[] = [];
  private sectionBytes = 0;
  private hostLines = 0;
  private hostValue = '';
  private clValue: string | null = null;
  private clLines = 0;
  private teValue: string | null = null;
  private teLines = 0;
  private connectionValue: string | null = null;
  private expectValue: string | null = null;
  private remaining = 0;
  private bodyReceived = 0;
  private keepAlive = true;
  private lastValidHost = '';

  constructor(limits: ParserLimits, sink: ParserSink) {
    this.sink = sink;
    this.requestLineLimit = limits.requestLine;
    this.headerSizeLimit = limits.headerSize;
    this.headerCountLimit = limits.headerCount;
    this.bodyLimit = limits.requestBody;
    this.chunkLineLimit = limits.chunkLine ?? 4096;
  }

  /**
   * Feeds bytes; parses as far as possible unless paused. `borrowed`: the caller reuses `chunk` after this
   * returns, so the bytes kept for later are copied (body pieces handed to the sink are views: it copies them).
   */
  push(chunk: Buffer, borrowed = false): void {
    if (this.state >= S.Tunnel) {
      if (this.state === S.Tunnel) this.append(borrowed ? Buffer.from(chunk) : chunk);
      return;
    }
    this.append(chunk);
    if (!this.isPaused) this.run();
    if (borrowed && this.buf === chunk) {
      // Kept for later (an incomplete head, or input held while paused): copied out of the caller's buffer.
      if (this.off < chunk.length) {
        this.buf = Buffer.from(chunk.subarray(this.off));
        this.scan -= this.off;
      } else {
        this.buf = EMPTY;
        this.scan = 0;
      }
      this.off = 0;
    }
  }

  /** Stops parsing after the current callback; input is kept until `resume`. */
  pause(): void {
    this.isPaused = true;
  }

  resume(): void {
    if (!this.isPaused) return;
    this.isPaused = false;
    if (this.state < S.Tunnel) this.run();
  }

  get paused(): boolean {
    return this.isPaused;
  }

  /** Ignore everything from now on (the connection is closing). */
  stop(): void {
    if (this.state !== S.Error) this.state = S.Done;
    this.buf = EMPTY;
    this.off = 0;
  }

  /** True while part of a request head has been received but not all of it. */
  get inHead(): boolean {
    return this.state === S.Headers || (this.state === S.Start && this.off < this.buf.length);
  }

  /** True after a CONNECT head: what follows belongs to the tunnel (see `takeRemaining`). */
  get inTunnel(): boolean {
    return this.state === S.Tunnel;
  }

  /** True while a request body is being received. */
  get inBody(): boolean {
    return this.state >= S.BodyLength && this.state <= S.Trailers;
  }

  /** Unparsed bytes received (after a CONNECT head: the first bytes of the tunnel). */
  takeRemaining(): Buffer {
    const rest = this.off < this.buf.length ? this.buf.subarray(this.off) : EMPTY;
    this.buf = EMPTY;
    this.off = 0;
    this.scan = 0;
    return rest;
  }

  private append(chunk: Buffer): void {
    if (this.off >= this.buf.length) {
      this.buf = chunk;
      this.off = 0;
      this.scan = 0;
    } else {
      const rest = this.buf.length - this.off;
      this.buf = Buffer.concat([this.buf.subarray(this.off), chunk], rest + chunk.length);
      this.scan -= this.off;
      this.off = 0;
    }
  }

  private fail(err: PeerwebError): void {
    this.state = S.Error;
    this.buf = EMPTY;
    this.off = 0;
    this.sink.onError(err);
  }

  private run(): void {
    if (this.running) return; // re-entrant push/resume from a callback: the outer loop continues
    this.running = true;
    try {
      this.loop();
    } finally {
      this.running = false;
    }
    if (this.off >= this.buf.length && this.state !== S.Tunnel) {
      this.buf = EMPTY;
      this.off = 0;
      this.scan = 0;
    }
  }

  private loop(): void {
    while (!this.isPaused) {
      const b = this.buf;
      const state = this.state;
      if (state === S.BodyLength || state === S.ChunkData) {
        const avail = b.length - this.off;
        if (avail === 0) return;
        const n = avail < this.remaining ? avail : this.remaining;
        const piece = b.subarray(this.off, this.off + n);
        this.off += n;
        this.scan = this.off;
        this.remaining -= n;
        if (this.remaining === 0) this.state = state === S.BodyLength ? S.Start : S.ChunkDataEnd;
        this.sink.onBody(piece);
        if (this.state === S.Start && state === S.BodyLength) this.endMessage();
        continue;
      }
      if (state === S.ChunkDataEnd) {
        const avail = b.length - this.off;
        if (avail === 0) return;
        if (b[this.off] !== CR) return this.fail(parseError(`chunk data not followed by CRLF (found ${describeByte(b[this.off])})`));
        if (avail < 2) return;
        if (b[this.off + 1] !== LF) return this.fail(parseError(`chunk data not followed by CRLF (found CR ${describeByte(b[this.off + 1])})`));
        this.off += 2;
        this.scan = this.off;
        this.state = S.ChunkSize;
        continue;
      }
      if (state >= S.Tunnel) return;
      // Line-oriented states: Start, Headers, ChunkSize, Trailers.
      const lf = b.indexOf(LF, this.scan);
      if (lf < 0) {
        this.scan = b.length;
        this.checkPartialLine(b.length - this.off);
        return;
      }
      if (lf === this.off || b[lf - 1] !== CR) return this.fail(parseError('bare LF as line terminator'));
      const start = this.off;
      const end = lf - 1;
      this.off = lf + 1;
      this.scan = this.off;
      switch (state) {
        case S.Start:
          this.requestLine(b, start, end);
          break;
        case S.Headers:
          if (start === end) this.endHead();
          else this.fieldLine(b, start, end, false);
          break;
        case S.ChunkSize:
          this.chunkSizeLine(b, start, end);
          break;
        case S.Trailers:
          if (start === end) {
            this.sink.onTrailers?.(Fields.fromRaw(this.raw));
            this.state = S.Start;
            this.endMessage();
          } else this.fieldLine(b, start, end, true);
          break;
      }
    }
  }

  /** Bounds a line that has no LF yet. */
  private checkPartialLine(len: number): void {
    switch (this.state) {
      case S.Start:
        if (len > this.requestLineLimit + 2) this.fail(new PeerwebError('PW_ERR_HTTP_URI_TOO_LONG', { limit: this.requestLineLimit }));
        break;
      case S.Headers:
        if (this.sectionBytes + len > this.headerSizeLimit + 2) this.tooLarge(`header section over ${this.headerSizeLimit} bytes`);
        break;
      case S.ChunkSize:
        if (len > this.chunkLineLimit + 2) this.fail(parseError(`chunk size line longer than ${this.chunkLineLimit} bytes`));
        break;
      case S.Trailers:
        if (this.sectionBytes + len > this.headerSizeLimit + 2) this.tooLarge(`trailer section over ${this.headerSizeLimit} bytes`);
        break;
    }
  }

  private tooLarge(reason: string): void {
    this.fail(new PeerwebError('PW_ERR_HTTP_HEADER_TOO_LARGE', { reason }));
  }

  private requestLine(b: Buffer, start: number, end: number): void {
    if (start === end) {
      // RFC 9112 §2.2: ignore at least one empty line before the request line; we ignore exactly one.
      if (this.emptyLineSkipped) return this.fail(parseError('more than one empty line before the request line'));
      this.emptyLineSkipped = true;
      return;
    }
    if (end - start > this.requestLineLimit) return this.fail(new PeerwebError('PW_ERR_HTTP_URI_TOO_LONG', { limit: this.requestLineLimit }));
    let i = start;
    while (i < end && TOKEN[b[i] as number] === 1) i++;
    if (i === start) return this.fail(parseError(`request line starts with ${describeByte(b[i])}`));
    if (i === end || b[i] !== SP) return this.fail(parseError(`invalid character ${describeByte(b[i])} in method`));
    const mLen = i - start;
    this.method =
      mLen === 3 && b[start] === 0x47 && b[start + 1] === 0x45 && b[start + 2] === 0x54
        ? 'GET'
        : mLen === 4 && b[start] === 0x48 && b[start + 1] === 0x45 && b[start + 2] === 0x41 && b[start + 3] === 0x44
          ? 'HEAD'
          : latin1(b, start, i);
    const tStart = ++i;
    while (i < end) {
      const c = b[i] as number;
      if (TARGET[c] !== 1) break;
      if (c === 0x25 && (HEX[b[i + 1] as number] === 0 || HEX[b[i + 2] as number] === 0 || i + 2 >= end)) {
        return this.fail(parseError('malformed percent-encoding in request target'));
      }
      i++;
    }
    if (i === tStart) return this.fail(parseError(`request target starts with ${describeByte(b[i])}`));
    if (i === end) return this.fail(new PeerwebError('PW_ERR_HTTP_VERSION', { version: '0.9' }));
    if (b[i] !== SP) return this.fail(parseError(`invalid character ${describeByte(b[i])} in request target`));
    this.target = latin1(b, tStart, i);
    const vStart = ++i;
    const vLen = end - vStart;
    if (
      vLen === 8 &&
      b[vStart] === 0x48 && b[vStart + 1] === 0x54 && b[vStart + 2] === 0x54 && b[vStart + 3] === 0x50 &&
      b[vStart + 4] === 0x2f && b[vStart + 5] === 0x31 && b[vStart + 6] === 0x2e && (b[vStart + 7] === 0x31 || b[vStart + 7] === 0x30)
    ) {
      this.versionMinor = b[vStart + 7] === 0x31 ? 1 : 0;
    } else {
      const v = latin1(b, vStart, end);
      if (/^HTTP\/[0-9]+\.[0-9]+$/.test(v)) return this.fail(new PeerwebError('PW_ERR_HTTP_VERSION', { version: v.slice(5) }));
      return this.fail(parseError(`malformed HTTP version ${JSON.stringify(v)}`));
    }
    this.state = S.Headers;
    this.sectionBytes = 0;
  }

  private fieldLine(b: Buffer, start: number, end: number, trailer: boolean): void {
    this.sectionBytes += end - start + 2;
    if (this.sectionBytes > this.headerSizeLimit) return this.tooLarge(`${trailer ? 'trailer' : 'header'} section over ${this.headerSizeLimit} bytes`);
    if (this.raw.length >= this.headerCountLimit * 2) return this.tooLarge(`more than ${this.headerCountLimit} ${trailer ? 'trailer' : 'header'} fields`);
    const first = b[start] as number;
    if (first === SP || first === HTAB) return this.fail(parseError('obsolete line folding or whitespace before a field line'));
    let i = start;
    while (i < end && TOKEN[b[i] as number] === 1) i++;
    if (i === end) return this.fail(parseError('field line without colon'));
    const c = b[i] as number;
    if (c !== COLON) {
      if (c === SP || c === HTAB) return this.fail(parseError('whitespace between field name and colon'));
      return this.fail(parseError(`invalid character ${describeByte(c)} in field name`));
    }
    if (i === start) return this.fail(parseError('empty field name'));
    const nameEnd = i;
    i++;
    while (i < end && (b[i] === SP || b[i] === HTAB)) i++;
    const vStart = i;
    let vEnd = i;
    for (; i < end; i++) {
      const v = b[i] as number;
      if (FIELD_VALUE[v] !== 1) return this.fail(parseError(`invalid character ${describeByte(v)} in field value`));
      if (v !== SP && v !== HTAB) vEnd = i + 1;
    }
    const name = fieldName(b, start, nameEnd);
    const value = latin1(b, vStart, vEnd);
    this.raw.push(name, value);
    if (trailer) return;
    const nLen = nameEnd - start;
    // Fields that change framing or routing are noted as they pass (cheap length filter first).
    if (nLen === 4) {
      if (name === 'Host' || name === 'host' || name.toLowerCase() === 'host') {
        this.hostLines++;
        this.hostValue = value;
      }
    } else if (nLen === 14) {
      if (name.toLowerCase() === 'content-length') {
        this.clLines++;
        this.clValue = value;
      }
    } else if (nLen === 17) {
      if (name.toLowerCase() === 'transfer-encoding') {
        this.teLines++;
        this.teValue = value;
      }
    } else if (nLen === 10) {
      if (name.toLowerCase() === 'connection') this.connectionValue = this.connectionValue === null ? value : `${this.connectionValue}, ${value}`;
    } else if (nLen === 6) {
      if (name.toLowerCase() === 'expect') this.expectValue = this.expectValue === null ? value : `${this.expectValue}, ${value}`;
    }
  }

  private endHead(): void {
    const v1 = this.versionMinor === 1;
    const method = this.method;
    const connect = method === 'CONNECT';
    // Host (RFC 9112 §3.2).
    if (this.hostLines > 1) return this.fail(parseError('more than one Host field'));
    if (this.hostLines === 0 && v1) return this.fail(parseError('missing Host field in an HTTP/1.1 request'));
    const absolute = this.checkTarget(method, connect);
    if (absolute === null) return;
    if (this.hostLines === 1 && (this.hostValue.length === 0 || this.hostValue !== this.lastValidHost)) {
      if (!validHost(this.hostValue, absolute)) return this.fail(parseError(`invalid Host ${JSON.stringify(this.hostValue)}`));
      // Keep-alive clients repeat the same Host: remember the last valid non-empty one.
      if (this.hostValue.length > 0) this.lastValidHost = this.hostValue;
    }
    // Framing (RFC 9112 §6).
    let contentLength: number | null = 0;
    let chunked = false;
    if (this.teLines > 0) {
      if (this.teLines > 1) return this.fail(parseError('more than one Transfer-Encoding field'));
      if (!v1) return this.fail(parseError('Transfer-Encoding in an HTTP/1.0 request'));
      if (this.clLines > 0) return this.fail(parseError('both Content-Length and Transfer-Encoding'));
      const te = this.teValue as string;
      if (te.length !== 7 || te.toLowerCase() !== 'chunked') {
        const codings = te.split(',').map((s) => s.trim().toLowerCase());
        const last = codings[codings.length - 1];
        const valid = codings.every((c) => c.length > 0 && [...c].every((ch) => TOKEN[ch.charCodeAt(0)] === 1));
        if (valid && last === 'chunked' && codings.indexOf('chunked') === codings.length - 1 && !codings.includes('identity')) {
          return this.fail(new PeerwebError('PW_ERR_HTTP_TRANSFER_CODING', { coding: JSON.stringify(te) }));
        }
        return this.fail(parseError(`Transfer-Encoding ${JSON.stringify(te)} is not exactly chunked`));
      }
      chunked = true;
      contentLength = null;
    } else if (this.clLines > 0) {
      if (this.clLines > 1) return this.fail(parseError('more than one Content-Length field'));
      const cl = this.clValue as string;
      if (cl.length === 0 || cl.length > 15) return this.fail(parseError(`invalid Content-Length ${JSON.stringify(cl)}`));
      let n = 0;
      for (let k = 0; k < cl.length; k++) {
        const d = cl.charCodeAt(k) - 0x30;
        if (d < 0 || d > 9) return this.fail(parseError(`invalid Content-Length ${JSON.stringify(cl)}`));
        n = n * 10 + d;
      }
      if (n > this.bodyLimit) return this.fail(new PeerwebError('PW_ERR_HTTP_BODY_TOO_LARGE', { limit: this.bodyLimit }));
      contentLength = n;
    }
    if (connect && (chunked || (contentLength as number) > 0)) return this.fail(parseError('CONNECT request with a body'));
    // Persistence (RFC 9112 §9.3).
    let keepAlive = v1;
    if (this.connectionValue !== null) {
      const tokens = this.connectionValue.toLowerCase().split(',');
      for (const t of tokens) {
        const tok = t.trim();
        if (tok === 'close') {
          keepAlive = false;
          break;
        }
        if (tok === 'keep-alive' && !v1) keepAlive = true;
      }
    }
    if (connect) keepAlive = false;
    let expectContinue = false;
    if (v1 && this.expectValue !== null && this.expectValue.toLowerCase() === '100-continue') expectContinue = true;
    const hasBody = chunked || (contentLength as number) > 0;
    const head: ParsedHead = {
      method,
      target: this.target,
      versionMinor: this.versionMinor,
      headers: Fields.fromRaw(this.raw),
      contentLength,
      chunked,
      hasBody,
      keepAlive,
      expectContinue,
    };
    this.keepAlive = keepAlive;
    this.raw = [];
    this.bodyReceived = 0;
    if (connect) this.state = S.Tunnel;
    else if (chunked) this.state = S.ChunkSize;
    else if (hasBody) {
      this.state = S.BodyLength;
      this.remaining = contentLength as number;
    } else this.state = S.Start;
    this.sink.onHead(head);
    if (connect) {
      this.resetMessage();
      this.sink.onMessageEnd();
    } else if (!hasBody && this.state === S.Start) this.endMessage();
  }

  /** Checks the form of the target for the method; returns whether it is absolute-form, or null after failing. */
  private checkTarget(method: string, connect: boolean): boolean | null {
    const t = this.target;
    if (connect) {
      if (!validAuthority(t, true)) {
        this.fail(parseError(`CONNECT target ${JSON.stringify(t)} is not host:port`));
        return null;
      }
      return false;
    }
    if (t.charCodeAt(0) === 0x2f) return false; // origin-form
    if (t === '*') {
      if (method !== 'OPTIONS') {
        this.fail(parseError(`asterisk-form target with method ${method}`));
        return null;
      }
      return false;
    }
    // absolute-form: scheme "://" authority [path-abempty] [ "?" query ]
    const m = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?]*)/.exec(t);
    if (m === null) {
      this.fail(parseError(`request target ${JSON.stringify(t)} is not origin-form or absolute-form`));
      return null;
    }
    const authority = m[2] as string;
    if (authority.includes('@')) {
      this.fail(parseError('userinfo in request target'));
      return null;
    }
    if (!validAuthority(authority, false)) {
      this.fail(parseError(`invalid authority ${JSON.stringify(authority)} in request target`));
      return null;
    }
    return true;
  }

  private chunkSizeLine(b: Buffer, start: number, end: number): void {
    if (end - start > this.chunkLineLimit) return this.fail(parseError(`chunk size line longer than ${this.chunkLineLimit} bytes`));
    let i = start;
    let size = 0;
    while (i < end) {
      const h = HEX[b[i] as number] as number;
      if (h === 0) break;
      if (i - start >= MAX_CHUNK_HEX_DIGITS) return this.fail(parseError('chunk size has too many digits'));
      size = size * 16 + (h - 1);
      i++;
    }
    if (i === start) return this.fail(parseError(`invalid chunk size starting with ${describeByte(b[i])}`));
    if (size > Number.MAX_SAFE_INTEGER) return this.fail(parseError('chunk size overflows'));
    // chunk-ext = *( BWS ";" BWS ext-name [ BWS "=" BWS ext-val ] )
    while (i < end) {
      while (i < end && (b[i] === SP || b[i] === HTAB)) i++;
      if (b[i] !== 0x3b) return this.fail(parseError(`invalid character ${describeByte(i < end ? b[i] : undefined)} after chunk size`));
      i++;
      while (i < end && (b[i] === SP || b[i] === HTAB)) i++;
      const nStart = i;
      while (i < end && TOKEN[b[i] as number] === 1) i++;
      if (i === nStart) return this.fail(parseError('empty chunk extension name'));
      let j = i;
      while (j < end && (b[j] === SP || b[j] === HTAB)) j++;
      if (j < end && b[j] === 0x3d) {
        i = j + 1;
        while (i < end && (b[i] === SP || b[i] === HTAB)) i++;
        if (b[i] === 0x22 && i < end) {
          i++;
          for (;;) {
            if (i >= end) return this.fail(parseError('unterminated quoted chunk extension value'));
            const c = b[i] as number;
            if (c === 0x22) break;
            if (c === 0x5c) {
              const q = b[i + 1] as number;
              if (i + 1 >= end || !(q === HTAB || (q >= 0x20 && q !== 0x7f))) return this.fail(parseError('invalid quoted-pair in chunk extension'));
              i += 2;
              continue;
            }
            if (QDTEXT[c] !== 1) return this.fail(parseError(`invalid character ${describeByte(c)} in chunk extension value`));
            i++;
          }
          i++;
        } else {
          const vStart = i;
          while (i < end && TOKEN[b[i] as number] === 1) i++;
          if (i === vStart) return this.fail(parseError('empty chunk extension value'));
        }
      }
    }
    if (this.bodyReceived + size > this.bodyLimit) return this.fail(new PeerwebError('PW_ERR_HTTP_BODY_TOO_LARGE', { limit: this.bodyLimit }));
    this.bodyReceived += size;
    if (size === 0) {
      this.state = S.Trailers;
      this.sectionBytes = 0;
      this.raw = [];
    } else {
      this.state = S.ChunkData;
      this.remaining = size;
    }
  }

  private resetMessage(): void {
    this.emptyLineSkipped = false;
    this.raw = [];
    this.hostLines = 0;
    this.hostValue = '';
    this.clLines = 0;
    this.clValue = null;
    this.teLines = 0;
    this.teValue = null;
    this.connectionValue = null;
    this.expectValue = null;
    this.sectionBytes = 0;
  }

  private endMessage(): void {
    this.resetMessage();
    if (!this.keepAlive) {
      this.state = S.Done;
      this.buf = EMPTY;
      this.off = 0;
    }
    this.sink.onMessageEnd();
  }
}

/** uri-host [":" port]; `needPort` for CONNECT's authority-form. */
export function validAuthority(a: string, needPort: boolean): boolean {
  if (a.length === 0 || a.length > 1024) return false;
  let i = 0;
  if (a.charCodeAt(0) === 0x5b) {
    const close = a.indexOf(']');
    if (close < 3) return false;
    for (let k = 1; k < close; k++) {
      const c = a.charCodeAt(k);
      if (!(HEX[c] !== 0 || c === 0x3a || c === 0x2e)) return false;
    }
    i = close + 1;
  } else {
    while (i < a.length && a.charCodeAt(i) !== 0x3a) {
      const c = a.charCodeAt(i);
      if (c > 0xff || REG_NAME[c] !== 1) return false;
      if (c === 0x25 && (HEX[a.charCodeAt(i + 1) & 0xff] === 0 || HEX[a.charCodeAt(i + 2) & 0xff] === 0)) return false;
      i++;
    }
    if (i === 0) return false;
  }
  if (i === a.length) return !needPort;
  if (a.charCodeAt(i) !== 0x3a) return false;
  const digits = a.length - i - 1;
  if (digits === 0) return !needPort;
  if (digits > 5) return false;
  let port = 0;
  for (let k = i + 1; k < a.length; k++) {
    const d = a.charCodeAt(k) - 0x30;
    if (d < 0 || d > 9) return false;
    port = port * 10 + d;
  }
  return port <= 65535 && (!needPort || port > 0);
}

function validHost(h: string, absoluteTarget: boolean): boolean {
  if (h.length === 0) return absoluteTarget;
  return validAuthority(h, false);
}
