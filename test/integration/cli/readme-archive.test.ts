import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { main } from '../../../src/cli/main.js';
import { captureIo } from '../../helpers/cli-io.js';
import { startOrigin } from '../../helpers/origin.js';
import { sendRange } from '../../helpers/range-holder.js';
import { DNSMASQ, startDnsmasq } from '../directory/dnsmasq.js';

// The README's worked example, step by step through the real CLI: a key pair whose TXT record goes
// into a DNS zone served by dnsmasq, a signed archive of a small site with a search page, and a
// `peerweb start --config` process that verifies the archive against the key in DNS and keeps
// serving the site, search page included, once the origin is stopped.

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const BIN = join(ROOT, 'bin', 'peerweb.js');
const SITE = join(ROOT, 'test', 'fixtures', 'archive', 'site');
const HOST = 'www.example.com';
const built = existsSync(join(ROOT, 'dist', 'cli', 'main.js'));
const skip = !built ? 'dist/ not built (npm run build)' : !DNSMASQ ? 'dnsmasq not installed (scripts/install-system-deps.sh)' : false;

async function cli(argv: string[]): Promise<string> {
  const io = captureIo();
  const code = await main(argv, io);
  assert.equal(code, 0, `peerweb ${argv.join(' ')} exited ${code}: ${io.err()}`);
  return io.out();
}

test('README example: key in a DNS zone, signed archive with a search page, served by a cache with the origin stopped', { skip }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pw-readme-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));

  // 1. Key pair and the record to publish.
  const printed = await cli(['keygen', '--out', join(dir, 'keys'), '--host', HOST]);
  const txt = /Publish this TXT record at _peerweb-key\.www\.example\.com:\n\s+(v=peerweb1;[^\n]+)/.exec(printed)?.[1];
  assert.ok(txt, `keygen printed no TXT record: ${printed}`);
  assert.match(printed, /_peerweb-key\.www\.example\.com\.?\s+(?:\d+\s+)?(?:IN\s+)?TXT\s+"v=peerweb1;/, 'and a zone-file line');
  const dns = await startDnsmasq([`txt-record=_peerweb-key.${HOST},"${txt}"`]);
  t.after(() => dns.stop());

  // 2. The signed archive, verified against the key in DNS.
  const pwar = join(dir, 'site.pwar');
  await cli(['archive', 'build', SITE, '--origin', `http://${HOST}`, '--prefix', '/', '--valid-for', '30d', '--stale-if-unverified', '7d',
    '--key', join(dir, 'keys', 'peerweb.key'), '--route', '/search=handlers/search.js', '-o', pwar]);
  assert.match(await cli(['archive', 'verify', pwar, '--dns', dns.server]), /valid|ok/i);

  // 3. The origin offers the archive (by Range) and answers everything else itself.
  const archive = readFileSync(pwar);
  const origin = await startOrigin((req, res) => {
    if (req.url === '/site.pwar') return void sendRange(req, res, archive);
    res.writeHead(200, { 'cache-control': 'no-store' });
    res.end('from origin');
  });
  t.after(() => origin.close());

  // 4. The cache, from a config file, trusting only the key it finds in DNS.
  const config = join(dir, 'cache.toml');
  writeFileSync(config, [
    'listen = "127.0.0.1:0"',
    'admin = "127.0.0.1:0"',
    `data = ${JSON.stringify(join(dir, 'data'))}`,
    `origins = [{ host = "${HOST}", url = "${origin.url}" }]`,
    '[archive]',
    `sites = [{ origin = "http://${HOST}", prefix = "/", url = "${origin.url}/site.pwar" }]`,
    `dnsServer = "${dns.server}"`,
    '',
  ].join('\n'));
  const child = spawn(process.execPath, [BIN, 'start', '--config', config], {
    env: { ...process.env, PEERWEB_LOG_ACCESS: 'off', PEERWEB_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.after(() => { if (child.exitCode === null && child.pid) process.kill(child.pid, 'SIGKILL'); });
  let stderr = '';
  const proxy = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no start-up line within 20 s: ${stderr}`)), 20_000);
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      const m = /proxy on (http:\/\/[\d.:]+)/.exec(stderr);
      if (m) { clearTimeout(timer); resolve(m[1] as string); }
    });
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`exited ${code}: ${stderr}`)); });
  });
  const get = async (path: string) => {
    const res = await request(`${proxy}${path}`, { headers: { host: HOST } });
    return { status: res.statusCode, headers: res.headers, text: await res.body.text() };
  };

  const page = await get('/search?q=cache');
  assert.equal(page.status, 200, page.text);
  assert.match(page.text, /Results for cache/, 'rendered by the archive\'s handler');
  assert.equal(page.headers['x-peerweb-archive'] !== undefined, true);
  assert.equal((await get('/')).status, 200);

  // 5. The origin goes away; the site keeps rendering from the archive.
  await origin.close();
  const again = await get('/search?q=flash+crowd');
  assert.equal(again.status, 200, again.text);
  assert.match(again.text, /Results for flash crowd/);

  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  process.kill(child.pid as number, 'SIGTERM');
  assert.equal(await exited, 0);
});
