import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HashThread, sha256 } from '../../../src/integrity/index.js';
import { PieceChecks, type CheckResult } from '../../../src/client/piece-checks.js';

const KiB = 1024;

/** A file of `n` pieces of 64 KiB, piece 2 corrupted on disk, and a fresh pair of threads. */
function setup(t: { after(fn: () => unknown): void }, n = 6) {
  const dir = mkdtempSync(join(tmpdir(), 'pw-piece-checks-'));
  const pieces = Array.from({ length: n }, () => randomBytes(64 * KiB));
  const onDisk = pieces.map((p, i) => (i === 2 ? Buffer.alloc(p.length, 0x55) : p));
  const file = join(dir, 'f.pwpart');
  writeFileSync(file, Buffer.concat(onDisk));
  const foreground = new HashThread();
  const background = new HashThread({ background: true });
  t.after(async () => {
    await foreground.close();
    await background.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const results = new Map<number, { result: CheckResult; bytes: Buffer | undefined }>();
  /** Hands piece i over as it arrived (the true bytes), except piece 2, handed over as on disk. */
  const add = (checks: PieceChecks, i: number) =>
    checks.add(i * 64 * KiB, Buffer.from(onDisk[i] as Buffer), sha256(pieces[i] as Buffer), (result, bytes) => { results.set(i, { result, bytes }); });
  return { file, pieces, foreground, background, results, add };
}

test('pieces within maxLent are checked in the background from memory; the rest wait on disk until drain, then are read back', async (t) => {
  const s = setup(t);
  const checks = new PieceChecks({ file: s.file, foreground: s.foreground, background: s.background, maxLent: 128 * KiB, maxUnchecked: 1024 * KiB });
  for (let i = 0; i < 6; i++) s.add(checks, i);
  // Let the background thread answer what it holds; nothing else may be checked before drain.
  const deadline = Date.now() + 10_000;
  while (s.results.size < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  // A read-back would have gone to the foreground thread: one more job there answers after it.
  await s.foreground.fileDigest(s.file, 0, 1);
  assert.deepEqual([...s.results.keys()].sort(), [0, 1], 'only the lent pieces are checked before drain');
  for (const i of [0, 1]) assert.deepEqual(s.results.get(i)?.bytes, s.pieces[i], 'a lent piece comes back with its bytes');
  await checks.drain();
  assert.equal(s.results.size, 6);
  assert.equal(s.results.get(2)?.result, 'bad', 'the corrupt bytes on disk fail');
  for (const i of [0, 1, 3, 4, 5]) assert.equal(s.results.get(i)?.result, 'ok', `piece ${i}`);
  for (const i of [3, 4, 5]) assert.equal(s.results.get(i)?.bytes, undefined, 'read back: the bytes are only in the file');
  assert.equal(checks.readBackBytes, 4 * 64 * KiB);
});

test('more than maxUnchecked bytes waiting: the foreground thread starts on them before drain', async (t) => {
  const s = setup(t);
  const checks = new PieceChecks({ file: s.file, foreground: s.foreground, background: s.background, maxLent: 0, maxUnchecked: 128 * KiB });
  for (let i = 0; i < 6; i++) s.add(checks, i);
  // 6 × 64 KiB wait with room for 2: the oldest ones are read back now.
  const deadline = Date.now() + 10_000;
  while (s.results.size < 4 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  assert.equal(s.results.size, 4, 'all but maxUnchecked bytes were checked without drain');
  assert.deepEqual([...s.results.keys()].sort(), [0, 1, 2, 3], 'oldest first');
  assert.equal(s.results.get(2)?.result, 'bad');
  await checks.drain();
  assert.equal(s.results.size, 6);
});

test('a background thread that dies with lent pieces: they are checked from the file instead; a callback that throws fails drain', async (t) => {
  const s = setup(t);
  const checks = new PieceChecks({ file: s.file, foreground: s.foreground, background: s.background, maxLent: 1024 * KiB, maxUnchecked: 1024 * KiB });
  for (let i = 0; i < 6; i++) s.add(checks, i);
  await s.background.close();
  await checks.drain();
  assert.equal(s.results.size, 6);
  assert.equal(s.results.get(2)?.result, 'bad');
  for (const i of [0, 1, 3, 4, 5]) assert.equal(s.results.get(i)?.result, 'ok', `piece ${i}`);

  const again = new PieceChecks({ file: s.file, foreground: s.foreground, background: s.background, maxLent: 0, maxUnchecked: 0 });
  again.add(0, Buffer.from(s.pieces[0] as Buffer), sha256(s.pieces[0] as Buffer), () => { throw new Error('the receiver failed'); });
  await assert.rejects(again.drain(), /the receiver failed/);
  // The error is reported once; the checker is usable again.
  await again.drain();
});
