import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { main } from '../../../src/cli/main.js';
import { captureIo } from '../../helpers/cli-io.js';
import { parseDnsServer, publisherKeysFromDns } from '../../../src/client/index.js';
import { isPeerwebError } from '../../../src/errors/index.js';
import { generatePublisherKey, txtRecordValue, type PublisherKey } from '../../../src/integrity/index.js';
import { createFolderSource, createMirror, createOriginFront, type OriginFront } from '../../../src/mirror/index.js';
import { DNSMASQ, startDnsmasq, type Dnsmasq } from '../directory/dnsmasq.js';
import { listen, randomFile, tempDir, writeFiles } from '../mirror/net-helpers.js';

const skip = DNSMASQ ? false : 'dnsmasq is not installed (Debian package dnsmasq); CI installs it';
// The origin is reached as http://localhost:PORT (localhost is 127.0.0.1 in /etc/hosts), so its
// key record lives at _peerweb-key.localhost; one dnsmasq serves the right key, another a stranger's.
const publisher = generatePublisherKey();
const stranger = generatePublisherKey();
let good: Dnsmasq | undefined;
let wrong: Dnsmasq | undefined;

before(async () => {
  if (!DNSMASQ) return;
  good = await startDnsmasq([
    'local=/localhost/', 'local=/example/',
    `txt-record=_peerweb-key.localhost,"${txtRecordValue(publisher.publicKey)}"`,
    'txt-record=_peerweb-key.nokey.example,"unrelated text"',
  ]);
  wrong = await startDnsmasq(['local=/localhost/', `txt-record=_peerweb-key.localhost,"${txtRecordValue(stranger.publicKey)}"`]);
});
after(async () => {
  await good?.stop();
  await wrong?.stop();
});


/** An origin front for `dir` whose public URL names the host localhost, signed with `key`. */
async function startLocalhostSite(t: { after: (fn: () => Promise<void>) => void }, dir: string, key: PublisherKey): Promise<{ url: string; front: OriginFront; close: () => Promise<void> }> {
  let front: OriginFront | undefined;
  const srv = await listen((req, res) => (front as OriginFront).serve(req, res));
  const url = `http://localhost:${srv.port}`;
  front = createOriginFront({
    key, source: createFolderSource(dir, { maxObjectSize: 1 << 26 }), policy: { mode: 'open', allow: [], maxMirrors: 8 },
    publicBase: url, pieceSize: 64 * 1024, pieceThreshold: 128 * 1024, localAddress: '127.0.0.1', timeoutMs: 5000,
  });
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await srv.close();
    await (front as OriginFront).close();
  };
  t.after(close);
  return { url, front, close };
}

test('publisher keys come from _peerweb-key TXT; a name without one, an IP address and a dead server give clear errors', { skip }, async () => {
  const keys = await publisherKeysFromDns('localhost', { server: good!.server, timeoutMs: 2000 });
  assert.deepEqual(keys.map((k) => k.keyId), [publisher.keyId]);
  await assert.rejects(publisherKeysFromDns('nokey.example', { server: good!.server, timeoutMs: 2000 }), (e) =>
    isPeerwebError(e, 'PW_ERR_ORIGIN_KEY_UNKNOWN') && /no "v=peerweb1.*TXT record at _peerweb-key\.nokey\.example \(asked DNS server 127\.0\.0\.1:\d+\)/.test(e.message));
  await assert.rejects(publisherKeysFromDns('127.0.0.1', { server: good!.server }), (e) =>
    isPeerwebError(e, 'PW_ERR_ORIGIN_KEY_UNKNOWN') && /IP address/.test(e.message) && /--origin-key/.test(e.message));
  // Nothing listens on the discard port of 127.0.0.9: the query fails, and the error says so.
  await assert.rejects(publisherKeysFromDns('localhost', { server: '127.0.0.9:9', timeoutMs: 300 }), (e) =>
    isPeerwebError(e, 'PW_ERR_ORIGIN_KEY_UNKNOWN') && /query for _peerweb-key\.localhost TXT to DNS server 127\.0\.0\.9:9 failed/.test(e.message));
  assert.equal(parseDnsServer('127.0.0.1:5353'), '127.0.0.1:5353');
  assert.equal(parseDnsServer('[::1]:53'), '[::1]:53');
  assert.throws(() => parseDnsServer('dns.example:53'), (e) => isPeerwebError(e, 'PW_ERR_CLI_USAGE') && /--dns "dns\.example:53" must be IP or IP:PORT/.test(e.message));
  assert.throws(() => parseDnsServer('127.0.0.1:99999'), (e) => isPeerwebError(e, 'PW_ERR_CLI_USAGE'));
});

test('mirror sync without --origin-key verifies the signed index with the key from DNS', { skip }, async (t) => {
  const dir = tempDir(t);
  const big = randomFile(300 * 1024);
  writeFiles(dir, { 'site/big.bin': big, 'site/a.txt': 'alpha' });
  const site = await startLocalhostSite(t, dir, publisher);

  let c = captureIo();
  assert.equal(await main(['mirror', 'sync', `${site.url}/site/`, '--dir', join(dir, 'store'), '--dns', good!.server], c), 0, c.err());
  assert.match(c.out(), /added 2, updated 0, removed 0, unchanged 0/);
  assert.match(c.err(), new RegExp(`publisher key of localhost from DNS: ${publisher.keyId}`));

  // A key in DNS that did not sign the index: nothing is copied.
  c = captureIo();
  assert.equal(await main(['mirror', 'sync', `${site.url}/site/`, '--dir', join(dir, 'store2'), '--dns', wrong!.server], c), 1, c.out() + c.err());
  assert.doesNotMatch(c.out(), /added [1-9]/);
  assert.match(c.err(), new RegExp(`key ${publisher.keyId} is not a known key of this publisher \\[PW_ERR_SIGNATURE_INVALID\\]`));

  // No key record at all: exit 3 and the reason, before any request to the origin.
  c = captureIo();
  assert.equal(await main(['mirror', 'sync', 'http://nokey.example:9/site/', '--dir', join(dir, 'store3'), '--dns', good!.server], c), 3);
  assert.match(c.err(), /No publisher key for nokey\.example: no "v=peerweb1.*_peerweb-key\.nokey\.example.*give --origin-key \[PW_ERR_ORIGIN_KEY_UNKNOWN\]/);
  assert.ok(!existsSync(join(dir, 'store3', 'index.json')));
  // A bad --dns value is a usage error.
  assert.equal(await main(['mirror', 'sync', `${site.url}/site/`, '--dir', join(dir, 'store4'), '--dns', 'resolver.example'], captureIo()), 2);
});

test('get with the origin down takes the digest from the signed index a mirror keeps, checked with the DNS key', { skip }, async (t) => {
  const dir = tempDir(t);
  const big = randomFile(20 * 64 * 1024 + 77);
  writeFiles(dir, { 'site/big.bin': big });
  const site = await startLocalhostSite(t, dir, publisher);
  let mirror: ReturnType<typeof createMirror> | undefined;
  const msrv = await listen(async (req, res) => {
    if (!(await (mirror as ReturnType<typeof createMirror>).handle(req, res))) res.writeHead(404).end();
  });
  t.after(async () => { await msrv.close(); await mirror?.close(); });
  const base = `${msrv.url}/m/`;
  mirror = createMirror({ origin: site.url, prefixes: ['/site/'], base, originKeys: [publisher], maxObjectSize: 1 << 26, rate: 0, globalRate: 0 });
  await mirror.sync();
  await site.close();
  const url = `${site.url}/site/big.bin`;
  const mirrorUrl = `${base}site/big.bin`;

  let c = captureIo();
  const out = join(dir, 'got.bin');
  assert.equal(await main(['get', url, '-o', out, '--mirror', mirrorUrl, '--dns', good!.server, '--timeout', '3s'], c), 0, c.err());
  assert.deepEqual(readFileSync(out), big);
  assert.match(c.err(), new RegExp(`${big.length} bytes verified`));

  // The key in DNS did not sign that index: the digest stays unknown, nothing is written.
  c = captureIo();
  assert.equal(await main(['get', url, '-o', join(dir, 'no1.bin'), '--mirror', mirrorUrl, '--dns', wrong!.server, '--timeout', '3s'], c), 3);
  assert.match(c.err(), /origin unreachable.*no mirror holds an index signed by the publisher key/);
  assert.ok(!existsSync(join(dir, 'no1.bin')));

  // An origin named by IP address has no key record: the error says to give --origin-key.
  c = captureIo();
  assert.equal(await main(['get', url.replace('localhost', '127.0.0.1'), '-o', join(dir, 'no2.bin'), '--mirror', mirrorUrl, '--dns', good!.server, '--timeout', '3s'], c), 3);
  assert.match(c.err(), /the origin is an IP address, which has no _peerweb-key TXT record; give --origin-key/);
  assert.ok(!existsSync(join(dir, 'no2.bin')));
});
