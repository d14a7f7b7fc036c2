import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createEmbeddedDirectory, createHttpDirectory, directoryHttpHandler } from '../../../src/directory/index.js';
import { directoryConformance } from '../../unit/directory/conformance.js';
import { main } from '../../../src/cli/main.js';

// The embedded directory served over HTTP by a real node:http server, used through the HTTP client.
directoryConformance('http (embedded behind /.well-known/peerweb/directory)', async (limits, now) => {
  const backing = createEmbeddedDirectory({ limits, now });
  const server = createServer(directoryHttpHandler(backing));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const dir = createHttpDirectory(`http://127.0.0.1:${port}`);
  return {
    dir,
    close: async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await backing.close();
    },
  };
});

test('peerweb directory lookup asks an HTTP directory', async (t) => {
  const backing = createEmbeddedDirectory();
  const server = createServer(directoryHttpHandler(backing));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(async () => { server.closeAllConnections(); await new Promise<void>((r) => server.close(() => r())); await backing.close(); });
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  await backing.register({ site: 'https://www.example.com', prefix: '/docs/', version: 4, digest: 'e'.repeat(64), holder: 'http://127.0.0.1:9011/d.pwar' });
  let out = '';
  const io = { stdout: { write: (s: string) => { out += s; return true; } }, stderr: { write: () => true }, env: {} };
  assert.equal(await main(['directory', 'lookup', 'https://www.example.com', '--prefix', '/docs/a.html', '--server', base], io), 0);
  assert.match(out, /\/docs\/\tversion 4\thttp:\/\/127\.0\.0\.1:9011\/d\.pwar/);
});
