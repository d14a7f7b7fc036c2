import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { configMarkdown } from '../../src/config/index.js';
import { errors, errorsMarkdown } from '../../src/errors/index.js';

const read = (p: string) => readFileSync(new URL(`../../${p}`, import.meta.url), 'utf8');

test('docs/config.md is generated from the options table (run scripts/gen-docs.ts)', () => {
  assert.equal(read('docs/config.md'), configMarkdown());
});

test('docs/errors.md lists every error code of the registry (run scripts/gen-docs.ts)', () => {
  const doc = read('docs/errors.md');
  assert.equal(doc, errorsMarkdown());
  for (const code of Object.keys(errors)) assert.ok(doc.includes(`\`${code}\``), code);
});

test('every error code used in src/ is registered', async () => {
  const { execFileSync } = await import('node:child_process');
  const used = new Set(execFileSync('grep', ['-rhoE', "'PW_ERR_[A-Z0-9_]+'", 'src'], { cwd: new URL('../../', import.meta.url) }).toString().match(/PW_ERR_[A-Z0-9_]+/g));
  for (const code of used) assert.ok(code in errors, `${code} is used but not registered`);
});
