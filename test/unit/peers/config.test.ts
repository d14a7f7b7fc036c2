import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../../../src/config/index.js';
import { isPeerwebError } from '../../../src/errors/index.js';
import { peersFromConfig, icpAccessFromConfig } from '../../../src/peers/index.js';
import { parseFlags } from '../../../src/cli/flags.js';

test('peer flags become peers and policy', () => {
  const flags = parseFlags(['--icp', '127.0.0.1:3130', '--sibling', 'sib.example:3128:3130', '--sibling', '10.0.0.2:8080', '--parent', 'up.example:3128:3130', '--array', '10.1.0.1:80,10.1.0.2:80', '--array', '10.1.0.3:80']);
  const config = loadConfig({ values: { ...flags.values, 'peers.neverDirect': 'true', 'peers.alwaysDirect': 'Intranet.example,.corp.example' } });
  assert.deepEqual(config['peers.icp'], { host: '127.0.0.1', port: 3130 });
  const { peers, policy } = peersFromConfig(config);
  assert.deepEqual(peers.map((p) => [p.name, p.role, p.httpPort, p.icpPort]), [
    ['sib.example:3128', 'sibling', 3128, 3130], ['10.0.0.2:8080', 'sibling', 8080, undefined],
    ['up.example:3128', 'parent', 3128, 3130],
    ['10.1.0.1:80', 'array-member', 80, undefined], ['10.1.0.2:80', 'array-member', 80, undefined], ['10.1.0.3:80', 'array-member', 80, undefined],
  ]);
  assert.equal(policy.neverDirect, true);
  assert.deepEqual(policy.alwaysDirect, ['intranet.example', 'corp.example']);
  assert.equal(policy.icpTimeoutMs, 2000);
  const access = icpAccessFromConfig(config);
  assert.ok(access('10.0.0.2') && access('127.0.0.5') && !access('192.0.2.1'));
});

test('peers.list entries from a config file are validated', () => {
  const config = loadConfig({ values: { peers: { list: [{ host: 'p.example', httpPort: 3128, icpPort: 3130, role: 'parent', weight: 3, name: 'p1', options: { noQuery: true } }] } } });
  assert.deepEqual(config['peers.list'][0], { name: 'p1', host: 'p.example', httpPort: 3128, icpPort: 3130, role: 'parent', weight: 3, options: { noQuery: true } });
  const bad: unknown[] = [
    { host: 'p.example', httpPort: 0 }, { host: 'bad host', httpPort: 80 }, { host: 'p', httpPort: 80, role: 'cousin' },
    { host: 'p', httpPort: 80, weight: -1 }, { host: 'p', httpPort: 80, options: { fast: true } }, { host: 'p', httpPort: 80, extra: 1 },
    { host: 'p', httpPort: 80, role: 'sibling', options: { echo: true } },
  ];
  for (const b of bad) {
    assert.throws(() => loadConfig({ values: { 'peers.list': [b] } }), (e: unknown) => isPeerwebError(e, 'PW_ERR_CONFIG_INVALID') && /peers\.list/.test((e as Error).message), JSON.stringify(b));
  }
  for (const [key, v] of [['peers.siblings', ['host-only']], ['peers.parents', ['h:99999']], ['peers.array', 'a:1,b'], ['peers.icp', 'nope'], ['peers.icpTimeout', '1ms'], ['peers.alwaysDirect', ['bad domain']]] as const) {
    assert.throws(() => loadConfig({ values: { [key]: v } }), (e: unknown) => isPeerwebError(e, 'PW_ERR_CONFIG_INVALID'), key);
  }
});
