import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import type { IncomingRequest, OutgoingResponse } from '../../../src/accept/index.js';
import { isPeerwebError } from '../../../src/errors/index.js';
import { Fields } from '../../../src/http/fields.js';
import { RawClient, deferred, splitResponses, startServer } from './helpers.js';

const H = 'Host: a.example\r\n';

function text(res: OutgoingResponse, body: string, status = 200): void {
  res.writeHead(status, new Fields([['Content-Type', 'text/plain'], ['Content-Length', String(Buffer.byteLength(body))]]));
  res.end(Buffer.from(body));
}

function ok(body: string, extra = ''): string {
  return `HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\n${extra}\r\n${body}`;
}

test('keep-alive: two requests on one connection, byte-exact responses', async (t) => {
  const { port } = await startServer(t, (req, res) => text(res, `you asked ${req.method} ${req.target}`));
  const c = await RawClient.open(t, port);
  c.write(`GET /one HTTP/1.1\r\n${H}\r\n`);
  await c.responses(1);
  c.write(`GET /two HTTP/1.1\r\n${H}\r\n`);
  const r = await c.responses(2);
  assert.deepEqual(r, [ok('you asked GET /one'), ok('you asked GET /two')]);
  assert.equal(c.ended, false);
});

test('pipelining: responses go out in request order when handlers finish out of order', async (t) => {
  const held: [IncomingRequest, OutgoingResponse][] = [];
  const all = deferred();
  const { port } = await startServer(t, (req, res) => {
    held.push([req, res]);
    if (held.length === 4) all.resolve();
  });
  const c = await RawClient.open(t, port);
  c.write(`GET /1 HTTP/1.1\r\n${H}\r\nGET /2 HTTP/1.1\r\n${H}\r\nHEAD /3 HTTP/1.1\r\n${H}\r\nGET /4 HTTP/1.1\r\n${H}\r\n`);
  await all.promise;
  // Answer 4, 3, 2 (streaming, with backpressure signal), then 1.
  const [[, r1], [, r2], [, r3], [, r4]] = held as [[IncomingRequest, OutgoingResponse], [IncomingRequest, OutgoingResponse], [IncomingRequest, OutgoingResponse], [IncomingRequest, OutgoingResponse]];
  r4.sendPreserialized(Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 4\r\n'), 'Age: 4\r\n', Buffer.from('four'));
  text(r3, 'three');
  r2.writeHead(200, new Fields([['Content-Length', '3']]));
  r2.write(Buffer.from('tw'));
  await new Promise((r) => setImmediate(r));
  assert.equal(c.received.length, 0, 'nothing may be sent before the first response');
  text(r1, 'one');
  await c.until(() => c.text.includes('tw'));
  r2.end(Buffer.from('o'));
  await c.until(() => c.text.endsWith('four'));
  assert.equal(
    c.text,
    ok('one') + 'HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\ntwo' + 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\n' + 'HTTP/1.1 200 OK\r\nContent-Length: 4\r\nAge: 4\r\n\r\nfour',
  );
});

test('pipelineDepth bounds the requests handled at once on a connection', async (t) => {
  const held: OutgoingResponse[] = [];
  let calls = 0;
  const { port, errors } = await startServer(
    t,
    (req, res) => {
      calls++;
      held.push(res);
    },
    { pipelineDepth: 2 },
  );
  const c = await RawClient.open(t, port);
  c.write([0, 1, 2, 3, 4].map((i) => `GET /${i} HTTP/1.1\r\n${H}\r\n`).join(''));
  await c.until(() => calls === 2 || c.closed, 2000, 'two handler calls');
  assert.deepEqual(errors, []);
  await new Promise((r) => setImmediate(r));
  assert.equal(calls, 2);
  let answered = 0;
  while (answered < 5) {
    await c.until(() => held.length > answered, 2000, 'next handler call');
    text(held[answered] as OutgoingResponse, String(answered));
    answered++;
    assert.ok(calls <= answered + 2, `calls ${calls} answered ${answered}`);
  }
  const r = await c.responses(5);
  assert.deepEqual(r, ['0', '1', '2', '3', '4'].map((b) => ok(b)));
});

test('Connection: close gets Connection: close and the server closes', async (t) => {
  const { port, server } = await startServer(t, (req, res) => text(res, 'bye'));
  const c = await RawClient.open(t, port);
  c.write(`GET / HTTP/1.1\r\n${H}Connection: close\r\n\r\nGET /ignored HTTP/1.1\r\n${H}\r\n`);
  await c.untilClosed();
  assert.equal(c.text, ok('bye', 'Connection: close\r\n'));
  await c.until(() => server.connections === 0 || c.closed, 3000);
});

test('HTTP/1.0: close by default, keep-alive when asked, close-delimited body without Content-Length', async (t) => {
  const { port } = await startServer(t, (req, res) => {
    if (req.target === '/stream') {
      res.writeHead(200, new Fields());
      res.write(Buffer.from('abc'));
      res.end(Buffer.from('def'));
    } else text(res, 'v0');
  });
  const a = await RawClient.open(t, port);
  a.write('GET / HTTP/1.0\r\n\r\n');
  await a.untilClosed();
  assert.equal(a.text, ok('v0', 'Connection: close\r\n'));
  const b = await RawClient.open(t, port);
  b.write('GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n');
  await b.responses(1);
  assert.equal(b.text, ok('v0', 'Connection: keep-alive\r\n'));
  b.write('GET /stream HTTP/1.0\r\nConnection: keep-alive\r\n\r\n');
  await b.untilClosed();
  assert.equal(b.text.slice(ok('v0', 'Connection: keep-alive\r\n').length), 'HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nabcdef');
});

test('HTTP/1.1 without Content-Length is chunked; Transfer-Encoding and Connection from the handler are replaced', async (t) => {
  const { port } = await startServer(t, (req, res) => {
    res.writeHead(201, new Fields([['X-A', 'b'], ['Transfer-Encoding', 'gzip'], ['Connection', 'upgrade'], ['Keep-Alive', 'timeout=5']]), 'Made');
    res.write(Buffer.from('hello'));
    res.write(Buffer.alloc(0));
    res.end(Buffer.from(' world!'));
  });
  const c = await RawClient.open(t, port);
  c.write(`GET / HTTP/1.1\r\n${H}\r\n`);
  await c.until(() => c.text.endsWith('0\r\n\r\n'));
  assert.equal(c.text, 'HTTP/1.1 201 Made\r\nX-A: b\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n7\r\n world!\r\n0\r\n\r\n');
});

test('a parse error is answered in order after earlier pipelined responses, then the connection closes', async (t) => {
  const { port, errors } = await startServer(t, (req, res) => text(res, 'fine'));
  const c = await RawClient.open(t, port);
  c.write(`GET / HTTP/1.1\r\n${H}\r\nPOST / HTTP/1.1\r\n${H}Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`);
  await c.untilClosed();
  const body = 'Bad request: both Content-Length and Transfer-Encoding\n';
  assert.equal(
    c.text,
    ok('fine') + `HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`,
  );
  assert.ok(errors.some((e) => isPeerwebError(e, 'PW_ERR_HTTP_PARSE')));
});

test('status codes for limits: 414, 431, 413, 505, 501', async (t) => {
  let called = 0;
  const { port } = await startServer(
    t,
    (req, res) => {
      called++;
      text(res, 'x');
    },
    { requestLine: 100, headerSize: 300, requestBody: 10 },
  );
  const cases: [string, number][] = [
    [`GET /${'a'.repeat(200)} HTTP/1.1\r\n${H}\r\n`, 414],
    [`GET / HTTP/1.1\r\n${H}X: ${'a'.repeat(400)}\r\n\r\n`, 431],
    [`POST / HTTP/1.1\r\n${H}Content-Length: 11\r\n\r\n`, 413],
    [`GET / HTTP/2.0\r\n${H}\r\n`, 505],
    [`POST / HTTP/1.1\r\n${H}Transfer-Encoding: gzip, chunked\r\n\r\n`, 501],
  ];
  for (const [raw, status] of cases) {
    const c = await RawClient.open(t, port);
    c.write(raw);
    await c.untilClosed();
    assert.match(c.text, new RegExp(`^HTTP/1\\.1 ${status} `));
    assert.match(c.text, /\r\nConnection: close\r\n/);
  }
  assert.equal(called, 0);
});

test('chunked request body over the limit fails the body with 413', async (t) => {
  const { port } = await startServer(
    t,
    (req, res) => {
      req.readBody().then(
        () => text(res, 'unexpected'),
        (err: unknown) => text(res, String(isPeerwebError(err) ? err.code : err), isPeerwebError(err) ? err.status : 500),
      );
    },
    { requestBody: 10 },
  );
  const c = await RawClient.open(t, port);
  c.write(`POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n`);
  await c.untilClosed();
  assert.match(c.text, /^HTTP\/1\.1 413 Payload Too Large\r\n.*Connection: close\r\n\r\nPW_ERR_HTTP_BODY_TOO_LARGE$/s);
});

test('headerTimeout: a slow head gets 408 and the connection closes', async (t) => {
  const { port, errors } = await startServer(t, () => assert.fail('no request expected'), { headerTimeout: 200 });
  const c = await RawClient.open(t, port);
  const started = Date.now();
  c.write('GET / HTTP/1.1\r\nHost: a');
  await c.untilClosed(3000);
  const took = Date.now() - started;
  assert.match(c.text, /^HTTP\/1\.1 408 Request Timeout\r\n/);
  assert.ok(took >= 190, `closed after ${took} ms`);
  assert.ok(errors.some((e) => isPeerwebError(e, 'PW_ERR_HTTP_TIMEOUT')));
});

test('idleTimeout: an idle keep-alive connection is closed silently', async (t) => {
  const { port, server } = await startServer(t, (req, res) => text(res, 'x'), { idleTimeout: 200, headerTimeout: 5000 });
  const c = await RawClient.open(t, port);
  c.write(`GET / HTTP/1.1\r\n${H}\r\n`);
  await c.responses(1);
  const len = c.received.length;
  const started = Date.now();
  await c.untilClosed(3000);
  assert.ok(Date.now() - started >= 150);
  assert.equal(c.received.length, len, 'no bytes on idle close');
  assert.equal(c.text, ok('x'));
  c.socket.end();
  await c.until(() => server.connections === 0, 3000, 'connection count to drop');
});

test('bodyTimeout: a stalled body fails the body iterator with 408', async (t) => {
  const { port } = await startServer(
    t,
    (req, res) => {
      req.readBody().catch((err: unknown) => {
        assert.ok(isPeerwebError(err, 'PW_ERR_HTTP_TIMEOUT'));
        text(res, 'slow', err.status);
      });
    },
    { bodyTimeout: 200 },
  );
  const c = await RawClient.open(t, port);
  c.write(`POST / HTTP/1.1\r\n${H}Content-Length: 10\r\n\r\nab`);
  await c.untilClosed(3000);
  assert.equal(c.text, 'HTTP/1.1 408 Request Timeout\r\nContent-Type: text/plain\r\nContent-Length: 4\r\nConnection: close\r\n\r\nslow');
});

test('maxConnections: a connection beyond the limit is closed at once', async (t) => {
  const { port, server, errors } = await startServer(t, (req, res) => text(res, 'x'), { maxConnections: 2 });
  const a = await RawClient.open(t, port);
  const b = await RawClient.open(t, port);
  a.write(`GET / HTTP/1.1\r\n${H}\r\n`);
  b.write(`GET / HTTP/1.1\r\n${H}\r\n`);
  await a.responses(1);
  await b.responses(1);
  assert.equal(server.connections, 2);
  const c = await RawClient.open(t, port);
  c.write(`GET / HTTP/1.1\r\n${H}\r\n`);
  await c.until(() => c.closed, 3000, 'third connection closed');
  assert.equal(c.received.length, 0);
  assert.ok(errors.some((e) => isPeerwebError(e, 'PW_ERR_ACCEPT_CONNECTIONS_FULL')));
  a.socket.destroy();
  await a.until(() => server.connections === 1, 3000, 'count to drop');
  const d = await RawClient.open(t, port);
  d.write(`GET / HTTP/1.1\r\n${H}\r\n`);
  await d.responses(1);
});

test('Expect: 100-continue is answered when the handler reads the body', async (t) => {
  const { port } = await startServer(t, (req, res) => {
    req.readBody().then((b) => text(res, `got ${b.toString()}`));
  });
  const c = await RawClient.open(t, port);
  c.write(`POST / HTTP/1.1\r\n${H}Expect: 100-continue\r\nContent-Length: 5\r\n\r\n`);
  await c.until(() => c.text.length > 0);
  assert.equal(c.text, 'HTTP/1.1 100 Continue\r\n\r\n');
  c.write('hello');
  await c.responses(2);
  assert.equal(c.text, 'HTTP/1.1 100 Continue\r\n\r\n' + ok('got hello'));
});

test('Expect: 100-continue answered without reading the body: no 100 and the connection closes', async (t) => {
  const { port } = await startServer(t, (req, res) => text(res, 'no thanks', 417));
  const c = await RawClient.open(t, port);
  c.write(`POST / HTTP/1.1\r\n${H}Expect: 100-continue\r\nContent-Length: 5\r\n\r\n`);
  await c.untilClosed();
  assert.equal(c.text, 'HTTP/1.1 417 Expectation Failed\r\nContent-Type: text/plain\r\nContent-Length: 9\r\nConnection: close\r\n\r\nno thanks');
});

test('a small unread body is drained and the connection kept; an unread chunked body closes it', async (t) => {
  const { port } = await startServer(t, (req, res) => text(res, req.target));
  const c = await RawClient.open(t, port);
  c.write(`POST /a HTTP/1.1\r\n${H}Content-Length: 5\r\n\r\n`);
  await c.responses(1);
  c.write(`hello`);
  c.write(`GET /b HTTP/1.1\r\n${H}\r\n`);
  await c.responses(2);
  c.write(`POST /c HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n`);
  await c.untilClosed();
  c.write(`3\r\nabc\r\n0\r\n\r\nGET /d HTTP/1.1\r\n${H}\r\n`);
  assert.deepEqual(splitResponses(c.text), [ok('/a'), ok('/b'), ok('/c', 'Connection: close\r\n')]);
});

test('CONNECT: takeSocket hands over the socket with early bytes pushed back', async (t) => {
  const { port } = await startServer(t, (req, res) => {
    assert.equal(req.method, 'CONNECT');
    res.writeHead(200, new Fields([['Content-Length', '99']]), 'Connection established');
    res.takeSocket().then((s) => {
      s.pipe(s);
    });
  });
  const c = await RawClient.open(t, port);
  c.write(`CONNECT b.example:443 HTTP/1.1\r\nHost: b.example:443\r\n\r\nearly`);
  const head = 'HTTP/1.1 200 Connection established\r\n\r\n';
  await c.until(() => c.text === head + 'early');
  c.write('later');
  await c.until(() => c.text === head + 'earlylater');
});

test('CONNECT refused: the connection closes after the response', async (t) => {
  const { port } = await startServer(t, (req, res) => text(res, 'no', 403));
  const c = await RawClient.open(t, port);
  c.write(`CONNECT b.example:443 HTTP/1.1\r\nHost: b.example:443\r\n\r\nGET / HTTP/1.1\r\n${H}\r\n`);
  await c.untilClosed();
  assert.equal(c.text, 'HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nContent-Length: 2\r\nConnection: close\r\n\r\nno');
});

test('HEAD responses never carry a body', async (t) => {
  const { port } = await startServer(t, (req, res) => {
    assert.equal(res.isHead, true);
    if (req.target === '/pre') res.sendPreserialized(Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n'), '', Buffer.from('hello'));
    else if (req.target === '/chunk') {
      res.writeHead(200, new Fields());
      res.end(Buffer.from('ignored'));
    } else text(res, 'hello');
  });
  const c = await RawClient.open(t, port);
  c.write(`HEAD /pre HTTP/1.1\r\n${H}\r\nHEAD /std HTTP/1.1\r\n${H}\r\nHEAD /chunk HTTP/1.1\r\n${H}\r\nHEAD /pre HTTP/1.1\r\n${H}\r\n`);
  await c.until(() => c.text.split('HTTP/1.1').length === 5);
  await new Promise((r) => setImmediate(r));
  assert.equal(
    c.text,
    'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n' +
      'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\n' +
      'HTTP/1.1 200 OK\r\n\r\n' +
      'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n',
  );
});

test('writing more than the declared Content-Length aborts the connection', async (t) => {
  const { port, errors } = await startServer(t, (req, res) => {
    res.writeHead(200, new Fields([['Content-Length', '3']]));
    res.write(Buffer.from('ab'));
    res.write(Buffer.from('cd'));
  });
  const c = await RawClient.open(t, port);
  c.write(`GET / HTTP/1.1\r\n${H}\r\n`);
  await c.until(() => c.closed, 3000, 'abort');
  assert.ok('HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nab'.startsWith(c.text), c.text);
  assert.ok(errors.some((e) => isPeerwebError(e, 'PW_ERR_ACCEPT_RESPONSE')));
});

test('ending short of the declared Content-Length aborts the connection', async (t) => {
  const { port } = await startServer(t, (req, res) => {
    res.writeHead(200, new Fields([['Content-Length', '3']]));
    res.end(Buffer.from('ab'));
  });
  const c = await RawClient.open(t, port);
  c.write(`GET / HTTP/1.1\r\n${H}\r\nGET /2 HTTP/1.1\r\n${H}\r\n`);
  await c.until(() => c.closed, 3000, 'abort');
  assert.ok('HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nab'.startsWith(c.text), c.text);
});

test('a field with CR LF in its value is refused by writeHead', async (t) => {
  const { port } = await startServer(t, (req, res) => {
    assert.throws(() => res.writeHead(200, new Fields([['X-A', 'a\r\nSet-Cookie: x=1']])), /control characters/);
    text(res, 'safe');
  });
  const c = await RawClient.open(t, port);
  c.write(`GET / HTTP/1.1\r\n${H}\r\n`);
  await c.responses(1);
  assert.equal(c.text, ok('safe'));
});

test('a handler that throws gets a 500 and the connection closes', async (t) => {
  const { port } = await startServer(t, () => {
    throw new Error('boom');
  });
  const c = await RawClient.open(t, port);
  c.write(`GET / HTTP/1.1\r\n${H}\r\n`);
  await c.untilClosed();
  assert.match(c.text, /^HTTP\/1\.1 500 Internal Server Error\r\n.*Connection: close\r\n\r\nInternal server error\n$/s);
});

test('big request body is streamed with backpressure, big response with waitDrain', async (t) => {
  const size = 8 * 1024 * 1024;
  const { port } = await startServer(t, (req, res) => {
    void (async () => {
      const h = createHash('sha256');
      let n = 0;
      for await (const chunk of req.body()) {
        h.update(chunk);
        n += chunk.length;
        if (n % (1024 * 1024) < chunk.length) await new Promise((r) => setTimeout(r, 5));
      }
      const digest = h.digest('hex');
      res.writeHead(200, new Fields([['X-Digest', digest], ['X-Len', String(n)]]));
      const block = Buffer.alloc(256 * 1024, 0x61);
      for (let sent = 0; sent < size; sent += block.length) {
        if (!res.write(block)) await res.waitDrain();
      }
      res.end();
    })();
  });
  const c = await RawClient.open(t, port);
  const body = Buffer.alloc(size);
  for (let i = 0; i < size; i++) body[i] = i & 0xff;
  c.write(`POST / HTTP/1.1\r\n${H}Content-Length: ${size}\r\n\r\n`);
  c.write(body);
  await c.until(() => c.text.endsWith('\r\n0\r\n\r\n'), 15000, 'the whole response');
  const headEnd = c.text.indexOf('\r\n\r\n');
  const head = c.text.slice(0, headEnd);
  assert.match(head, new RegExp(`X-Digest: ${createHash('sha256').update(body).digest('hex')}`));
  assert.match(head, new RegExp(`X-Len: ${size}`));
  // De-chunk and count.
  let i = headEnd + 4;
  let total = 0;
  const s = c.text;
  for (;;) {
    const le = s.indexOf('\r\n', i);
    const n = parseInt(s.slice(i, le), 16);
    if (n === 0) break;
    total += n;
    i = le + 2 + n + 2;
  }
  assert.equal(total, size);
});

test('signal aborts when the client goes away before the response', async (t) => {
  const aborted = deferred();
  const { port } = await startServer(t, (req) => {
    req.signal.addEventListener('abort', () => aborted.resolve());
  });
  const c = await RawClient.open(t, port);
  c.write(`GET / HTTP/1.1\r\n${H}\r\n`);
  await new Promise((r) => setTimeout(r, 50));
  c.socket.destroy();
  await aborted.promise;
});

test('close(grace) lets an in-flight response finish, then stops', async (t) => {
  const started = deferred<OutgoingResponse>();
  const { port, server } = await startServer(t, (req, res) => started.resolve(res));
  const idle = await RawClient.open(t, port);
  const c = await RawClient.open(t, port);
  c.write(`GET / HTTP/1.1\r\n${H}\r\n`);
  const res = await started.promise;
  const closing = server.close(5000);
  await idle.untilClosed();
  setImmediate(() => text(res, 'last'));
  await closing;
  assert.equal(c.text, ok('last', 'Connection: close\r\n'));
  assert.equal(server.connections, 0);
});

test('remote and local addresses, receivedAt and body-less request metadata', async (t) => {
  let seen: IncomingRequest | undefined;
  const before = Date.now();
  const { port } = await startServer(t, (req, res) => {
    seen = req;
    text(res, 'x');
  });
  const c = await RawClient.open(t, port);
  c.write(`OPTIONS * HTTP/1.1\r\n${H}\r\n`);
  await c.responses(1);
  assert.ok(seen);
  assert.equal(seen.remoteAddress, '127.0.0.1');
  assert.equal(seen.localPort, port);
  assert.equal(seen.hasBody, false);
  assert.equal(seen.contentLength, 0);
  assert.ok(seen.receivedAt >= before && seen.receivedAt <= Date.now());
  assert.equal(seen.headers.get('host'), 'a.example');
});

test('a client that pipelines without reading is throttled, then dropped after idleTimeout', async (t) => {
  let calls = 0;
  const body = Buffer.alloc(64 * 1024, 0x62);
  const head = Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 65536\r\n');
  const { port, server } = await startServer(
    t,
    (req, res) => {
      calls++;
      res.sendPreserialized(head, '', body);
    },
    { idleTimeout: 300 },
  );
  const c = await RawClient.open(t, port);
  c.socket.pause();
  const n = 3000;
  c.write(`GET / HTTP/1.1\r\n${H}\r\n`.repeat(n));
  await c.until(() => server.connections === 0, 5000, 'the server to drop the connection');
  assert.ok(calls > 0 && calls < n, `${calls} requests handled of ${n}`);
});

test('a slow response is not cut by idleTimeout, and HTTP/1.0 keep-alive works with sendPreserialized', async (t) => {
  const { port } = await startServer(
    t,
    (req, res) => {
      // Simulates an upstream slower than idleTimeout.
      setTimeout(() => res.sendPreserialized(Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n'), '', Buffer.from('ok')), 500);
    },
    { idleTimeout: 200, headerTimeout: 200 },
  );
  const c = await RawClient.open(t, port);
  c.write('GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n');
  await c.responses(1, 3000);
  assert.equal(c.text, 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok');
  assert.equal(c.closed || c.ended, false);
});

test('readBody(limit) refuses a body over the limit', async (t) => {
  const { port } = await startServer(t, (req, res) => {
    req.readBody(4).then(
      (b) => text(res, b.toString()),
      (err: unknown) => text(res, isPeerwebError(err) ? err.message : 'other', 413),
    );
  });
  const c = await RawClient.open(t, port);
  c.write(`POST / HTTP/1.1\r\n${H}Content-Length: 3\r\n\r\nabcPOST / HTTP/1.1\r\n${H}Content-Length: 5\r\n\r\nabcde`);
  const r = await c.responses(2);
  assert.equal(r[0], ok('abc'));
  assert.match(r[1] ?? '', /^HTTP\/1\.1 413 Payload Too Large\r\n[^]*\r\n\r\nRequest body larger than 4 bytes$/);
});
