// Every connection of a server reads into one shared buffer and assembles small responses in one shared
// scratch buffer: these tests interleave connections so that a byte kept by reference would be overwritten.
// The last one checks the socket option that bounds the bytes the kernel holds unsent.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import type { Socket } from 'node:net';
import { test } from 'node:test';
import type { IncomingRequest, OutgoingResponse } from '../../../src/accept/index.js';
import { Fields } from '../../../src/http/fields.js';
import { RawClient, deferred, splitResponses, startServer } from './helpers.js';

const H = 'Host: a.example\r\n';

function echo(req: IncomingRequest, res: OutgoingResponse): void {
  const body = Buffer.from(`${req.method} ${req.target} ${req.headers.get('x-tag') ?? ''}`);
  res.writeHead(200, new Fields([['Content-Length', String(body.length)]]));
  res.end(body);
}

test('a head split across reads survives reads of other connections in between', async (t) => {
  const { port } = await startServer(t, echo);
  const a = await RawClient.open(t, port);
  const b = await RawClient.open(t, port);
  const head = `GET /from-a HTTP/1.1\r\n${H}X-Tag: aaaaaaaaaaaaaaaa\r\n\r\n`;
  for (let round = 0; round < 20; round++) {
    const cut = 5 + round * 3;
    a.write(head.slice(0, cut));
    // b's bytes land where a's first part was read.
    b.write(`GET /from-b-${'b'.repeat(40)} HTTP/1.1\r\n${H}X-Tag: bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\r\n\r\n`);
    await b.responses(round + 1);
    a.write(head.slice(cut));
    await a.responses(round + 1);
  }
  const ra = splitResponses(a.text);
  assert.equal(ra.length, 20);
  for (const r of ra) assert.ok(r.endsWith('\r\n\r\nGET /from-a aaaaaaaaaaaaaaaa'), r);
  for (const r of splitResponses(b.text)) assert.ok(r.endsWith(`GET /from-b-${'b'.repeat(40)} ${'b'.repeat(32)}`), r);
});

test('pipelined requests held back by pipelineDepth survive reads of other connections', async (t) => {
  const held: [IncomingRequest, OutgoingResponse][] = [];
  let released = false;
  const first = deferred();
  const { port } = await startServer(
    t,
    (req, res) => {
      if (req.target.startsWith('/a/') && !released) {
        // Answered later: until then the rest of a's pipeline waits in the parser.
        held.push([req, res]);
        first.resolve();
        return;
      }
      echo(req, res);
    },
    { pipelineDepth: 1 },
  );
  const a = await RawClient.open(t, port);
  const b = await RawClient.open(t, port);
  a.write(Array.from({ length: 10 }, (_, i) => `GET /a/${i} HTTP/1.1\r\n${H}X-Tag: a${i}\r\n\r\n`).join(''));
  await first.promise;
  for (let i = 0; i < 50; i++) b.write(`GET /b/${'z'.repeat(i)} HTTP/1.1\r\n${H}X-Tag: ${'y'.repeat(100)}\r\n\r\n`);
  await b.responses(50);
  released = true;
  const [req0, res0] = held[0] as [IncomingRequest, OutgoingResponse];
  echo(req0, res0);
  const ra = await a.responses(10);
  assert.deepEqual(ra.map((r) => r.slice(r.indexOf('\r\n\r\n') + 4)), Array.from({ length: 10 }, (_, i) => `GET /a/${i} a${i}`));
});

test('a request body read slowly by its handler is intact while other connections are read', async (t) => {
  const body = randomBytes(2 * 1024 * 1024);
  const want = createHash('sha256').update(body).digest('hex');
  const got = deferred<string>();
  const { port } = await startServer(t, (req, res) => {
    if (req.method === 'GET') return echo(req, res);
    void (async () => {
      const h = createHash('sha256');
      // Yield between chunks so that other connections' reads land in the shared buffer meanwhile.
      for await (const chunk of req.body()) {
        await new Promise((r) => setImmediate(r));
        h.update(chunk);
      }
      got.resolve(h.digest('hex'));
      res.writeHead(204, new Fields());
      res.end();
    })();
  });
  const a = await RawClient.open(t, port);
  const b = await RawClient.open(t, port);
  a.write(`POST /upload HTTP/1.1\r\n${H}Content-Length: ${body.length}\r\n\r\n`);
  a.write(body);
  let sent = 0;
  const noise = setInterval(() => {
    b.write(`GET /noise/${sent++} HTTP/1.1\r\n${H}X-Tag: ${'n'.repeat(1000)}\r\n\r\n`);
  }, 1);
  t.after(() => clearInterval(noise));
  assert.equal(await got.promise, want);
  clearInterval(noise);
  await b.responses(sent);
  assert.ok(sent > 0);
});

test('responses queued for a client that does not read keep their bytes while others are written', async (t) => {
  const n = 2000;
  const bodyOf = (i: number): Buffer => Buffer.alloc(4000, `<${i}>`);
  const { port } = await startServer(t, (req, res) => {
    const m = /^\/obj\/(\d+)$/.exec(req.target);
    const i = m === null ? -1 : Number(m[1]);
    const body = i >= 0 ? bodyOf(i) : Buffer.from('other');
    res.sendPreserialized(Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n`), '', body);
  });
  const slow = await RawClient.open(t, port);
  const other = await RawClient.open(t, port);
  slow.socket.pause();
  slow.write(Array.from({ length: n }, (_, i) => `GET /obj/${i} HTTP/1.1\r\n${H}\r\n`).join(''));
  // Enough responses that the kernel buffers fill and later writes stay queued in the server.
  for (let i = 0; i < 200; i++) other.write(`GET /x HTTP/1.1\r\n${H}\r\n`);
  await other.responses(200);
  slow.socket.resume();
  const rs = await slow.responses(n, 15_000);
  assert.equal(rs.length, n);
  for (let i = 0; i < n; i++) {
    const r = rs[i] as string;
    assert.equal(r.slice(r.indexOf('\r\n\r\n') + 4), bodyOf(i).toString('latin1'), `response ${i}`);
  }
});

test('limits.unsentBytes is set on accepted sockets (TCP_NOTSENT_LOWAT)', { skip: process.platform !== 'linux' }, async (t) => {
  const { getsockopt } = createRequire(import.meta.url)('sockopt') as { getsockopt: (s: Socket, level: number, name: number) => number };
  const seen = deferred<number[]>();
  const { port } = await startServer(
    t,
    (req, res) => {
      res.writeHead(200, new Fields(), 'Connection established');
      void res.takeSocket().then((s) => {
        // IPPROTO_TCP, TCP_NOTSENT_LOWAT
        seen.resolve([getsockopt(s, 6, 25)]);
        s.destroy();
      });
    },
    { unsentBytes: 96 * 1024 },
  );
  const c = await RawClient.open(t, port);
  c.write(`CONNECT b.example:443 HTTP/1.1\r\nHost: b.example:443\r\n\r\n`);
  assert.deepEqual(await seen.promise, [96 * 1024]);
});
