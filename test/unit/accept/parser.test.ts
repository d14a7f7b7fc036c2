import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RequestParser, type ParsedHead, type ParserLimits } from '../../../src/accept/index.js';
import type { PeerwebError } from '../../../src/errors/index.js';

const LIMITS: ParserLimits = { requestLine: 200, headerSize: 1024, headerCount: 20, requestBody: 1000, chunkLine: 100 };

interface Msg {
  method: string;
  target: string;
  v: 0 | 1;
  headers: [string, string][];
  cl: number | null;
  chunked: boolean;
  keepAlive: boolean;
  expect: boolean;
  body: string;
  trailers?: [string, string][];
  ended: boolean;
}

interface Result {
  msgs: Msg[];
  error?: { status: number; code: string; message: string };
}

interface Feed {
  /** Each part is copied into one reused buffer, which is overwritten right after `push(part, true)` returns. */
  borrowed?: boolean;
  /** The sink pauses the parser on every head; it is resumed after the next part has been pushed. */
  pauseOnHead?: boolean;
}

/** Feeds `parts` one by one; collects messages (body pieces joined) and the first error. */
function parse(parts: (string | Buffer)[], limits: ParserLimits = LIMITS, feed: Feed = {}): Result {
  const res: Result = { msgs: [] };
  let cur: Msg | null = null;
  const p = new RequestParser(limits, {
    onHead(h: ParsedHead) {
      if (feed.pauseOnHead === true) p.pause();
      cur = {
        method: h.method,
        target: h.target,
        v: h.versionMinor,
        headers: h.headers.toJSON(),
        cl: h.contentLength,
        chunked: h.chunked,
        keepAlive: h.keepAlive,
        expect: h.expectContinue,
        body: '',
        ended: false,
      };
      res.msgs.push(cur);
    },
    onBody(c: Buffer) {
      assert.ok(cur, 'body before head');
      cur.body += c.toString('latin1');
    },
    onTrailers(t) {
      assert.ok(cur);
      cur.trailers = t.toJSON();
    },
    onMessageEnd() {
      assert.ok(cur, 'end before head');
      assert.equal(cur.ended, false, 'message ended twice');
      cur.ended = true;
    },
    onError(e: PeerwebError) {
      assert.equal(res.error, undefined, 'two errors');
      res.error = { status: e.status, code: e.code, message: e.message };
    },
  });
  const shared = Buffer.alloc(4096);
  for (const part of parts) {
    const b = typeof part === 'string' ? Buffer.from(part, 'latin1') : part;
    if (feed.borrowed === true) {
      assert.ok(b.length <= shared.length);
      b.copy(shared);
      p.push(shared.subarray(0, b.length), true);
      shared.fill(0x58);
    } else p.push(b);
    if (feed.pauseOnHead === true) p.resume();
  }
  if (feed.pauseOnHead === true) for (let i = 0; i < 100 && p.paused; i++) p.resume();
  return res;
}

const H = 'Host: a.example\r\n';

// ---- refused inputs: [name, raw request, expected status] -----------------------------------------
const refused: [string, string, number][] = [
  // Content-Length / Transfer-Encoding ambiguity (request smuggling)
  ['CL and TE together', `POST / HTTP/1.1\r\n${H}Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`, 400],
  ['TE and CL together', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n`, 400],
  ['duplicate identical CL', `POST / HTTP/1.1\r\n${H}Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello`, 400],
  ['duplicate differing CL', `POST / HTTP/1.1\r\n${H}Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!`, 400],
  ['CL list "5, 5"', `POST / HTTP/1.1\r\n${H}Content-Length: 5, 5\r\n\r\nhello`, 400],
  ['CL with plus', `POST / HTTP/1.1\r\n${H}Content-Length: +5\r\n\r\nhello`, 400],
  ['CL negative', `POST / HTTP/1.1\r\n${H}Content-Length: -1\r\n\r\n`, 400],
  ['CL non-digit', `POST / HTTP/1.1\r\n${H}Content-Length: 5a\r\n\r\nhello`, 400],
  ['CL hex', `POST / HTTP/1.1\r\n${H}Content-Length: 0x5\r\n\r\nhello`, 400],
  ['CL empty', `POST / HTTP/1.1\r\n${H}Content-Length:\r\n\r\n`, 400],
  ['CL with inner space', `POST / HTTP/1.1\r\n${H}Content-Length: 1 0\r\n\r\n`, 400],
  ['CL overflowing', `POST / HTTP/1.1\r\n${H}Content-Length: 99999999999999999999\r\n\r\n`, 400],
  ['CL decimal', `POST / HTTP/1.1\r\n${H}Content-Length: 5.0\r\n\r\nhello`, 400],
  ['CL over the body limit', `POST / HTTP/1.1\r\n${H}Content-Length: 1001\r\n\r\n`, 413],
  ['TE chunked, identity', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n`, 400],
  ['TE identity', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: identity\r\n\r\n`, 400],
  ['TE xchunked', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n`, 400],
  ['TE chunkedx', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunkedx\r\n\r\n0\r\n\r\n`, 400],
  ['TE chunked with VT', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\x0b\r\n\r\n0\r\n\r\n`, 400],
  ['TE chunked with FF', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: \x0cchunked\r\n\r\n0\r\n\r\n`, 400],
  ['TE folded onto a second line', `POST / HTTP/1.1\r\n${H}Transfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n`, 400],
  ['TE line with leading space', `POST / HTTP/1.1\r\n${H} Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n`, 400],
  ['TE name then space then colon', `POST / HTTP/1.1\r\n${H}Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n`, 400],
  ['TE duplicate lines', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`, 400],
  ['TE chunked, chunked', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n`, 400],
  ['TE quoted', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: "chunked"\r\n\r\n0\r\n\r\n`, 400],
  ['TE in HTTP/1.0', `POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`, 400],
  ['TE gzip, chunked (not implemented)', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n`, 501],
  ['TE chunked with underscore name', `POST / HTTP/1.1\r\n${H}Transfer_Encoding: chunked\r\nContent-Length: 3\r\n\r\nabc`, -1],
  // Chunked body
  ['chunk size non-hex', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\nzz\r\n`, 400],
  ['chunk size empty', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n\r\n`, 400],
  ['chunk size negative', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n-1\r\n`, 400],
  ['chunk size 0x prefix', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n`, 400],
  ['chunk size too many digits', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n00000000000000001\r\n`, 400],
  ['chunk size overflow', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\n`, 400],
  ['chunk size with trailing space', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n5 \r\nhello\r\n0\r\n\r\n`, 400],
  ['chunk size with leading space', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n 5\r\nhello\r\n0\r\n\r\n`, 400],
  ['chunk over body limit', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n3e9\r\n`, 413],
  ['chunks summing over body limit', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n1f4\r\n${'a'.repeat(500)}\r\n1f5\r\n`, 413],
  ['chunk ext without name', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n5;\r\nhello\r\n0\r\n\r\n`, 400],
  ['chunk ext with empty value', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n5;a=\r\nhello\r\n0\r\n\r\n`, 400],
  ['chunk ext with bad char', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n5;a=b@c\r\nhello\r\n0\r\n\r\n`, 400],
  ['chunk ext unterminated quote', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n5;a="b\r\nhello\r\n0\r\n\r\n`, 400],
  ['chunk ext with bare LF inside', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n5;a=b\nc\r\nhello\r\n0\r\n\r\n`, 400],
  ['chunk ext too long', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n5;a=${'b'.repeat(200)}\r\nhello\r\n0\r\n\r\n`, 400],
  ['chunk ext too long (no CRLF yet)', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n5;a=${'b'.repeat(200)}`, 400],
  ['chunk data not followed by CRLF', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n`, 400],
  ['chunk data followed by LF only', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n5\r\nhello\n0\r\n\r\n`, 400],
  ['chunk data followed by CR only', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n5\r\nhello\rX0\r\n\r\n`, 400],
  ['chunk data longer than size', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n3\r\nhello\r\n0\r\n\r\n`, 400],
  ['chunk size line bare LF', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n`, 400],
  ['trailer with bad name', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n0\r\nBad Name: x\r\n\r\n`, 400],
  ['trailer obs-fold', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n0\r\nA: x\r\n y\r\n\r\n`, 400],
  ['trailer with NUL', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n0\r\nA: x\0y\r\n\r\n`, 400],
  ['trailer section too large', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n0\r\n${'A: xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\r\n'.repeat(20)}\r\n`, 431],
  ['too many trailers', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n0\r\n${'A: x\r\n'.repeat(21)}\r\n`, 431],
  // Line terminators
  ['bare LF after request line', `GET / HTTP/1.1\n${H}\r\n`, 400],
  ['bare LF after a field', `GET / HTTP/1.1\r\nHost: a.example\n\r\n`, 400],
  ['bare LF ending the head', `GET / HTTP/1.1\r\n${H}\n`, 400],
  ['bare CR in request line', `GET /\r HTTP/1.1\r\n${H}\r\n`, 400],
  ['bare CR as terminator', `GET / HTTP/1.1\r${H}\r\n`, 400],
  ['bare CR in field value', `GET / HTTP/1.1\r\n${H}X: a\rb\r\n\r\n`, 400],
  ['bare CR ending the head', `GET / HTTP/1.1\r\n${H}\r\r\n`, 400],
  ['LF only request', `GET / HTTP/1.1\nHost: a\n\n`, 400],
  // Field syntax
  ['obs-fold', `GET / HTTP/1.1\r\n${H}X-A: one\r\n two\r\n\r\n`, 400],
  ['obs-fold with tab', `GET / HTTP/1.1\r\n${H}X-A: one\r\n\ttwo\r\n\r\n`, 400],
  ['whitespace before first field', `GET / HTTP/1.1\r\n ${H}\r\n`, 400],
  ['space before colon', `GET / HTTP/1.1\r\n${H}X-A : b\r\n\r\n`, 400],
  ['tab before colon', `GET / HTTP/1.1\r\n${H}X-A\t: b\r\n\r\n`, 400],
  ['empty field name', `GET / HTTP/1.1\r\n${H}: b\r\n\r\n`, 400],
  ['no colon', `GET / HTTP/1.1\r\n${H}X-A b\r\n\r\n`, 400],
  ['NUL in name', `GET / HTTP/1.1\r\n${H}X\0A: b\r\n\r\n`, 400],
  ['NUL in value', `GET / HTTP/1.1\r\n${H}X-A: b\0c\r\n\r\n`, 400],
  ['DEL in value', `GET / HTTP/1.1\r\n${H}X-A: b\x7fc\r\n\r\n`, 400],
  ['ESC in value', `GET / HTTP/1.1\r\n${H}X-A: b\x1bc\r\n\r\n`, 400],
  ['non-token char in name', `GET / HTTP/1.1\r\n${H}X(A): b\r\n\r\n`, 400],
  ['slash in name', `GET / HTTP/1.1\r\n${H}X/A: b\r\n\r\n`, 400],
  ['non-ASCII in name', `GET / HTTP/1.1\r\n${H}X\xe9: b\r\n\r\n`, 400],
  ['header section too large', `GET / HTTP/1.1\r\n${H}X: ${'a'.repeat(1100)}\r\n\r\n`, 431],
  ['header section too large (no CRLF yet)', `GET / HTTP/1.1\r\n${H}X: ${'a'.repeat(1100)}`, 431],
  ['too many fields', `GET / HTTP/1.1\r\n${H}${'X: a\r\n'.repeat(20)}\r\n`, 431],
  // Request line
  ['request line too long', `GET /${'a'.repeat(250)} HTTP/1.1\r\n${H}\r\n`, 414],
  ['request line too long (no CRLF yet)', `GET /${'a'.repeat(250)}`, 414],
  ['space in target', `GET /a b HTTP/1.1\r\n${H}\r\n`, 400],
  ['two spaces after method', `GET  / HTTP/1.1\r\n${H}\r\n`, 400],
  ['tab separator', `GET\t/ HTTP/1.1\r\n${H}\r\n`, 400],
  ['trailing space after version', `GET / HTTP/1.1 \r\n${H}\r\n`, 400],
  ['leading space', ` GET / HTTP/1.1\r\n${H}\r\n`, 400],
  ['CTL in target', `GET /a\x01b HTTP/1.1\r\n${H}\r\n`, 400],
  ['DEL in target', `GET /a\x7f HTTP/1.1\r\n${H}\r\n`, 400],
  ['non-ASCII in target', `GET /caf\xe9 HTTP/1.1\r\n${H}\r\n`, 400],
  ['fragment in target', `GET /a#b HTTP/1.1\r\n${H}\r\n`, 400],
  ['bad percent-encoding', `GET /a%zz HTTP/1.1\r\n${H}\r\n`, 400],
  ['truncated percent-encoding', `GET /a% HTTP/1.1\r\n${H}\r\n`, 400],
  ['invalid method char', `G@T / HTTP/1.1\r\n${H}\r\n`, 400],
  ['method with colon', `GE:T / HTTP/1.1\r\n${H}\r\n`, 400],
  ['lower-case protocol', `GET / http/1.1\r\n${H}\r\n`, 400],
  ['malformed version', `GET / HTTP/1.x\r\n${H}\r\n`, 400],
  ['version with extra digits', `GET / HTTP/01.1\r\n${H}\r\n`, 505],
  ['HTTP/1.10', `GET / HTTP/1.10\r\n${H}\r\n`, 505],
  ['HTTP/1.2', `GET / HTTP/1.2\r\n${H}\r\n`, 505],
  ['HTTP/2.0', `GET / HTTP/2.0\r\n${H}\r\n`, 505],
  ['HTTP/2 preface', 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 505],
  ['HTTP/0.9', 'GET /\r\n', 505],
  ['HTTP/3.0', `GET / HTTP/3.0\r\n${H}\r\n`, 505],
  ['two empty lines before request', `\r\n\r\nGET / HTTP/1.1\r\n${H}\r\n`, 400],
  ['asterisk with GET', `GET * HTTP/1.1\r\n${H}\r\n`, 400],
  ['relative target', `GET a/b HTTP/1.1\r\n${H}\r\n`, 400],
  ['absolute-form with userinfo', `GET http://u:p@a.example/ HTTP/1.1\r\n${H}\r\n`, 400],
  ['absolute-form with empty authority', `GET http:///x HTTP/1.1\r\n${H}\r\n`, 400],
  ['CONNECT without port', `CONNECT a.example HTTP/1.1\r\n${H}\r\n`, 400],
  ['CONNECT with origin-form', `CONNECT / HTTP/1.1\r\n${H}\r\n`, 400],
  ['CONNECT with body', `CONNECT a.example:443 HTTP/1.1\r\n${H}Content-Length: 3\r\n\r\nabc`, 400],
  ['CONNECT bad port', `CONNECT a.example:99999 HTTP/1.1\r\n${H}\r\n`, 400],
  // Host
  ['missing Host in HTTP/1.1', 'GET / HTTP/1.1\r\n\r\n', 400],
  ['duplicate Host', `GET / HTTP/1.1\r\n${H}${H}\r\n`, 400],
  ['duplicate Host differing', `GET / HTTP/1.1\r\n${H}Host: b.example\r\n\r\n`, 400],
  ['Host with space', 'GET / HTTP/1.1\r\nHost: a example\r\n\r\n', 400],
  ['Host with slash', 'GET / HTTP/1.1\r\nHost: a.example/x\r\n\r\n', 400],
  ['Host with userinfo', 'GET / HTTP/1.1\r\nHost: u@a.example\r\n\r\n', 400],
  ['Host with bad port', 'GET / HTTP/1.1\r\nHost: a.example:8x\r\n\r\n', 400],
  ['Host port too big', 'GET / HTTP/1.1\r\nHost: a.example:70000\r\n\r\n', 400],
  ['Host empty with origin-form', 'GET / HTTP/1.1\r\nHost:\r\n\r\n', 400],
  ['Host with non-ASCII', 'GET / HTTP/1.1\r\nHost: caf\xe9.example\r\n\r\n', 400],
  ['Host bad IPv6', 'GET / HTTP/1.1\r\nHost: [zz::1]\r\n\r\n', 400],
];

for (const [name, raw, status] of refused) {
  if (status === -1) continue;
  test(`refuses: ${name} → ${status}`, () => {
    const r = parse([raw]);
    assert.ok(r.error, `expected an error, got ${JSON.stringify(r.msgs)}`);
    assert.equal(r.error.status, status, r.error.message);
    // Nothing ambiguous is half-forwarded: no message may complete with a body after a framing error.
    for (const m of r.msgs) assert.ok(!(m.ended && m.body.length > 0 && status !== 400), 'no body forwarded');
  });
  test(`refuses byte by byte: ${name} → ${status}`, () => {
    const r = parse([...Buffer.from(raw, 'latin1')].map((b) => Buffer.from([b])));
    assert.ok(r.error, `expected an error, got ${JSON.stringify(r.msgs)}`);
    assert.equal(r.error.status, status, r.error.message);
  });
}

test('a field merely resembling Transfer-Encoding is an ordinary field', () => {
  const r = parse([`POST / HTTP/1.1\r\n${H}Transfer_Encoding: chunked\r\nContent-Length: 3\r\n\r\nabc`]);
  assert.equal(r.error, undefined);
  assert.equal(r.msgs[0]?.body, 'abc');
  assert.equal(r.msgs[0]?.chunked, false);
});

test('error messages name the offending value', () => {
  const r = parse([`POST / HTTP/1.1\r\n${H}Content-Length: +5\r\n\r\n`]);
  assert.equal(r.error?.code, 'PW_ERR_HTTP_PARSE');
  assert.match(r.error?.message ?? '', /\+5/);
  const v = parse([`GET / HTTP/1.10\r\n${H}\r\n`]);
  assert.equal(v.error?.code, 'PW_ERR_HTTP_VERSION');
  assert.match(v.error?.message ?? '', /1\.10/);
});

test('after an error the parser ignores further input', () => {
  const r = parse([`GET / HTTP/1.1\n\r\n`, `GET / HTTP/1.1\r\n${H}\r\n`]);
  assert.equal(r.error?.status, 400);
  assert.equal(r.msgs.length, 0);
});

// ---- accepted inputs ----------------------------------------------------------------------------
test('simple GET', () => {
  const r = parse([`GET /a?b=c HTTP/1.1\r\nHost: a.example\r\nAccept:  text/html \t\r\nX-Empty:\r\n\r\n`]);
  assert.equal(r.error, undefined);
  assert.deepEqual(r.msgs, [
    {
      method: 'GET', target: '/a?b=c', v: 1, cl: 0, chunked: false, keepAlive: true, expect: false, body: '', ended: true,
      headers: [['Host', 'a.example'], ['Accept', 'text/html'], ['X-Empty', '']],
    },
  ]);
});

test('field values keep obs-text (latin1) and inner whitespace', () => {
  const r = parse([`GET / HTTP/1.1\r\n${H}X-A: caf\xe9  au\tlait\r\n\r\n`]);
  assert.deepEqual(r.msgs[0]?.headers[1], ['X-A', 'caf\xe9  au\tlait']);
});

test('one empty line before the request line is ignored', () => {
  const r = parse([`\r\nGET / HTTP/1.1\r\n${H}\r\n`]);
  assert.equal(r.error, undefined);
  assert.equal(r.msgs.length, 1);
});

test('HTTP/1.0: no Host needed, close by default, keep-alive on request', () => {
  const r = parse(['GET / HTTP/1.0\r\n\r\n']);
  assert.equal(r.msgs[0]?.keepAlive, false);
  assert.equal(r.msgs[0]?.v, 0);
  const k = parse(['GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\nGET /2 HTTP/1.0\r\n\r\n']);
  assert.equal(k.msgs.length, 2);
  assert.equal(k.msgs[0]?.keepAlive, true);
  assert.equal(k.msgs[1]?.keepAlive, false);
});

test('Connection: close ends parsing after that message', () => {
  const r = parse([`GET / HTTP/1.1\r\n${H}Connection: foo, close\r\n\r\nGET /2 HTTP/1.1\r\n${H}\r\n`]);
  assert.equal(r.msgs.length, 1);
  assert.equal(r.msgs[0]?.keepAlive, false);
  assert.equal(r.error, undefined);
});

test('Content-Length body, leading zeros allowed', () => {
  const r = parse([`POST /p HTTP/1.1\r\n${H}Content-Length: 005\r\n\r\nhello`]);
  assert.equal(r.msgs[0]?.cl, 5);
  assert.equal(r.msgs[0]?.body, 'hello');
  assert.equal(r.msgs[0]?.ended, true);
});

test('Content-Length: 0 and body limit exactly', () => {
  const r = parse([`POST /p HTTP/1.1\r\n${H}Content-Length: 0\r\n\r\nPOST /q HTTP/1.1\r\n${H}Content-Length: 1000\r\n\r\n${'x'.repeat(1000)}`]);
  assert.equal(r.error, undefined);
  assert.equal(r.msgs.length, 2);
  assert.equal(r.msgs[1]?.body.length, 1000);
});

test('chunked body with extensions and trailers', () => {
  const raw =
    `POST /c HTTP/1.1\r\n${H}Transfer-Encoding: Chunked\r\n\r\n` +
    '5;name=value;flag\r\nhello\r\n' +
    '6 ; q="a \\"quoted\\" \tstring" ; x = y\r\n world\r\n' +
    'A\r\n0123456789\r\n' +
    '0;last\r\nX-Checksum: abc\r\nX-Two: 2\r\n\r\n';
  const r = parse([raw]);
  assert.equal(r.error, undefined, r.error?.message);
  assert.equal(r.msgs[0]?.cl, null);
  assert.equal(r.msgs[0]?.chunked, true);
  assert.equal(r.msgs[0]?.body, 'hello world0123456789');
  assert.deepEqual(r.msgs[0]?.trailers, [['X-Checksum', 'abc'], ['X-Two', '2']]);
  assert.equal(r.msgs[0]?.ended, true);
});

test('chunked with upper-case hex and leading zeros', () => {
  const r = parse([`POST /c HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n00A\r\n0123456789\r\n000\r\n\r\n`]);
  assert.equal(r.error, undefined);
  assert.equal(r.msgs[0]?.body, '0123456789');
});

test('absolute-form, authority-form and asterisk-form targets', () => {
  const r = parse([
    `GET http://b.example:8080/x?y HTTP/1.1\r\n${H}\r\n` +
      'GET https://[::1]/ HTTP/1.1\r\nHost: [::1]\r\n\r\n' +
      `OPTIONS * HTTP/1.1\r\n${H}\r\n` +
      `CONNECT b.example:443 HTTP/1.1\r\nHost: b.example:443\r\n\r\n` +
      'tunnel bytes',
  ]);
  assert.equal(r.error, undefined, r.error?.message);
  assert.deepEqual(r.msgs.map((m) => [m.method, m.target, m.keepAlive]), [
    ['GET', 'http://b.example:8080/x?y', true],
    ['GET', 'https://[::1]/', true],
    ['OPTIONS', '*', true],
    ['CONNECT', 'b.example:443', false],
  ]);
});

test('absolute-form whose authority disagrees with Host is accepted (absolute-form wins)', () => {
  const r = parse([`GET http://other.example/ HTTP/1.1\r\n${H}\r\n`]);
  assert.equal(r.error, undefined);
  assert.equal(r.msgs[0]?.target, 'http://other.example/');
});

test('absolute-form with an empty Host is accepted', () => {
  const r = parse(['GET http://other.example/ HTTP/1.1\r\nHost:\r\n\r\n']);
  assert.equal(r.error, undefined);
});

test('CONNECT: bytes after the head stay for the tunnel', () => {
  const sink = { heads: 0, ends: 0 };
  const p = new RequestParser(LIMITS, {
    onHead: () => sink.heads++,
    onBody: () => assert.fail('no body'),
    onMessageEnd: () => sink.ends++,
    onError: (e) => assert.fail(e.message),
  });
  p.push(Buffer.from('CONNECT b.example:443 HTTP/1.1\r\nHost: b.example:443\r\n\r\n\x16\x03\x01'));
  p.push(Buffer.from('more'));
  assert.deepEqual(sink, { heads: 1, ends: 1 });
  assert.equal(p.takeRemaining().toString('latin1'), '\x16\x03\x01more');
});

test('Expect: 100-continue is noted for HTTP/1.1 only', () => {
  const r = parse([`POST / HTTP/1.1\r\n${H}Expect: 100-Continue\r\nContent-Length: 2\r\n\r\nhi`]);
  assert.equal(r.msgs[0]?.expect, true);
  const r0 = parse(['POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nhi']);
  assert.equal(r0.msgs[0]?.expect, false);
});

test('pipelined requests split at every byte boundary give the same messages', () => {
  const raw =
    `GET /1 HTTP/1.1\r\n${H}\r\n` +
    `POST /2 HTTP/1.1\r\n${H}Content-Length: 11\r\n\r\nhello world` +
    `\r\nPOST /3 HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n3;e=1\r\nabc\r\n2\r\nde\r\n0\r\nT: 1\r\n\r\n` +
    `HEAD /4 HTTP/1.1\r\n${H}X-A: b\r\n\r\n` +
    `DELETE http://a.example/5 HTTP/1.1\r\n${H}Connection: close\r\n\r\n` +
    `GET /ignored HTTP/1.1\r\n${H}\r\n`;
  const whole = parse([raw]);
  assert.equal(whole.error, undefined, whole.error?.message);
  assert.deepEqual(whole.msgs.map((m) => [m.method, m.target, m.body, m.ended]), [
    ['GET', '/1', '', true],
    ['POST', '/2', 'hello world', true],
    ['POST', '/3', 'abcde', true],
    ['HEAD', '/4', '', true],
    ['DELETE', 'http://a.example/5', '', true],
  ]);
  const buf = Buffer.from(raw, 'latin1');
  for (let i = 1; i < buf.length; i++) {
    const r = parse([buf.subarray(0, i), buf.subarray(i)]);
    assert.deepEqual(r, whole, `split at ${i}`);
  }
  for (let i = 1; i < buf.length - 1; i += 7) {
    for (let j = i + 1; j < buf.length; j += 13) {
      const r = parse([buf.subarray(0, i), buf.subarray(i, j), buf.subarray(j)]);
      assert.deepEqual(r, whole, `split at ${i} and ${j}`);
    }
  }
  assert.deepEqual(parse([...buf].map((b) => Buffer.from([b]))), whole, 'byte by byte');
});

test('pause stops at the current callback and resume continues', () => {
  const seen: string[] = [];
  const p: RequestParser = new RequestParser(LIMITS, {
    onHead: (h) => seen.push(h.target),
    onBody: () => {},
    onMessageEnd: () => p.pause(),
    onError: (e) => assert.fail(e.message),
  });
  p.push(Buffer.from(`GET /1 HTTP/1.1\r\n${H}\r\nGET /2 HTTP/1.1\r\n${H}\r\nGET /3 HTTP/1.1\r\n${H}\r\n`));
  assert.deepEqual(seen, ['/1']);
  assert.equal(p.inHead, true);
  p.resume();
  assert.deepEqual(seen, ['/1', '/2']);
  p.resume();
  p.resume();
  assert.deepEqual(seen, ['/1', '/2', '/3']);
  assert.equal(p.inHead, false);
});

test('limits at their edges are accepted', () => {
  const target = '/' + 'a'.repeat(200 - 'GET  HTTP/1.1'.length - 1);
  const line = `GET ${target} HTTP/1.1`;
  assert.equal(line.length, 200);
  assert.equal(parse([`${line}\r\n${H}\r\n`]).error, undefined);
  assert.equal(parse([`${line}a\r\n${H}\r\n`]).error?.status, 414);
  const fields = `${H}${'X: a\r\n'.repeat(19)}`;
  assert.equal(parse([`GET / HTTP/1.1\r\n${fields}\r\n`]).msgs.length, 1);
});

test('mutated requests never throw: each ends in messages or one error', () => {
  const seeds = [
    `POST /a?b HTTP/1.1\r\n${H}Content-Length: 5\r\n\r\nhelloGET / HTTP/1.1\r\n${H}\r\n`,
    `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n5;a="b"\r\nhello\r\n0\r\nT: 1\r\n\r\n`,
    `CONNECT a.example:443 HTTP/1.1\r\nHost: a.example:443\r\n\r\n`,
  ];
  let state = 12345;
  const rnd = (n: number): number => {
    state = (state * 1103515245 + 12345) & 0x7fffffff;
    return state % n;
  };
  const alphabet = Buffer.from('\r\n \t:;,"=0123456789abcdefABCDEF-+/\\\x00\x0b\x7f\xff', 'latin1');
  for (let k = 0; k < 3000; k++) {
    const b = Buffer.from(seeds[k % seeds.length] as string, 'latin1');
    for (let m = 0; m < 1 + rnd(4); m++) b[rnd(b.length)] = alphabet[rnd(alphabet.length)] as number;
    const cut = rnd(b.length);
    const r = parse([b.subarray(0, cut), b.subarray(cut)]);
    for (const msg of r.msgs) assert.ok(msg.body.length <= 1000);
  }
});

test('a reused input buffer: bytes kept across pushes are copied, results equal those of owned input', () => {
  const streams = [
    `GET /one HTTP/1.1\r\n${H}Accept: */*\r\n\r\nPOST /two HTTP/1.1\r\n${H}Content-Length: 11\r\n\r\nhello worldGET /three HTTP/1.1\r\n${H}\r\n`,
    `POST /c HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n5;a=b\r\nhello\r\n6\r\n world\r\n0\r\nT: 1\r\n\r\nGET /d HTTP/1.1\r\n${H}\r\n`,
    `CONNECT a.example:443 HTTP/1.1\r\nHost: a.example:443\r\n\r\n`,
  ];
  let compared = 0;
  for (const s of streams) {
    for (const pauseOnHead of [false, true]) {
      const whole = parse([s], LIMITS, { pauseOnHead });
      assert.equal(whole.error, undefined);
      assert.ok(whole.msgs.length >= 1);
      // Every split into two parts, and byte by byte.
      const splits: string[][] = [];
      for (let cut = 1; cut < s.length; cut++) splits.push([s.slice(0, cut), s.slice(cut)]);
      splits.push([...s]);
      for (const parts of splits) {
        assert.deepEqual(parse(parts, LIMITS, { borrowed: true, pauseOnHead }), whole, `split ${JSON.stringify(parts.slice(0, 2))}`);
        compared++;
      }
    }
  }
  assert.ok(compared > 500);
});
