import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../../../src/config/index.js';
import { isPeerwebError } from '../../../src/errors/index.js';

test('archive, sandbox and directory options: defaults, parsing and errors naming the key', () => {
  const c = loadConfig({ values: {
    'archive.sites': ['https://www.example.com=http://127.0.0.1:9/site.pwar', { origin: 'https://a.example', prefix: '/docs/', url: 'https://h.example/a.pwar' }],
    'archive.pinnedKeys': ['a.example=' + 'A'.repeat(43) + '='], 'sandbox.cpuTime': '20ms',
  } });
  assert.deepEqual(c['archive.sites'][0], { origin: 'https://www.example.com', prefix: '/', url: 'http://127.0.0.1:9/site.pwar' });
  assert.equal(c['archive.sites'][1]?.prefix, '/docs/');
  assert.equal(c['archive.pinnedKeys'][0]?.host, 'a.example');
  assert.equal(c['sandbox.cpuTime'], 20);
  assert.equal(c['directory.backend'], 'embedded');
  for (const [key, value] of [
    ['archive.sites', ['https://www.example.com/x=http://a/b']], ['archive.sites', [{ origin: 'https://a.example', prefix: 'docs', url: 'http://h/' }]],
    ['archive.sites', ['https://a.example=ftp://h/x']], ['archive.pinnedKeys', ['a.example=zzz']], ['sandbox.memory', '10'],
    ['directory.backend', 'mysql'], ['archive.dnsServer', 'dns.example'],
  ] as const) {
    assert.throws(() => loadConfig({ values: { [key]: value } }), (e) => isPeerwebError(e, 'PW_ERR_CONFIG_INVALID') && e.message.includes(key), `${key} ${JSON.stringify(value)}`);
  }
});

test('a node builds its archive manager and embedded directory from the config', async (t) => {
  const { mkdtempSync, rmSync, existsSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { archiveManagerFromConfig, keyResolverFromConfig } = await import('../../../src/archive/index.js');
  const { directoryFromConfig } = await import('../../../src/directory/index.js');
  const dir = mkdtempSync(join(tmpdir(), 'pw-archive-config-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const pin = 'A'.repeat(42) + 'E=';
  const c = loadConfig({ values: { data: dir, 'archive.pinnedKeys': [`www.example.com=${pin}`], 'archive.sites': ['https://www.example.com=http://127.0.0.1:9/x.pwar'] } });
  const keys = await keyResolverFromConfig(c).keysFor('www.example.com');
  assert.equal(keys.length, 1);
  const directory = await directoryFromConfig(c);
  t.after(() => directory.close());
  await directory.register({ site: 'https://www.example.com', prefix: '/', version: 1, digest: 'a'.repeat(64), holder: 'http://127.0.0.1:9/x.pwar' });
  assert.ok(existsSync(join(dir, 'directory.sqlite')));
  const m = archiveManagerFromConfig(c, { directory });
  t.after(() => m.close());
  assert.equal(await m.handle({ method: 'GET', url: 'https://other.example/', headers: [] }), undefined);
});
