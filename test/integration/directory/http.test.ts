import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createEmbeddedDirectory, createHttpDirectory, directoryHttpHandler } from '../../../src/directory/index.js';
import { directoryConformance } from '../../unit/directory/conformance.js';

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
