import { test } from 'node:test';
import assert from 'node:assert/strict';
import FakeTimers from '@sinonjs/fake-timers';
import type { Directory, DirectoryLimits } from '../../../src/directory/index.js';
import { isPeerwebError } from '../../../src/errors/index.js';

/** Builds a fresh, empty directory with these limits and this clock; returns it and its teardown. */
export type DirectoryFactory = (limits: DirectoryLimits, now: () => number) => Promise<{ dir: Directory; close: () => Promise<void> }>;

const D1 = 'a'.repeat(64);
const D2 = 'b'.repeat(64);
const SITE = 'https://www.example.com';
export const CONFORMANCE_LIMITS: DirectoryLimits = { maxTtl: 3_600_000, defaultTtl: 600_000, maxPerHolder: 3, maxPerSite: 4, maxResults: 10 };

/** The one conformance suite every Directory backend passes. */
export function directoryConformance(name: string, factory: DirectoryFactory, opts: { skip?: string | false } = {}): void {
  const setup = async (t: { after: (fn: () => Promise<void>) => void }) => {
    const clock = FakeTimers.createClock(Date.parse('2026-01-01T00:00:00Z'));
    const { dir, close } = await factory(CONFORMANCE_LIMITS, () => clock.now);
    t.after(close);
    return { dir, clock };
  };
  const skip = opts.skip ?? false;

  test(`${name}: register, lookup by site and covering prefix, re-register replaces`, { skip }, async (t) => {
    const { dir, clock } = await setup(t);
    const e = await dir.register({ site: SITE, prefix: '/', version: 1, digest: D1, holder: 'http://127.0.0.1:9001/a.pwar' });
    assert.equal(e.expires, clock.now + CONFORMANCE_LIMITS.defaultTtl);
    await dir.register({ site: SITE, prefix: '/docs/', version: 2, digest: D2, holder: 'http://127.0.0.1:9002/d.pwar', ttl: 60_000 });
    await dir.register({ site: 'https://other.example', prefix: '/', version: 1, digest: D1, holder: 'http://127.0.0.1:9003/o.pwar' });
    const all = await dir.lookup(SITE);
    assert.deepEqual(all.map((x) => x.holder).sort(), ['http://127.0.0.1:9001/a.pwar', 'http://127.0.0.1:9002/d.pwar']);
    const docs = await dir.lookup(SITE, '/docs/page.html');
    assert.deepEqual(docs.map((x) => [x.prefix, x.version]), [['/docs/', 2], ['/', 1]], 'most specific prefix first');
    assert.deepEqual((await dir.lookup(SITE, '/img/')).map((x) => x.prefix), ['/']);
    const again = await dir.register({ site: SITE, prefix: '/', version: 3, digest: D2, holder: 'http://127.0.0.1:9001/a.pwar', ttl: 120_000 });
    assert.equal(again.version, 3);
    const root = (await dir.lookup(SITE, '/')).filter((x) => x.prefix === '/');
    assert.equal(root.length, 1);
    assert.deepEqual({ ...root[0] }, { site: SITE, prefix: '/', version: 3, digest: D2, holder: 'http://127.0.0.1:9001/a.pwar', expires: clock.now + 120_000 });
    assert.deepEqual(await dir.lookup('https://nobody.example'), []);
  });

  test(`${name}: entries expire with their TTL; TTLs are clamped; purge drops them`, { skip }, async (t) => {
    const { dir, clock } = await setup(t);
    const long = await dir.register({ site: SITE, prefix: '/', version: 1, digest: D1, holder: 'http://127.0.0.1:9001/x', ttl: 100 * 3_600_000 });
    assert.equal(long.expires, clock.now + CONFORMANCE_LIMITS.maxTtl);
    await dir.register({ site: SITE, prefix: '/', version: 1, digest: D1, holder: 'http://127.0.0.1:9002/x', ttl: 10_000 });
    clock.tick(10_000);
    assert.deepEqual((await dir.lookup(SITE)).map((x) => x.holder), ['http://127.0.0.1:9001/x']);
    clock.tick(CONFORMANCE_LIMITS.maxTtl);
    assert.deepEqual(await dir.lookup(SITE), []);
    assert.ok((await dir.purgeExpired()) >= 0);
    assert.deepEqual(await dir.lookup(SITE), []);
  });

  test(`${name}: per-holder and per-site caps bound registrations; expiry frees room`, { skip }, async (t) => {
    const { dir, clock } = await setup(t);
    for (let i = 0; i < 3; i++) await dir.register({ site: `https://s${i}.example`, prefix: '/', version: 1, digest: D1, holder: `http://127.0.0.1:9001/${i}`, ttl: 5000 });
    await assert.rejects(dir.register({ site: 'https://s9.example', prefix: '/', version: 1, digest: D1, holder: 'http://127.0.0.1:9001/9' }), (e) => isPeerwebError(e, 'PW_ERR_DIRECTORY_CAP'));
    // Refreshing an existing registration is not a new one.
    await dir.register({ site: 'https://s0.example', prefix: '/', version: 2, digest: D2, holder: 'http://127.0.0.1:9001/0', ttl: 5000 });
    for (let i = 0; i < 4; i++) await dir.register({ site: SITE, prefix: '/', version: 1, digest: D1, holder: `http://127.0.0.${i + 2}:8080/a` });
    await assert.rejects(dir.register({ site: SITE, prefix: '/', version: 1, digest: D1, holder: 'http://127.0.0.9:8080/a' }), (e) => isPeerwebError(e, 'PW_ERR_DIRECTORY_CAP'));
    clock.tick(5001);
    await dir.register({ site: 'https://s9.example', prefix: '/', version: 1, digest: D1, holder: 'http://127.0.0.1:9001/9' });
  });

  test(`${name}: unregister removes one registration`, { skip }, async (t) => {
    const { dir } = await setup(t);
    await dir.register({ site: SITE, prefix: '/', version: 1, digest: D1, holder: 'http://127.0.0.1:9001/x' });
    assert.equal(await dir.unregister(SITE, '/', 'http://127.0.0.1:9001/x'), true);
    assert.equal(await dir.unregister(SITE, '/', 'http://127.0.0.1:9001/x'), false);
    assert.deepEqual(await dir.lookup(SITE), []);
  });

  test(`${name}: malformed registrations are refused`, { skip }, async (t) => {
    const { dir } = await setup(t);
    const good = { site: SITE, prefix: '/', version: 1, digest: D1, holder: 'http://127.0.0.1:9001/x' };
    for (const bad of [
      { ...good, site: 'https://www.example.com/path' }, { ...good, site: 'ftp://x.example' }, { ...good, prefix: 'docs/' },
      { ...good, prefix: '/../' }, { ...good, digest: 'xyz' }, { ...good, version: -1 }, { ...good, version: 1.5 },
      { ...good, holder: 'http://user:pw@127.0.0.1/x' }, { ...good, holder: 'javascript:alert(1)' }, { ...good, ttl: 5 },
      { ...good, holder: `http://127.0.0.1/${'x'.repeat(3000)}` },
    ]) {
      await assert.rejects(dir.register(bad), (e) => isPeerwebError(e, 'PW_ERR_DIRECTORY_BAD_ENTRY'), JSON.stringify(bad).slice(0, 120));
    }
    await assert.rejects(dir.lookup('not a url'), (e) => isPeerwebError(e, 'PW_ERR_DIRECTORY_BAD_ENTRY'));
  });
}
