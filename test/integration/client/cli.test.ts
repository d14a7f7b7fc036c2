import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { main } from '../../../src/cli/main.js';
import { captureIo } from '../../helpers/cli-io.js';
import { publicKeyBase64, saveKey, sha256 } from '../../../src/integrity/index.js';
import { randomFile, startMirror, startSite, tempDir, writeFiles } from '../mirror/net-helpers.js';


test('peerweb get, push and mirror sync from the CLI, with documented exit codes', async (t) => {
  const dir = tempDir(t);
  const big = randomFile(300 * 1024);
  writeFiles(dir, { 'site/big.bin': big, 'site/a.txt': 'alpha' });
  const site = await startSite(dir, { pieceSize: 64 * 1024, pieceThreshold: 128 * 1024 });
  t.after(site.close);
  const keyDir = join(dir, 'keys');
  const { privateFile } = saveKey(site.key, keyDir);

  // mirror sync into a folder, with the origin key pinned.
  const store = join(dir, 'store');
  let c = captureIo();
  assert.equal(await main(['mirror', 'sync', `${site.url}/site/`, '--dir', store, '--origin-key', publicKeyBase64(site.key.publicKey)], c), 0, c.err());
  assert.match(c.out(), /added 2, updated 0, removed 0, unchanged 0/);
  c = captureIo();
  assert.equal(await main(['mirror', 'sync', `${site.url}/site/`, '--dir', store, '--origin-key', publicKeyBase64(site.key.publicKey)], c), 0);
  assert.match(c.out(), /added 0, updated 0, removed 0, unchanged 2, 0 bytes copied/);
  c = captureIo();
  assert.equal(await main(['mirror', 'sync', `${site.url}/site/`, '--dir', store], c), 3, 'no key, none in DNS for an IP address, and no --allow-unsigned');
  assert.match(c.err(), /No publisher key for 127\.0\.0\.1: the origin is an IP address.*give --origin-key \[PW_ERR_ORIGIN_KEY_UNKNOWN\]/);

  // push to a live mirror.
  const m = await startMirror(site, ['/site/']);
  t.after(m.close);
  c = captureIo();
  assert.equal(await main(['push', `${site.url}/site/big.bin`, '--to', m.base, '--key', privateFile], c), 0, c.out() + c.err());
  assert.match(c.out(), /^pushed /);
  assert.deepEqual(m.mirror.get('/site/big.bin')?.body, big);

  // get through the mirror.
  await m.mirror.sync();
  await site.front.offer(m.base, ['/site/']);
  const out = join(dir, 'got.bin');
  c = captureIo();
  assert.equal(await main(['get', `${site.url}/site/big.bin`, '-o', out], c), 0, c.err());
  assert.deepEqual(readFileSync(out), big);
  assert.match(c.err(), /307200 bytes verified/);

  // Usage errors and an unknown digest.
  assert.equal(await main(['get'], captureIo()), 2);
  assert.equal(await main(['get', 'not a url'], captureIo()), 2);
  assert.equal(await main(['get', `${site.url}/site/big.bin`, '--digest', 'md5=x'], captureIo()), 2);
  await site.close();
  c = captureIo();
  assert.equal(await main(['get', `${site.url}/site/big.bin`, '-o', join(dir, 'x.bin'), '--timeout', '2s'], c), 3, c.err());
  assert.ok(!existsSync(join(dir, 'x.bin')));
  // With the digest, through the mirror only, while the origin is down.
  c = captureIo();
  assert.equal(await main(['get', `${site.url}/site/big.bin`, '-o', join(dir, 'y.bin'), '--digest', sha256(big).toString('hex'), '--mirror', `${m.base}site/big.bin`, '--timeout', '2s', '--quiet'], c), 0, c.err());
  assert.deepEqual(readFileSync(join(dir, 'y.bin')), big);
  // A wrong digest: no source can satisfy it.
  c = captureIo();
  assert.equal(await main(['get', `${site.url}/site/big.bin`, '-o', join(dir, 'z.bin'), '--digest', sha256('other').toString('hex'), '--mirror', `${m.base}site/big.bin`, '--timeout', '2s', '--quiet'], c), 4, c.err());
  assert.ok(!existsSync(join(dir, 'z.bin')));
});
