/**
 * Accept-layer microbenchmark (not a test): answers every request with a pre-serialised 1 KiB
 * cache-hit-like response through `sendPreserialized`, so the request/s of the HTTP/1.1 server
 * alone can be compared with nginx serving the same bytes.
 *
 *   taskset -c 0 npx tsx bench/accept-microbench.ts [port]      (default 8099, loopback only)
 *   taskset -c 1 wrk -t1 -c50 -d10s http://127.0.0.1:8099/
 */
import { createAcceptServer } from '../src/accept/index.js';

const port = Number(process.argv[2] ?? 8099);
const body = Buffer.alloc(1024, 0x61);
const head = Buffer.from(
  'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 1024\r\nETag: "bench"\r\nCache-Control: max-age=3600\r\n',
  'latin1',
);

const server = createAcceptServer({
  limits: {
    requestLine: 8192,
    headerSize: 64 * 1024,
    headerCount: 100,
    requestBody: 1024 * 1024,
    headerTimeout: 10_000,
    bodyTimeout: 30_000,
    idleTimeout: 60_000,
    maxConnections: 20_000,
    pipelineDepth: 32,
  },
  onRequest(req, res) {
    res.sendPreserialized(head, 'Age: 0\r\n', body);
  },
});

const addr = await server.listen('127.0.0.1', port);
process.stdout.write(`accept microbench listening on http://${addr.host}:${addr.port}/\n`);
const stop = (): void => {
  void server.close(1000).then(() => process.exit(0));
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
