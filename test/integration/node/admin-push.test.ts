import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestNode } from '../../helpers/node.js';
import { mirrorsListed, startPublisher } from '../../helpers/publisher.js';
import { waitFor } from '../../helpers/origin.js';

interface PushAnswer { ok: boolean; results: { path: string; mirrors: { url: string; status: number | null }[]; error?: string }[]; error?: string }

async function push(n: TestNode, query: string): Promise<{ status: number; body: PushAnswer }> {
  const r = await fetch(`${n.admin}/push?${query}`, { method: 'POST' });
  return { status: r.status, body: (await r.json()) as PushAnswer };
}

test('admin POST /push on an origin front pre-warms its mirrors with signed PUTs; bad calls get clear errors', async (t) => {
  const { origin, originKey, site, start } = await startPublisher(t, { 'a.txt': 'first file' });
  const mirror = await start({ 'mirror.mirror': [origin.base], 'mirror.originKey': originKey });
  await waitFor(async () => (await mirrorsListed(origin)).length === 1, 'the mirror to be listed', 20_000);

  // A file published after the mirror synced: the push puts it there before any crowd asks.
  writeFileSync(join(site, 'late.txt'), 'published later');
  const r = await push(origin, 'path=/late.txt');
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(r.body.ok, true);
  const [one] = r.body.results;
  assert.equal(one?.path, '/late.txt');
  assert.equal(one?.mirrors.length, 1);
  assert.equal(one?.mirrors[0]?.status, 201, 'the mirror did not hold it before');
  const copy = await mirror.get(`/m/${new URL(origin.base).host}/late.txt`);
  assert.equal(copy.status, 200);
  assert.equal(copy.text, 'published later');

  const none = await push(origin, '');
  assert.equal(none.status, 400);
  assert.match(none.body.error ?? '', /needs path=/);
  const relative = await push(origin, 'path=late.txt');
  assert.equal(relative.status, 400);
  assert.match(relative.body.error ?? '', /absolute URL path/);
  const badTo = await push(origin, 'path=/a.txt&to=ftp://x');
  assert.equal(badTo.status, 400);
  const tooMany = await push(origin, Array.from({ length: 101 }, (_, i) => `path=/f${i}`).join('&'));
  assert.equal(tooMany.status, 400);
  assert.match(tooMany.body.error ?? '', /at most 100/);
  // A node that publishes nothing has nothing to push.
  const notFront = await push(mirror, 'path=/a.txt');
  assert.equal(notFront.status, 404);
  assert.match(notFront.body.error ?? '', /publishes nothing/);
});
