import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig, options } from '../../src/config/index.js';
import { isPeerwebError } from '../../src/errors/index.js';

const fixtures = new URL('../fixtures/config/', import.meta.url);

test('defaults: forward proxy on loopback 8080, admin on 8081, data in ./.peerweb', () => {
  const c = loadConfig();
  assert.deepEqual(c.listen, { host: '127.0.0.1', port: 8080 });
  assert.deepEqual(c.admin, { host: '127.0.0.1', port: 8081 });
  assert.equal(c.origin, undefined);
  assert.equal(c.data, './.peerweb');
  assert.ok(Object.isFrozen(c));
  assert.equal(Object.keys(c).length, Object.keys(options).length);
});

test('sizes, durations and lists are parsed from strings', () => {
  const c = loadConfig({ values: { 'cache.memory': '64MiB', 'limits.idleTimeout': '5s', 'forward.connectPorts': '443, 8443', listen: '127.0.0.1:0' } });
  assert.equal(c['cache.memory'], 64 * 1024 * 1024);
  assert.equal(c['limits.idleTimeout'], 5000);
  assert.deepEqual(c['forward.connectPorts'], [443, 8443]);
  assert.deepEqual(c.listen, { host: '127.0.0.1', port: 0 });
});

test('environment overrides the file and flags override the environment', () => {
  const c = loadConfig({ env: { PEERWEB_CACHE_MEMORY: '1MiB', PEERWEB_LIMITS_HEADER_COUNT: '50' }, values: { 'limits.headerCount': 60 } });
  assert.equal(c['cache.memory'], 1024 * 1024);
  assert.equal(c['limits.headerCount'], 60);
});

// Each bad config fixture says in "$expect" the code and the words its error must contain.
for (const name of readdirSync(fixtures).filter((f) => f.startsWith('bad-')).sort()) {
  test(`bad config ${name} is refused with an error naming the key and value`, () => {
    const file = join(fixtures.pathname, name);
    const expect = JSON.parse(readFileSync(file, 'utf8').split('\n').find((l) => l.startsWith('# expect: '))?.slice(10) ?? 'null') as { code: string; contains: string[] } | null;
    assert.ok(expect, `${name} needs a "# expect: {json}" line`);
    assert.throws(() => loadConfig({ file }), (err: unknown) => {
      assert.ok(isPeerwebError(err), String(err));
      assert.equal(err.code, expect.code);
      for (const word of expect.contains) assert.ok(err.message.includes(word), `${err.message} should contain ${word}`);
      return true;
    });
  });
}
