import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createClientAuth, hashPassword, newToken, type AuthOutcome } from '../../../src/mirror/index.js';
import { loadConfig } from '../../../src/config/index.js';
import { PeerwebError } from '../../../src/errors/index.js';

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
const cheap = { log2n: 10, r: 8, p: 1 };

test('client credentials: bearer tokens by SHA-256, Basic users by scrypt, challenges for 401', async () => {
  const ci = newToken('ci');
  assert.match(ci.entry, /^ci:sha256:[0-9a-f]{64}$/);
  assert.ok(!ci.entry.includes(ci.token), 'the config entry never holds the token');
  const other = newToken('other');
  const alice = await hashPassword('alice', 'correct horse', cheap);
  assert.match(alice, /^alice:scrypt:10:8:1:[A-Za-z0-9_-]{22}:[A-Za-z0-9_-]{43}$/);
  assert.ok(!alice.includes('correct horse'));
  const auth = createClientAuth({ tokens: [ci.entry, other.entry], users: [alice] });

  assert.deepEqual(auth.check(`Bearer ${ci.token}`), { kind: 'ok', identity: { id: 'token:ci' } });
  assert.deepEqual(auth.check(`bearer ${other.token}`), { kind: 'ok', identity: { id: 'token:other' } }, 'the scheme is case-insensitive');
  assert.deepEqual(auth.check(`Bearer ${ci.token}x`), { kind: 'invalid', scheme: 'bearer' });
  assert.deepEqual(auth.check(undefined), { kind: 'missing' });
  assert.deepEqual(auth.check('Digest username="alice"'), { kind: 'invalid', scheme: 'other' });

  const good = auth.check(basic('alice', 'correct horse'));
  assert.ok(good instanceof Promise, 'a password not seen before is hashed off the event loop');
  assert.deepEqual(await good, { kind: 'ok', identity: { id: 'user:alice' } });
  assert.deepEqual(auth.check(basic('alice', 'correct horse')), { kind: 'ok', identity: { id: 'user:alice' } }, 'then remembered: answered at once');
  assert.deepEqual(await auth.check(basic('alice', 'wrong')), { kind: 'invalid', scheme: 'basic' });
  assert.deepEqual(await auth.check(basic('mallory', 'correct horse')), { kind: 'invalid', scheme: 'basic' }, 'unknown users fail like wrong passwords');
  assert.deepEqual(auth.check(`Basic ${Buffer.from('no-colon').toString('base64')}`), { kind: 'invalid', scheme: 'basic' });

  assert.equal(auth.challenge(), 'Bearer realm="peerweb mirror", Basic realm="peerweb mirror", charset="UTF-8"');
  assert.match(auth.challenge({ kind: 'invalid', scheme: 'bearer' }), /^Bearer realm="peerweb mirror", error="invalid_token", Basic/);
  assert.equal(createClientAuth({ tokens: [ci.entry], users: [] }).challenge(), 'Bearer realm="peerweb mirror"');
});

test('client credentials: at most N passwords are hashed at once; more are answered busy', async () => {
  const alice = await hashPassword('alice', 'pw', cheap);
  const auth = createClientAuth({ tokens: [], users: [alice], maxConcurrent: 2 });
  const a = auth.check(basic('alice', 'guess1'));
  const b = auth.check(basic('alice', 'guess2'));
  const c = auth.check(basic('alice', 'guess3'));
  assert.ok(a instanceof Promise && b instanceof Promise);
  assert.deepEqual(c, { kind: 'busy' } satisfies AuthOutcome);
  await Promise.all([a, b]);
  assert.ok(auth.check(basic('alice', 'guess3')) instanceof Promise, 'free again once they are done');
});

test('client credentials: bad entries are refused at start, naming the key and never echoing the secret part', async () => {
  const bad: [string, Record<string, unknown>, RegExp][] = [
    ['mirror.clients.tokens', { 'mirror.clients.tokens': ['ci:sha256:abc'] }, /NAME:sha256:HEX/],
    ['mirror.clients.tokens', { 'mirror.clients.tokens': ['plain-token-here'] }, /NAME:sha256:HEX/],
    ['mirror.clients.users', { 'mirror.clients.users': ['alice:password'] }, /NAME:scrypt/],
  ];
  for (const [key, values, reason] of bad) {
    assert.throws(() => loadConfig({ values }), (err: unknown) => err instanceof PeerwebError && err.code === 'PW_ERR_CONFIG_INVALID' && err.message.includes(key) && reason.test(err.message), key);
  }
  const entry = await hashPassword('alice', 'pw', cheap);
  const tooCostly = entry.replace(':scrypt:10:', ':scrypt:20:').replace(':8:1:', ':32:1:');
  assert.throws(() => createClientAuth({ tokens: [], users: [tooCostly] }), (err: unknown) => err instanceof PeerwebError && /mirror\.clients\.users/.test(err.message) && /memory/.test(err.message) && !err.message.includes(entry.split(':')[6] as string));
  const t = newToken('ci');
  assert.throws(() => createClientAuth({ tokens: [t.entry, t.entry], users: [] }), /names must be unique/);
  assert.throws(() => newToken('bad name'), /credential name/);
});

test('peerweb mirror credential prints entries that a mirror accepts', async () => {
  const { main } = await import('../../../src/cli/main.js');
  const run = async (argv: string[], env: Record<string, string> = {}) => {
    let out = '';
    let err = '';
    const code = await main(argv, { stdout: { write: (s: string) => { out += s; return true; } }, stderr: { write: (s: string) => { err += s; return true; } }, env });
    return { code, out, err };
  };
  const tok = await run(['mirror', 'credential', '--token', 'ci']);
  assert.equal(tok.code, 0);
  const [, token = '', entry = ''] = /Authorization: Bearer TOKEN"\):\n {2}(\S+)\n\nAdd to mirror\.clients\.tokens:\n {2}(\S+)\n/.exec(tok.out) ?? [];
  const user = await run(['mirror', 'credential', '--user', 'alice', '--password-env', 'PW', '--cost', '10'], { PW: 'correct horse' });
  assert.equal(user.code, 0);
  const userEntry = /Add to mirror\.clients\.users:\n {2}(\S+)\n/.exec(user.out)?.[1] ?? '';
  const auth = createClientAuth({ tokens: [entry], users: [userEntry] });
  assert.deepEqual(auth.check(`Bearer ${token}`), { kind: 'ok', identity: { id: 'token:ci' } });
  assert.deepEqual(await auth.check(basic('alice', 'correct horse')), { kind: 'ok', identity: { id: 'user:alice' } });
  const bad = await run(['mirror', 'credential', '--token', 'a', '--user', 'b']);
  assert.equal(bad.code, 2);
  assert.match(bad.err, /exactly one of --token NAME or --user NAME/);
  assert.equal((await run(['mirror', 'credential', '--user', 'alice', '--password-env', 'NOPE'])).code, 2);
});
