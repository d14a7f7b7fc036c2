import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { getVerified, rangeSizeFor, type GetEvent } from '../../../src/client/index.js';
import { Agent } from 'undici';
import { downloadRanges } from '../../../src/client/ranges.js';
import { formatDigestField, HashThread, pieceHashes, sha256 } from '../../../src/integrity/index.js';
import { buildMetalink, METALINK_TYPE, parseSingleRange, WELL_KNOWN } from '../../../src/mirror/index.js';
import { listen, randomFile, startMirror, startSite, tempDir, writeFiles } from '../mirror/net-helpers.js';

const CLIENT = '127.0.0.3';
const KiB = 1024;

/**
 * A mirror serving one body with HEAD and single ranges. `hold(start)` may return a promise the
 * answer waits for; `corrupt(start)` flips a byte of that range.
 */
async function startRangeServer(t: { after: (fn: () => Promise<void>) => void }, body: Buffer, o: { hold?: (start: number) => Promise<void> | undefined; corrupt?: (start: number) => boolean } = {}) {
  const starts: number[] = [];
  const srv = await listen(async (req: IncomingMessage, res: ServerResponse) => {
    const r = parseSingleRange(req.headers.range, body.length);
    if (r === 'unsatisfiable') return void res.writeHead(416).end();
    const range = r ?? { start: 0, end: body.length - 1 };
    if (req.method === 'GET') {
      starts.push(range.start);
      await o.hold?.(range.start);
    }
    let part = body.subarray(range.start, range.end + 1);
    if (o.corrupt?.(range.start)) {
      part = Buffer.from(part);
      part[0] = (part[0] ?? 0) ^ 0xff;
    }
    res.writeHead(r ? 206 : 200, { 'content-length': String(part.length), 'accept-ranges': 'bytes', ...(r ? { 'content-range': `bytes ${range.start}-${range.end}/${body.length}` } : {}) });
    res.end(req.method === 'HEAD' ? undefined : part);
  });
  t.after(srv.close);
  return { url: `${srv.url}/f.bin`, starts };
}

test('pieces checked against the origin\'s Metalink prove the file: one hash pass, no read-back; --digest adds the whole-file hash', async (t) => {
  const dir = tempDir(t);
  const big = randomFile(20 * 64 * KiB + 123);
  writeFiles(dir, { 'files/big.bin': big });
  const site = await startSite(dir, { pieceSize: 64 * KiB, pieceThreshold: 128 * KiB });
  t.after(site.close);
  const m = await startMirror(site, ['/files/']);
  t.after(m.close);
  await m.mirror.sync();
  assert.equal((await site.front.offer(m.base, ['/files/'])).state, 'live');
  const url = `${site.url}/files/big.bin`;

  const r = await getVerified({ url, out: join(dir, 'a.bin'), localAddress: CLIENT });
  assert.deepEqual(readFileSync(join(dir, 'a.bin')), big);
  assert.deepEqual(r.verification, { pieces: true, whole: false, readBackBytes: 0 });
  assert.equal(r.bytesFrom[`${m.base}files/big.bin`], big.length);

  const g = await getVerified({ url, out: join(dir, 'b.bin'), localAddress: CLIENT, digest: sha256(big), fsync: false });
  assert.deepEqual(readFileSync(join(dir, 'b.bin')), big);
  assert.deepEqual(g.verification, { pieces: true, whole: true, readBackBytes: 0 });
});

test('only a whole-file digest: parallel ranges complete out of order and are hashed in file order; what outran the buffer is read back', async (t) => {
  const dir = tempDir(t);
  const size = 2 * 1024 * KiB + 5;
  const body = randomFile(size);
  const rs = rangeSizeFor(size);
  const ranges = Math.ceil(size / rs);
  assert.ok(ranges >= 8, `${ranges} ranges`);
  // The first range is answered only after every other range was served.
  let othersServed = 0;
  let release: () => void = () => undefined;
  const firstHeld = new Promise<void>((resolve) => { release = resolve; });
  const slowFirst = await startRangeServer(t, body, {
    hold: (start) => {
      if (start === 0) return firstHeld;
      if (++othersServed === ranges - 1) release();
      return undefined;
    },
  });
  const events: GetEvent[] = [];
  // The origin is down (nothing listens on port 9): the digest is the caller's, the size the mirror's.
  const r = await getVerified({
    url: 'http://127.0.0.1:9/f.bin', out: join(dir, 'out.bin'), localAddress: CLIENT, digest: sha256(body), mirrors: [slowFirst.url],
    parallel: 4, timeoutMs: 5000, hashBufferBytes: rs, onEvent: (e) => events.push(e),
  });
  assert.deepEqual(readFileSync(join(dir, 'out.bin')), body);
  const order = events.filter((e): e is Extract<GetEvent, { type: 'piece' }> => e.type === 'piece').map((e) => e.index);
  assert.equal(order.length, ranges);
  assert.equal(order.at(-1), 0, 'the first range completed last');
  assert.equal(r.verification.pieces, false);
  assert.equal(r.verification.whole, true);
  // One range fits in the buffer; the others beyond it were dropped and read back from the file.
  assert.ok(r.verification.readBackBytes > 0 && r.verification.readBackBytes <= size - rs, `read back ${r.verification.readBackBytes}`);
  assert.deepEqual(readdirSync(dir), ['out.bin'], 'no temp or state file left');

  // With room for every range nothing is read back.
  othersServed = 0;
  const again = new Promise<void>((resolve) => { release = resolve; });
  const slow2 = await startRangeServer(t, body, {
    hold: (start) => {
      if (start === 0) return again;
      if (++othersServed === ranges - 1) release();
      return undefined;
    },
  });
  const r2 = await getVerified({ url: 'http://127.0.0.1:9/f.bin', out: join(dir, 'out2.bin'), localAddress: CLIENT, digest: sha256(body), mirrors: [slow2.url], parallel: 4, timeoutMs: 5000 });
  assert.deepEqual(readFileSync(join(dir, 'out2.bin')), body);
  assert.deepEqual(r2.verification, { pieces: false, whole: true, readBackBytes: 0 });
});

for (const hashThread of [true, false]) {
test(`only a whole-file digest and one mirror corrupts its ranges: the in-order hash catches it, the liar is named, the output is exact (hashed ${hashThread ? 'on the hash thread' : 'inline'})`, async (t) => {
  const dir = tempDir(t);
  const size = 1536 * KiB;
  const body = randomFile(size);
  const honest = await startRangeServer(t, body);
  // It corrupts every range it serves; with four ranges at once over two mirrors it serves some.
  const liar = await startRangeServer(t, body, { corrupt: () => true });
  const events: GetEvent[] = [];
  const out = join(dir, 'out.bin');
  const r = await getVerified({
    url: 'http://127.0.0.1:9/f.bin', out, localAddress: CLIENT, digest: sha256(body), mirrors: [honest.url, liar.url], parallel: 4, timeoutMs: 5000, hashThread,
    onEvent: (e) => {
      events.push(e);
      // Nothing unverified ever appears at the output path (the liar is named after the verified file is in place).
      if ((e.type === 'piece' || e.type === 'fallback') && existsSync(out)) throw new Error(`output exists at ${e.type}`);
    },
  });
  assert.deepEqual(readFileSync(out), body);
  assert.ok(liar.starts.length > 0, 'the liar served ranges');
  assert.ok(events.some((e) => e.type === 'fallback' && /ranges do not add up/.test(e.reason)));
  assert.deepEqual(r.liars, [liar.url]);
  assert.ok(events.some((e) => e.type === 'bad' && e.source === liar.url));
});

test(`a corrupt piece is caught by its piece hash as it arrives (hashed ${hashThread ? 'on the hash thread' : 'inline'})`, async (t) => {
  const dir = tempDir(t);
  const size = 12 * 64 * KiB;
  const body = randomFile(size);
  const pieceSize = 64 * KiB;
  // It corrupts every piece it serves; with two pieces at once it serves at least the first.
  const liar = await startRangeServer(t, body, { corrupt: () => true });
  const honest = await startRangeServer(t, body);
  // An origin that serves only its description: HEAD with the digest, and the Metalink at its well-known path.
  const metalink = buildMetalink({ name: 'f.bin', size, digest: sha256(body), pieces: pieceHashes(body, pieceSize), pieceSize, urls: [{ url: liar.url, priority: 1 }] });
  const origin = await listen((req, res) => {
    if (req.url === `${WELL_KNOWN}metalink/f.bin`) return void res.writeHead(200, { 'content-type': METALINK_TYPE }).end(metalink);
    if (req.url === '/f.bin' && req.method === 'HEAD') {
      return void res.writeHead(200, {
        'content-length': String(size), 'repr-digest': formatDigestField(sha256(body)),
        link: `<${WELL_KNOWN}metalink/f.bin>; rel=describedby; type="${METALINK_TYPE}", <${honest.url}>; rel=duplicate; pri=2`,
      }).end();
    }
    res.writeHead(404).end();
  });
  t.after(origin.close);
  const events: GetEvent[] = [];
  const r = await getVerified({ url: `${origin.url}/f.bin`, out: join(dir, 'out.bin'), localAddress: CLIENT, parallel: 2, report: false, hashThread, onEvent: (e) => events.push(e) });
  assert.deepEqual(readFileSync(join(dir, 'out.bin')), body);
  assert.deepEqual(r.liars, [liar.url]);
  assert.ok(events.some((e) => e.type === 'bad' && e.index !== undefined && e.source === liar.url));
  assert.ok(!events.some((e) => e.type === 'fallback'), 'no whole-file pass was needed');
  assert.deepEqual(r.verification, { pieces: true, whole: false, readBackBytes: 0 });
});
}

test('a download begun on the well-known Metalink is kept only if the HEAD confirms its digest', async (t) => {
  const dir = tempDir(t);
  const size = 1536 * KiB;
  const pieceSize = 64 * KiB;
  const oldBody = randomFile(size);
  const newBody = randomFile(size);
  const oldMirror = await startRangeServer(t, oldBody);
  const newMirror = await startRangeServer(t, newBody);
  // The Metalink still describes the old version; the HEAD already names the new one.
  let headDigest = sha256(newBody);
  let linkMetalink = false;
  const metalinkFor = (b: Buffer, url: string) => buildMetalink({ name: 'f.bin', size, digest: sha256(b), pieces: pieceHashes(b, pieceSize), pieceSize, urls: [{ url, priority: 1 }] });
  let metalink = metalinkFor(oldBody, oldMirror.url);
  const origin = await listen((req, res) => {
    if (req.url === `${WELL_KNOWN}metalink/f.bin`) return void res.writeHead(200, { 'content-type': METALINK_TYPE }).end(metalink);
    if (req.url === '/f.bin' && req.method === 'HEAD') {
      const links = [`<${newMirror.url}>; rel=duplicate; pri=1`, ...(linkMetalink ? [`<${WELL_KNOWN}metalink/f.bin>; rel=describedby; type="${METALINK_TYPE}"`] : [])];
      return void res.writeHead(200, { 'content-length': String(size), 'repr-digest': formatDigestField(headDigest), link: links.join(', ') }).end();
    }
    res.writeHead(404).end();
  });
  t.after(origin.close);
  const events: GetEvent[] = [];
  const r = await getVerified({ url: `${origin.url}/f.bin`, out: join(dir, 'a.bin'), localAddress: CLIENT, report: false, onEvent: (e) => events.push(e) });
  assert.deepEqual(readFileSync(join(dir, 'a.bin')), newBody, 'the version the HEAD names');
  assert.ok(events.some((e) => e.type === 'fallback' && /did not confirm/.test(e.reason)));
  assert.equal(r.verification.whole, true);

  // Same digest, but the HEAD does not link that Metalink: its pieces are not taken as proof, the whole file is hashed.
  headDigest = sha256(oldBody);
  metalink = metalinkFor(oldBody, oldMirror.url);
  const r2 = await getVerified({ url: `${origin.url}/f.bin`, out: join(dir, 'b.bin'), localAddress: CLIENT, report: false, fsync: false });
  assert.deepEqual(readFileSync(join(dir, 'b.bin')), oldBody);
  assert.deepEqual(r2.verification, { pieces: true, whole: true, readBackBytes: size });

  // Linked and confirmed: the pieces prove it.
  linkMetalink = true;
  const r3 = await getVerified({ url: `${origin.url}/f.bin`, out: join(dir, 'c.bin'), localAddress: CLIENT, report: false });
  assert.deepEqual(readFileSync(join(dir, 'c.bin')), oldBody);
  assert.deepEqual(r3.verification, { pieces: true, whole: false, readBackBytes: 0 });
});

test('resume with only a whole-file digest: kept ranges are read back into the in-order hash, the rest is fetched', async (t) => {
  const dir = tempDir(t);
  const size = 2 * 1024 * KiB;
  const body = randomFile(size);
  const rs = rangeSizeFor(size);
  const mirror = await startRangeServer(t, body);
  const out = join(dir, 'out.bin');
  const opts = { url: 'http://127.0.0.1:9/f.bin', out, localAddress: CLIENT, digest: sha256(body), mirrors: [mirror.url], parallel: 2, timeoutMs: 5000 };
  const ac = new AbortController();
  let pieces = 0;
  await assert.rejects(
    getVerified({ ...opts, signal: ac.signal, onEvent: (e) => { if (e.type === 'piece' && ++pieces === 3) ac.abort(); } }),
    (e) => e instanceof Error && /interrupted/.test(e.message),
  );
  assert.ok(!existsSync(out));
  assert.ok(existsSync(`${out}.pwpart.json`));
  const before = mirror.starts.length;
  const r = await getVerified(opts);
  assert.deepEqual(readFileSync(out), body);
  assert.ok(r.resumedPieces >= 3, `resumed ${r.resumedPieces}`);
  assert.equal(mirror.starts.length - before, size / rs - r.resumedPieces, 'only the missing ranges were fetched');
  assert.equal(r.verification.readBackBytes, r.resumedPieces * rs, 'exactly the kept ranges were read back');
  assert.deepEqual(readdirSync(dir), ['out.bin']);
});

/** What a test of the range engine needs besides its servers: a directory, a body and its piece hashes, a client agent and a fresh pair of hash threads. */
function rangeJobParts(t: { after: (fn: () => Promise<void> | void) => void }, size: number, pieceSize: number) {
  const dir = tempDir(t);
  const body = randomFile(size);
  const expected = pieceHashes(body, pieceSize);
  const dispatcher = new Agent({ localAddress: CLIENT });
  const threads = { foreground: new HashThread(), background: new HashThread({ background: true }) };
  t.after(async () => {
    await dispatcher.close();
    await threads.foreground.close();
    await threads.background.close();
  });
  return { dir, body, expected, dispatcher, threads };
}

test('pieces checked only after the transfer (nothing held in memory): the bad ones come back for a second round; each piece is accepted once, after its check', async (t) => {
  const pieceSize = 64 * KiB;
  const size = 10 * pieceSize + 999;
  const { dir, body, expected, dispatcher, threads } = rangeJobParts(t, size, pieceSize);
  const liar = await startRangeServer(t, body, { corrupt: () => true });
  const honest = await startRangeServer(t, body);
  const log: string[] = [];
  const progress: number[] = [];
  let liarOut = false;
  let turn = 0;
  const tmp = join(dir, 'f.pwpart');
  const out = await downloadRanges({
    url: honest.url, size, pieceSize, tmp, stateFile: `${tmp}.json`, stateKey: 'test', parallel: 3, dispatcher, timeoutMs: 5000, fsync: true,
    // Every other piece from the liar until it is caught.
    pick: () => ({ url: !liarOut && turn++ % 2 === 0 ? liar.url : honest.url }),
    noSourceReason: () => 'none',
    pieceHash: (i) => expected[i] as Buffer,
    hashThreads: threads,
    // Nothing is lent, and everything waits for the end of the transfer.
    checkBuffers: { lent: 0, unchecked: 1024 * 1024 * 1024 },
    onGood: () => undefined,
    onFailed: (s, r) => { throw new Error(`${s}: ${r}`); },
    onBad: async (s, i) => { log.push(`bad ${i}`); if (s === liar.url) liarOut = true; },
    onPiece: (i, _s, buf, bytes) => { log.push(`ok ${i}`); assert.equal(buf, undefined, 'checked from the file'); assert.equal(bytes, Math.min(pieceSize, size - i * pieceSize)); },
    onProgress: (d, total) => { progress.push(d); assert.equal(total, size); },
  });
  // Progress counts pieces as written, takes refused ones back, and ends at the size.
  assert.ok(progress.some((p, k) => k > 0 && p < (progress[k - 1] as number)), 'a refused piece was taken back');
  assert.ok(Math.max(...progress) <= size);
  assert.equal(progress.at(-1), size);
  assert.deepEqual(readFileSync(tmp), body);
  const bad = log.filter((l) => l.startsWith('bad')).map((l) => Number(l.slice(4)));
  const ok = log.filter((l) => l.startsWith('ok')).map((l) => Number(l.slice(3)));
  assert.ok(bad.length > 0, 'the liar served pieces, which failed their check');
  assert.deepEqual([...ok].sort((a, b) => a - b), Array.from({ length: 11 }, (_, i) => i), 'every piece accepted exactly once');
  for (const i of bad) assert.ok(log.indexOf(`bad ${i}`) < log.indexOf(`ok ${i}`), `piece ${i} accepted only after its bad copy was refused`);
  assert.equal(out.checkedFromFile, size + bad.reduce((s, i) => s + Math.min(pieceSize, size - i * pieceSize), 0), 'each copy written was read back once');
  assert.equal(out.bytesFrom[liar.url] ?? 0, 0, 'no byte of the liar was accepted');
});

test('resume on the hash thread: listed pieces are checked again from the file; a damaged or missing one is fetched again', async (t) => {
  const pieceSize = 64 * KiB;
  const size = 6 * pieceSize + 5;
  const { dir, body, expected, dispatcher, threads } = rangeJobParts(t, size, pieceSize);
  const mirror = await startRangeServer(t, body);
  const tmp = join(dir, 'f.pwpart');
  // An earlier run left pieces 0 to 4 listed; piece 1 was damaged since, and the file stops inside piece 4.
  const partial = Buffer.from(body.subarray(0, 4 * pieceSize + 100));
  partial[pieceSize + 7] = (partial[pieceSize + 7] ?? 0) ^ 1;
  writeFileSync(tmp, partial);
  writeFileSync(`${tmp}.json`, JSON.stringify({ digest: 'test', size, pieceSize, done: [0, 1, 2, 3, 4] }));
  let kept: readonly number[] = [];
  const out = await downloadRanges({
    url: mirror.url, size, pieceSize, tmp, stateFile: `${tmp}.json`, stateKey: 'test', parallel: 2, dispatcher, timeoutMs: 5000, fsync: false,
    pick: () => ({ url: mirror.url }), noSourceReason: () => 'none',
    pieceHash: (i) => expected[i] as Buffer, hashThreads: threads,
    onGood: () => undefined, onFailed: (s, r) => { throw new Error(`${s}: ${r}`); }, onBad: async () => { throw new Error('no bad piece expected'); },
    onPiece: () => undefined, onKept: (k) => { kept = k; },
  });
  assert.deepEqual([...kept].sort(), [0, 2, 3]);
  assert.equal(out.keptPieces, 3);
  assert.deepEqual(mirror.starts.sort((a, b) => a - b), [1, 4, 5, 6].map((i) => i * pieceSize), 'only the damaged, short and missing pieces were fetched');
  assert.deepEqual(readFileSync(tmp), body);
});
