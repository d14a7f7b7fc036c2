import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
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
