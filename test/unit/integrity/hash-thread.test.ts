import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HashThread, inlineSha256Stream, sha256 } from '../../../src/integrity/index.js';

test('lend: the digest comes from the thread and the same bytes come back; the buffer was moved, not copied', async (t) => {
  const h = new HashThread();
  t.after(() => h.close());
  const data = randomBytes(1024 * 1024);
  const expected = sha256(data);
  const copy = Buffer.from(data);
  const buf = Buffer.allocUnsafe(data.length);
  data.copy(buf);
  const p = h.lend(buf);
  // Moved to the thread: this side sees a detached buffer until it comes back.
  assert.equal(buf.length, 0);
  const { digest, bytes } = await p;
  assert.deepEqual(digest, expected);
  assert.deepEqual(bytes, copy);
});

test('lend: a buffer that shares its memory (a slice, a pooled small buffer) is copied and stays usable', async (t) => {
  const h = new HashThread();
  t.after(() => h.close());
  const big = randomBytes(256 * 1024);
  const slice = big.subarray(1000, 200_000);
  const small = Buffer.from('a small body');
  for (const b of [slice, small]) {
    const before = Buffer.from(b);
    const { digest, bytes } = await h.lend(b);
    assert.equal(bytes, b, 'the caller keeps its own buffer');
    assert.deepEqual(b, before);
    assert.deepEqual(digest, sha256(before));
  }
  assert.equal(big.length, 256 * 1024, 'the slice\'s backing buffer was not detached');
});

test('stream: updates in order give the digest of the whole; moved and shared buffers alike; empty stream; many in parallel', async (t) => {
  const h = new HashThread();
  t.after(() => h.close());
  const parts = [randomBytes(70_000), randomBytes(3), randomBytes(1024 * 1024)];
  const whole = Buffer.concat(parts);
  const inline = inlineSha256Stream();
  for (const p of parts) inline.update(p);
  assert.deepEqual(await inline.digest(), sha256(whole));
  const s = h.stream();
  // A slice (copied), then whole buffers of their own (moved: detached here once handed over).
  s.update(whole.subarray(0, 1000));
  s.update(Buffer.from(whole.subarray(1000, 70_003)));
  const rest = Buffer.allocUnsafe(whole.length - 70_003);
  whole.copy(rest, 0, 70_003);
  s.update(rest);
  assert.equal(rest.length, 0, 'moved to the thread');
  assert.deepEqual(await s.digest(), sha256(whole));
  assert.deepEqual(await h.stream().digest(), sha256(Buffer.alloc(0)));

  // Interleaved streams do not mix.
  const bodies = Array.from({ length: 8 }, (_, i) => randomBytes(10_000 + i));
  const streams = bodies.map(() => h.stream());
  for (let off = 0; off < 10_000; off += 999) streams.forEach((st, i) => st.update((bodies[i] as Buffer).subarray(off, Math.min(off + 999, 10_000))));
  streams.forEach((st, i) => st.update((bodies[i] as Buffer).subarray(10_000)));
  assert.deepEqual(await Promise.all(streams.map((st) => st.digest())), bodies.map((b) => sha256(b)));
  await assert.rejects(s.digest(), /digest asked twice/);
  assert.throws(() => s.update(Buffer.from('x')), /update after digest/);
});

test('stream brake: drained(max) resolves once no more than max bytes wait to be hashed; a lost thread releases it', async (t) => {
  const h = new HashThread();
  t.after(() => h.close());
  const MiB = 1024 * 1024;
  const s = h.stream();
  const parts = Array.from({ length: 6 }, () => randomBytes(4 * MiB));
  const expected = sha256(Buffer.concat(parts));
  for (const p of parts) s.update(Buffer.from(p));
  assert.equal(s.queuedBytes, 24 * MiB, 'nothing is hashed before the thread has started');
  await s.drained(8 * MiB);
  assert.ok(s.queuedBytes <= 8 * MiB, `${s.queuedBytes} bytes still queued`);
  await s.drained(0);
  assert.equal(s.queuedBytes, 0);
  assert.deepEqual(await s.digest(), expected);

  const s2 = h.stream();
  s2.update(Buffer.from(randomBytes(8 * MiB)));
  const braked = s2.drained(0);
  await h.close();
  await braked;
  assert.equal(s2.queuedBytes, 0);
  await assert.rejects(s2.digest(), /hash thread closed/);
});

test('a thread that dies fails what it held, and the next use starts a new one', async () => {
  const h = new HashThread();
  const s = h.stream();
  s.update(randomBytes(1000));
  const pending = assert.rejects(h.lend(Buffer.allocUnsafe(8 * 1024 * 1024).fill(7)), /hash thread closed/);
  await h.close();
  await pending;
  await assert.rejects(s.digest(), /hash thread closed/);
  // Fresh work runs on a new thread.
  const data = randomBytes(100_000);
  assert.deepEqual((await h.lend(Buffer.from(data))).digest, sha256(data));
  const s2 = h.stream();
  s2.update(Buffer.from(data));
  assert.deepEqual(await s2.digest(), sha256(data));
  await h.close();
});

test('an idle hash thread does not keep the process alive', async () => {
  const script = `
    const { hashThread } = await import(${JSON.stringify(fileURLToPath(new URL('../../../src/integrity/index.ts', import.meta.url)))});
    const r = await hashThread().lend(Buffer.alloc(1 << 20, 1));
    console.log(r.digest.toString('hex'));
  `;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (c: Buffer) => { out += c.toString(); });
  const deadline = setTimeout(() => child.kill('SIGKILL'), 20_000);
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  clearTimeout(deadline);
  assert.equal(code, 0, 'the process ended by itself');
  assert.equal(out.trim(), sha256(Buffer.alloc(1 << 20, 1)).toString('hex'));
});

test('fileDigest: the thread reads a range of a file and hashes it; a missing file or a range past its end rejects', async (t) => {
  const h = new HashThread();
  t.after(() => h.close());
  const dir = mkdtempSync(join(tmpdir(), 'pw-hash-thread-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const data = randomBytes(3 * 1024 * 1024 + 17);
  const file = join(dir, 'f.bin');
  writeFileSync(file, data);
  // Longer than the thread's 1 MiB read buffer, from an odd offset.
  assert.deepEqual(await h.fileDigest(file, 5, 2 * 1024 * 1024 + 3), sha256(data.subarray(5, 5 + 2 * 1024 * 1024 + 3)));
  assert.deepEqual(await h.fileDigest(file, data.length, 0), sha256(Buffer.alloc(0)));
  await assert.rejects(h.fileDigest(file, data.length - 10, 11), /the file ends at/);
  await assert.rejects(h.fileDigest(join(dir, 'missing.bin'), 0, 1), /ENOENT/);
  // The thread is still there after an error.
  assert.deepEqual(await h.fileDigest(file, 0, 100), sha256(data.subarray(0, 100)));
});

test('a background thread gives itself the idle scheduling policy (Linux with chrt; else nice 19)', { skip: process.platform !== 'linux' }, async (t) => {
  /** Scheduling policy (stat field 41; 5 is SCHED_IDLE) and nice value (field 19) of each thread of this process. */
  const threads = () => readdirSync('/proc/self/task').map((tid) => {
    const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
    // The fields after the command name (which may hold spaces) start with field 3.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { policy: Number(f[38]), nice: Number(f[16]) };
  });
  const idle = (ts: { policy: number; nice: number }[]) => ts.filter((x) => (hasChrt ? x.policy === 5 : x.nice === 19)).length;
  const hasChrt = ['/usr/bin/chrt', '/bin/chrt'].some((p) => existsSync(p));
  const before = idle(threads());
  const h = new HashThread({ background: true });
  t.after(() => h.close());
  await h.lend(Buffer.from(randomBytes(1000)));
  assert.equal(idle(threads()), before + 1);
  // A thread without the option keeps the normal policy.
  const n = new HashThread();
  t.after(() => n.close());
  await n.lend(Buffer.from(randomBytes(1000)));
  assert.equal(idle(threads()), before + 1);
});
