import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startOrigin } from '../../helpers/origin.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const BIN = join(ROOT, 'bin', 'peerweb.js');
const built = existsSync(join(ROOT, 'dist', 'cli', 'main.js'));

test('peerweb start runs a reverse proxy as a real process, prints its addresses, and stops cleanly on SIGTERM', { skip: built ? false : 'dist/ not built (npm run build)' }, async (t) => {
  const origin = await startOrigin((req, res) => { res.writeHead(200, { 'cache-control': 'max-age=60' }); res.end('from origin'); });
  const data = mkdtempSync(join(tmpdir(), 'pw-start-'));
  t.after(async () => { await origin.close(); rmSync(data, { recursive: true, force: true }); });
  const child = spawn(process.execPath, [BIN, 'start', '--origin', origin.url, '--listen', '127.0.0.1:0', '--admin', '127.0.0.1:0', '--data', data], {
    env: { ...process.env, PEERWEB_LOG_ACCESS: 'off', PEERWEB_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.after(() => { if (child.exitCode === null) child.kill('SIGKILL'); });
  let stderr = '';
  const addresses = await new Promise<{ proxy: string; admin: string }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no start-up line within 20 s: ${stderr}`)), 20_000);
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      const m = /proxy on (http:\/\/[\d.:]+), admin on (http:\/\/[\d.:]+)/.exec(stderr);
      if (m) { clearTimeout(timer); resolve({ proxy: m[1] as string, admin: m[2] as string }); }
    });
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`exited ${code}: ${stderr}`)); });
  });
  assert.equal(await (await fetch(`${addresses.proxy}/x`)).text(), 'from origin');
  const hit = await fetch(`${addresses.proxy}/x`);
  assert.match(hit.headers.get('cache-status') ?? '', /hit/);
  const health = (await (await fetch(`${addresses.admin}/health`)).json()) as { status: string; mode: string };
  assert.equal(health.status, 'ok');
  assert.equal(health.mode, 'reverse');
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  child.kill('SIGTERM');
  assert.equal(await exited, 0);
});
