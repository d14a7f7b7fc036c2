/**
 * Starts the cache-tests suite's own test server, on 127.0.0.1 only (its stock entry point listens on every
 * interface). Uses the suite's request handlers from the checkout given as argument; prints the port.
 *
 *   node --import tsx scripts/conformance/test-server.ts CHECKOUT
 */
import http from 'node:http';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

type Handler = (pathSegs: string[], req: http.IncomingMessage, res: http.ServerResponse) => void;
type FileHandler = (url: URL, req: http.IncomingMessage, res: http.ServerResponse) => void;

async function load<T>(checkout: string, file: string): Promise<T> {
  const mod = (await import(pathToFileURL(join(checkout, 'test-engine', 'server', file)).href)) as { default: T };
  return mod.default;
}

async function main(): Promise<void> {
  const checkout = process.argv[2];
  if (!checkout) throw new Error('Usage: test-server.ts CHECKOUT');
  process.chdir(checkout); // the suite serves its static files from the working directory
  const handlers: Record<string, Handler> = {
    config: await load<Handler>(checkout, 'handle-config.mjs'),
    test: await load<Handler>(checkout, 'handle-test.mjs'),
    state: await load<Handler>(checkout, 'handle-state.mjs'),
  };
  const handleFile = await load<FileHandler>(checkout, 'handle-file.mjs');
  let base = 'http://127.0.0.1/';
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', base);
    const segs = url.pathname.split('/');
    segs.shift();
    const first = segs.shift() ?? '';
    const h = handlers[first];
    if (h) h(segs, req, res); else handleFile(url, req, res);
  });
  server.listen(0, '127.0.0.1', () => {
    const addr = server.address();
    const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
    base = `http://localhost:${port}/`;
    process.stdout.write(`LISTENING ${port}\n`);
  });
  const stop = (): void => { server.closeAllConnections(); server.close(() => process.exit(0)); };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((err) => { process.stderr.write(`test-server: ${(err as Error).stack ?? err}\n`); process.exit(1); });
