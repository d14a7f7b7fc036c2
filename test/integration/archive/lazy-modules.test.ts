import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildArchive, httpRangeSource, openArchive } from '../../../src/archive/index.js';
import { generatePublisherKey } from '../../../src/integrity/keys.js';
import { staticImports } from '../../../src/sandbox/index.js';
import { rangeHolder } from '../../helpers/range-holder.js';

// A dynamic route of an archive read by Range loads its handler and what that imports, each
// through its own index shard: not every shard to find every module.

test('the first dynamic route reads only the shards of its handler and its imports', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pw-lazy-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  // Thousands of small files spread the index over many shards; the modules sit far apart in path order.
  for (const d of ['a', 'm', 'z']) mkdirSync(join(dir, d), { recursive: true });
  for (let i = 0; i < 3000; i++) writeFileSync(join(dir, 'm', `page-${String(i).padStart(4, '0')}.js`), `export const n = ${i};\n`);
  writeFileSync(join(dir, 'a', 'handler.js'), [
    "import { greet } from '../z/lib/greet.js';",
    "import * as fmt from './fmt.js';",
    '// import "./not-there.js" in a comment names a module the archive lacks: skipped',
    'export default { async fetch(request) { return new Response(fmt.wrap(greet(request.url.split("who=")[1] ?? "?"))); } };',
  ].join('\n'));
  writeFileSync(join(dir, 'a', 'fmt.js'), "export function wrap(s) { return `<p>${s}</p>`; }\n");
  mkdirSync(join(dir, 'z', 'lib'), { recursive: true });
  writeFileSync(join(dir, 'z', 'lib', 'greet.js'), "export { greet } from './impl.js';\n");
  writeFileSync(join(dir, 'z', 'lib', 'impl.js'), 'export function greet(who) { return `hello ${who}`; }\n');
  writeFileSync(join(dir, 'm', 'other.js'), "export default { async fetch() { return new Response('other'); } };\n");
  const key = generatePublisherKey();
  const bytes = buildArchive({
    dir, origin: 'https://www.example.com', prefix: '/', notBefore: Date.now() - 1000, validFor: 86_400_000, key,
    routes: [{ pattern: '/hello', handler: 'a/handler.js' }, { pattern: '/other', handler: 'm/other.js' }],
  });

  const h = await rangeHolder(bytes);
  t.after(h.close);
  const stats = h.stats;
  const site = await openArchive(await httpRangeSource(h.url), { keysFor: async () => [key] });
  t.after(() => site.close());
  const shards = site.manifest.index.length;
  assert.ok(shards >= 8, `the index has ${shards} shards`);
  const shardBytes = site.manifest.index.reduce((s, r) => s + r.csize, 0);

  const opened = { ...stats };
  const res = await site.handle({ method: 'GET', url: 'https://www.example.com/hello?who=crowd', headers: [] });
  assert.equal(res?.status, 200, `${res?.body.toString()}`);
  assert.equal(res!.body.toString(), '<p>hello crowd</p>');
  const first = { requests: stats.requests - opened.requests, bytes: stats.bytes - opened.bytes };
  // Four modules in two places of the path order: at most two shards, plus the four modules.
  assert.ok(first.requests <= 8, `${first.requests} requests for the first dynamic route`);
  assert.ok(first.bytes < shardBytes / 2, `${first.bytes} bytes read; all shards are ${shardBytes}`);

  // A second route loads only its own module.
  const before = { ...stats };
  const other = await site.handle({ method: 'GET', url: 'https://www.example.com/other', headers: [] });
  assert.equal(other!.body.toString(), 'other');
  assert.ok(stats.requests - before.requests <= 2, `${stats.requests - before.requests} requests for the second route`);
  // And a route already loaded reads nothing.
  const again = { ...stats };
  assert.equal((await site.handle({ method: 'GET', url: 'https://www.example.com/hello?who=again', headers: [] }))!.body.toString(), '<p>hello again</p>');
  assert.equal(stats.requests, again.requests);
});

test('static imports are found by a bounded scan and resolved against the importing module', () => {
  assert.deepEqual(staticImports('h/a.js', [
    "import x from './b.js';", 'import { y, z as w } from "../lib/c.js";', "import './side.js';",
    "export * from '/root.js';", "export { q } from './q.js'", "const s = 'import nothing';",
  ].join('\n')), ['h/b.js', 'lib/c.js', 'h/side.js', 'root.js', 'h/q.js']);
  assert.equal(staticImports('a.js', Array.from({ length: 1000 }, (_, i) => `import './m${i}.js';`).join('\n'), 10).length, 10);
});
