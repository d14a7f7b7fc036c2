import { createEmbeddedDirectory } from '../../../src/directory/index.js';
import { directoryConformance } from './conformance.js';

directoryConformance('embedded', async (limits, now) => {
  const dir = createEmbeddedDirectory({ limits, now });
  return { dir, close: () => dir.close() };
});
