import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { main } from '../../../src/cli/main.js';
import type { CliIo } from '../../../src/cli/io.js';

const SITE = fileURLToPath(new URL('../../fixtures/archive/site/', import.meta.url));

async function run(argv: string[], env: Record<string, string> = {}): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: CliIo = { stdout: { write: (s: string) => { out += s; return true; } }, stderr: { write: (s: string) => { err += s; return true; } }, env };
  const code = await main(argv, io);
  return { code, out, err };
}

test('keygen, archive build, inspect, verify with a pin, sign with another key', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pw-archive-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const kg = await run(['keygen', '--out', dir, '--host', 'www.example.com']);
  assert.equal(kg.code, 0, kg.err);
  assert.match(kg.out, /_peerweb-key\.www\.example\.com\. 3600 IN TXT "v=peerweb1; k=ed25519; p=[A-Za-z0-9+/]{43}="/);
  const pub = /p=([A-Za-z0-9+/]{43}=)/.exec(kg.out)![1]!;
  const out = join(dir, 'site.pwar');
  const args = ['archive', 'build', SITE, '--origin', 'https://www.example.com', '--prefix', '/', '--valid-for', '30d', '--key', join(dir, 'peerweb.key'), '-o', out, '--route', '/search=handlers/search.js'];
  const b1 = await run(args, { SOURCE_DATE_EPOCH: '1767225600' });
  assert.equal(b1.code, 0, b1.err);
  const first = readFileSync(out);
  assert.equal((await run(args, { SOURCE_DATE_EPOCH: '1767225600' })).code, 0);
  assert.ok(first.equals(readFileSync(out)), 'reproducible build');

  const ins = await run(['archive', 'inspect', out]);
  assert.equal(ins.code, 0);
  assert.match(ins.out, /Origin: +https:\/\/www\.example\.com/);
  assert.match(ins.out, /Version: +1767225600/);
  assert.match(ins.out, /\/search -> handlers\/search\.js/);

  const now = '2026-01-05T00:00:00Z';
  const ok = await run(['archive', 'verify', out, '--pin', pub, '--now', now]);
  assert.equal(ok.code, 0, ok.err);
  assert.match(ok.out, /^OK https:\/\/www\.example\.com\/ version 1767225600/);
  const expired = await run(['archive', 'verify', out, '--pin', pub, '--now', '2026-03-01T00:00:00Z']);
  assert.equal(expired.code, 1);
  assert.match(expired.err, /expired .*PW_ERR_ARCHIVE_EXPIRED/);

  await run(['keygen', '--out', dir, '--name', 'other']);
  const signed = join(dir, 'other.pwar');
  assert.equal((await run(['archive', 'sign', out, '--key', join(dir, 'other.key'), '-o', signed])).code, 0);
  const wrong = await run(['archive', 'verify', signed, '--pin', pub, '--now', now]);
  assert.equal(wrong.code, 1);
  assert.match(wrong.err, /PW_ERR_ARCHIVE_UNKNOWN_KEY/);
  const right = await run(['archive', 'verify', signed, '--pin', join(dir, 'other.pub'), '--now', now]);
  assert.equal(right.code, 0, right.err);

  const unsigned = join(dir, 'unsigned.pwar');
  assert.equal((await run(['archive', 'build', SITE, '--origin', 'https://www.example.com', '-o', unsigned])).code, 0);
  const u = await run(['archive', 'verify', unsigned, '--pin', pub]);
  assert.equal(u.code, 1);
  assert.match(u.err, /no signature/);
  assert.equal((await run(['archive', 'build', SITE, '-o', unsigned])).code, 2, 'usage error without --origin');
});
