import { test } from 'node:test';
import assert from 'node:assert/strict';
import { main } from '../../src/cli/main.js';
import type { CliIo } from '../../src/cli/io.js';

function capture(env: Record<string, string> = {}): CliIo & { out: () => string; err: () => string } {
  let out = '';
  let err = '';
  return {
    stdout: { write: (s: string) => ((out += s), true) },
    stderr: { write: (s: string) => ((err += s), true) },
    env,
    out: () => out,
    err: () => err,
  } as CliIo & { out: () => string; err: () => string };
}

test('peerweb --help lists the commands; unknown commands exit 2', async () => {
  const io = capture();
  assert.equal(await main(['--help'], io), 0);
  assert.match(io.out(), /start/);
  const bad = capture();
  assert.equal(await main(['frobnicate'], bad), 2);
  assert.match(bad.err(), /unknown command "frobnicate"/);
});

test('peerweb start --help documents the flags from the options table', async () => {
  const io = capture();
  assert.equal(await main(['start', '--help'], io), 0);
  for (const flag of ['--config', '--listen', '--admin', '--origin', '--data', '--memory-cache', '--disk-cache']) assert.ok(io.out().includes(flag), flag);
});

test('a bad flag value stops start-up naming the key and the value', async () => {
  const io = capture();
  assert.equal(await main(['start', '--listen', 'nowhere', '--check'], io), 1);
  assert.match(io.err(), /Config key listen has bad value "nowhere": must be HOST:PORT/);
  const io2 = capture();
  assert.equal(await main(['start', '--memory-cache', 'huge', '--check'], io2), 1);
  assert.match(io2.err(), /cache\.memory has bad value "huge"/);
  const io3 = capture();
  assert.equal(await main(['start', '--no-such-flag'], io3), 2);
  assert.match(io3.err(), /no-such-flag/);
});

test('start --check prints the effective config: flags over environment over defaults', async () => {
  const io = capture({ PEERWEB_CACHE_MEMORY: '8MiB', PEERWEB_LISTEN: '127.0.0.1:9000' });
  assert.equal(await main(['start', '--listen', '127.0.0.1:9100', '--origin', 'http://127.0.0.1:7000', '--check'], io), 0);
  const c = JSON.parse(io.out()) as Record<string, unknown>;
  assert.deepEqual(c.listen, { host: '127.0.0.1', port: 9100 });
  assert.equal(c['cache.memory'], 8 * 1024 * 1024);
  assert.equal(c.origin, 'http://127.0.0.1:7000');
});
