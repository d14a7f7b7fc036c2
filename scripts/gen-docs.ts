// Regenerates the docs that are derived from code tables: docs/config.md and docs/errors.md.
import { writeFileSync } from 'node:fs';
import { configMarkdown } from '../src/config/index.js';
import { errorsMarkdown } from '../src/errors/index.js';

writeFileSync(new URL('../docs/config.md', import.meta.url), configMarkdown());
writeFileSync(new URL('../docs/errors.md', import.meta.url), errorsMarkdown());
