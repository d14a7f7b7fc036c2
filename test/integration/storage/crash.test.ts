// kill -9 a process writing to a disk store at random moments; the reopened store must hold only
// entries whose bytes are exactly right, and no temp or orphan files once it is swept.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createDiskStore, type StoredEntry } from '../../../src/storage/index.js';

const writer = fileURLToPath(new URL('../../fixtures/storage/crash-writer.ts', import.meta.url));
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

function expectedBytes(gen: number, size: number): Buffer {
  const out = Buffer.alloc(size);
  let block = createHash('sha256').update(`shared||${gen}`).digest();
  for (let at = 0; at < size; at += block.length) {
    block.copy(out, at);
    block = createHash('sha256').update(block).digest();
  }
  return out;
}

/** Starts the writer, waits until it finished `ops` operations, kills it with SIGKILL by its PID. */
async function runAndKill(dir: string, seed: number, ops: number): Promise<void> {
  const child = spawn(process.execPath, ['--import', 'tsx', writer, dir, String(seed)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => { stderr += c.toString(); });
  const exited = new Promise<NodeJS.Signals | number | null>((resolve) => child.on('exit', (code, signal) => resolve(signal ?? code)));
  const deadline = setTimeout(() => child.kill('SIGKILL'), 30_000);
  try {
    await new Promise<void>((resolve, reject) => {
      let lines = 0;
      child.stdout.on('data', (c: Buffer) => {
        lines += c.toString().split('\n').length - 1;
        if (lines >= ops) resolve();
      });
      child.on('exit', () => reject(new Error(`writer exited early after ${lines} operations: ${stderr}`)));
    });
    assert.ok(child.pid);
    process.kill(child.pid, 'SIGKILL');
    assert.equal(await exited, 'SIGKILL');
  } finally {
    clearTimeout(deadline);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
}

async function files(root: string): Promise<string[]> {
  const out: string[] = [];
  for (const a of await readdir(root)) for (const b of await readdir(join(root, a))) out.push(...await readdir(join(root, a, b)));
  return out.sort();
}

test('disk store: kill -9 at random moments leaves a consistent store', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'pw-crash-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  let checked = 0;
  let dropped = 0;
  for (let round = 1; round <= 5; round++) {
    await runAndKill(dir, round, 20 + Math.floor(Math.random() * 60));
    const store = await createDiskStore({ dir, maxBytes: 8 * 1024 * 1024, sweepOnOpen: false });
    try {
      assert.deepEqual(await readdir(join(dir, 'v1', 'tmp')), [], 'temp files are removed at open');
      const all: StoredEntry[] = [];
      for (let h = 0; h < 3; h++) for (let k = 0; k < 40; k++) all.push(...await store.lookup(`http://h${h}:80/k${k}`));
      for (const e of all) {
        const expected = expectedBytes(e.data.bodyGen as number, e.data.size as number);
        assert.equal(e.digest, sha(expected), 'a record names the digest of the bytes written with it');
        assert.equal(e.size, expected.length);
        const r = await store.openBody(e.digest);
        if (!r) { dropped++; continue; }
        const parts: Buffer[] = [];
        for await (const c of r.stream()) parts.push(c);
        assert.ok(Buffer.concat(parts).equals(expected), `body of ${e.key} ${e.variant}`);
        checked++;
      }
      await store.sweepOrphans();
      const live: StoredEntry[] = [];
      for (let h = 0; h < 3; h++) for (let k = 0; k < 40; k++) live.push(...await store.lookup(`http://h${h}:80/k${k}`));
      const digests = [...new Set(live.map((e) => e.digest))].sort();
      assert.deepEqual(await files(join(dir, 'v1', 'bodies')), digests, 'one body file per referenced digest, no orphans');
      assert.equal(store.stats().entries, live.length);
      assert.equal(store.stats().bodies, digests.length);
      assert.ok(store.stats().bytes <= store.maxBytes);
    } finally {
      await store.close();
    }
  }
  assert.ok(checked > 0, 'some entries survived to be checked');
  // The body is renamed into place before its record is written, so a killed process never leaves
  // a record without its complete body (only a power loss could, and then the record is dropped).
  assert.equal(dropped, 0, 'no record pointed to a missing or partial body');
  t.diagnostic(`${checked} bodies checked, ${dropped} dropped`);
});
