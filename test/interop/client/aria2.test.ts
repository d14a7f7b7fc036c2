import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { randomFile, startCheater, startMirror, startSite, tempDir, writeFiles } from '../../integration/mirror/net-helpers.js';

const hasAria2 = spawnSync('aria2c', ['--version'], { stdio: 'ignore' }).status === 0;
const skip = hasAria2 ? false : 'aria2c is not installed (Debian package aria2)';

/** Runs aria2c on a Metalink URL; resolves with its exit code and output. Killed by PID if it hangs. */
function aria2(url: string, dir: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn('aria2c', [
      '--follow-metalink=mem', '--dir', dir, '--no-conf', '--quiet=false', '--console-log-level=warn', '--summary-interval=0',
      '--max-connection-per-server=2', '--split=4', '--min-split-size=1M', '--connect-timeout=5', '--timeout=10',
      '--max-tries=3', '--retry-wait=0', '--check-integrity=true', '--allow-overwrite=true', '--auto-file-renaming=false',
      '--metalink-preferred-protocol=none', '--uri-selector=inorder', '--file-allocation=none', url,
    ], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => { output += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { output += d.toString(); });
    const timer = setTimeout(() => { if (child.pid) process.kill(child.pid, 'SIGKILL'); }, 60_000);
    child.on('close', (code) => { clearTimeout(timer); resolve({ code, output }); });
  });
}

test('aria2 downloads through a peerweb origin front from the listed mirrors and verifies the digest', { skip }, async (t) => {
  const dir = tempDir(t);
  const big = randomFile(4 * 1024 * 1024 + 99);
  writeFiles(dir, { 'pub/big.bin': big });
  const site = await startSite(dir, { pieceSize: 256 * 1024, pieceThreshold: 1024 * 1024 });
  t.after(site.close);
  // A listed mirror (priority 1) that turns bad after its audit: aria2's piece checks must reject its bytes.
  let lying = false;
  const cheat = await startCheater({ '/pub/big.bin': big }, () => lying);
  t.after(cheat.close);
  assert.equal((await site.front.offer(cheat.base, ['/pub/'])).state, 'live');
  lying = true;
  const mirrors = [];
  for (let i = 0; i < 2; i++) {
    const m = await startMirror(site, ['/pub/']);
    t.after(m.close);
    await m.mirror.sync();
    assert.equal((await site.front.offer(m.base, ['/pub/'])).state, 'live');
    mirrors.push(m);
  }
  let originGets = 0;
  site.server.on('request', (req) => { if (req.method === 'GET' && req.url === '/pub/big.bin') originGets++; });
  const out = join(dir, 'dl');
  const served: Record<string, number> = {};
  for (const m of mirrors) {
    m.server.on('request', (req) => { served[m.base] = (served[m.base] ?? 0) + (req.method === 'GET' ? 1 : 0); });
  }
  const { code, output } = await aria2(`${site.url}/.well-known/peerweb/metalink/pub/big.bin`, out);
  assert.equal(code, 0, output);
  assert.deepEqual(readdirSync(out).filter((f) => !f.endsWith('.aria2')), ['big.bin']);
  assert.deepEqual(readFileSync(join(out, 'big.bin')), big);
  assert.ok(Object.values(served).reduce((a, b) => a + b, 0) > 0, 'the mirrors served aria2');
  assert.ok(cheat.served() > 0, 'aria2 tried the cheating mirror');
  assert.match(output, /checksum|hash|Chunk/i, 'aria2 reported the bad piece');
  t.diagnostic(`aria2: origin GETs ${originGets}, mirror GETs ${JSON.stringify(served)}, cheater requests ${cheat.served()}`);
  assert.ok(!existsSync(join(out, 'big.bin.aria2')), 'download complete');
});
