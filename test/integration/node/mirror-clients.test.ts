import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { hashPassword, newToken, pushFromOrigin } from '../../../src/mirror/index.js';
import { Agent, request } from 'undici';
import { waitFor } from '../../helpers/origin.js';
import { mirrorsListed, startPublisher } from '../../helpers/publisher.js';
const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

test('a mirror node restricted by credentials: 401 + WWW-Authenticate without them, 200 with a token or a password, its own rate bucket per credential, and the origin never locked out', async (t) => {
  const file = randomBytes(100_000);
  const { origin, key, originKey, start } = await startPublisher(t, { 'a.bin': file });
  const ci = newToken('ci');
  const alice = await hashPassword('alice', 'correct horse', { log2n: 10, r: 8, p: 1 });
  // Nothing exempt: the origin's audits and pushes come from 127.0.0.1 like every test client.
  const mirror = await start({
    'mirror.mirror': [origin.base], 'mirror.originKey': originKey, 'mirror.exemptClients': [],
    'mirror.clients.tokens': [ci.entry], 'mirror.clients.users': [alice], 'mirror.rate': 0.01, 'mirror.burst': 3,
  });
  // The first audit is refused (401) as anonymous, then sent signed by the publisher key and admitted.
  await waitFor(async () => (await mirrorsListed(origin)).length === 1, 'the restricted mirror to pass its audit and be listed', 20_000);
  const path = `/m/${new URL(origin.base).host}/a.bin`;
  // The test's client comes from another loopback address than the origin, so each has its own address bucket.
  const agent = new Agent({ localAddress: '127.0.0.2' });
  t.after(() => agent.close());
  const client = { get: async (p: string, headers: Record<string, string> = {}) => {
    const r = await request(`${mirror.base}${p}`, { dispatcher: agent, headers });
    return { status: r.statusCode, headers: r.headers, body: Buffer.from(await r.body.arrayBuffer()) };
  } };

  const withPassword = await client.get(path, { authorization: basic('alice', 'correct horse') });
  assert.equal(withPassword.status, 200);
  assert.ok(withPassword.body.equals(file));
  const none = await client.get(path);
  assert.equal(none.status, 401);
  assert.equal(none.headers['www-authenticate'], 'Bearer realm="peerweb mirror", Basic realm="peerweb mirror", charset="UTF-8"');
  const wrongToken = await client.get(path, { authorization: 'Bearer not-the-token' });
  assert.equal(wrongToken.status, 401);
  assert.match(String(wrongToken.headers['www-authenticate']), /error="invalid_token"/);
  // A password not seen before costs the address a token before it is hashed: three requests used the burst of 3.
  const guess = await client.get(path, { authorization: basic('alice', 'a guess') });
  assert.equal(guess.status, 429, 'guessing is rate-limited by address');
  assert.match(String(guess.headers['retry-after']), /^\d+$/);
  assert.equal((await client.get(path)).status, 429);

  // Credentialed clients have their own buckets (same rate), apart from the address.
  assert.equal((await client.get(path, { authorization: basic('alice', 'correct horse') })).status, 200, 'alice (checked once already) still gets in from the same address');
  const withToken: number[] = [];
  for (let i = 0; i < 4; i++) {
    const r = await client.get(path, { authorization: `Bearer ${ci.token}` });
    withToken.push(r.status);
    if (r.status === 200) assert.ok(r.body.equals(file));
    else assert.match(String(r.headers['retry-after']), /^\d+$/);
  }
  assert.deepEqual(withToken, [200, 200, 200, 429], 'burst 3, then 429 + Retry-After for the token');

  // A signed push from the origin passes every rule and limit, and is checked by the mirror as always.
  const pushed = await pushFromOrigin({ url: `${origin.base}/a.bin`, bases: [`${mirror.base}/m/${new URL(origin.base).host}/`], key, maxObjectSize: 1 << 20, timeoutMs: 5000 });
  assert.deepEqual(pushed.map((p) => p.status), [204]);
  // The origin still audits it: a report leads to a (signed) audit that passes.
  const report = await fetch(`${origin.base}/.well-known/peerweb/reports`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ url: `${origin.base}/a.bin`, mirror: `${mirror.base}${path}` }) });
  assert.deepEqual(await report.json(), { audited: true, verdict: 'pass', state: 'live' });
});

test('a mirror node with address ranges and credentials lets a client in when either matches', async (t) => {
  const { origin, originKey, start } = await startPublisher(t, { 'a.txt': 'hello' });
  const ci = newToken('ci');
  const common = { 'mirror.mirror': [origin.base], 'mirror.originKey': originKey, 'mirror.exemptClients': [], 'mirror.clients.tokens': [ci.entry] };
  const inRange = await start({ ...common, 'mirror.allowClients': ['127.0.0.0/8'] });
  const outOfRange = await start({ ...common, 'mirror.allowClients': ['10.0.0.0/8'] });
  const path = `/m/${new URL(origin.base).host}/a.txt`;
  await waitFor(async () => (await inRange.get(path)).status === 200, 'the mirror in range to have synced', 20_000);
  assert.equal((await inRange.get(path, { authorization: 'Bearer wrong' })).status, 200, 'the address matches: bad credentials do not matter');
  await waitFor(async () => (await outOfRange.get(path, { authorization: `Bearer ${ci.token}` })).status === 200, 'the token to open the other mirror', 20_000);
  const anon = await outOfRange.get(path);
  assert.equal(anon.status, 401, 'outside the range and without credentials: 401, since credentials would do');
  assert.match(String(anon.headers['www-authenticate']), /^Bearer realm=/);
});
