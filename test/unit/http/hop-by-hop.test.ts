import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Fields, HOP_BY_HOP, stripHopByHop, appendVia, viaHasPseudonym } from '../../../src/http/index.js';

test('HOP_BY_HOP holds the connection-specific names', () => {
  for (const n of ['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'proxy-authenticate', 'proxy-authorization']) {
    assert.ok(HOP_BY_HOP.has(n), n);
  }
  assert.equal(HOP_BY_HOP.has('content-length'), false);
});

test('stripHopByHop removes listed fields and those named in Connection', () => {
  const f = new Fields([
    ['Connection', 'close, X-Foo'],
    ['Connection', 'x-bar'],
    ['X-Foo', '1'],
    ['X-Bar', '2'],
    ['Keep-Alive', 'timeout=5'],
    ['TE', 'trailers'],
    ['Transfer-Encoding', 'chunked'],
    ['Content-Type', 'text/plain'],
    ['X-Baz', '3'],
  ]);
  stripHopByHop(f);
  assert.deepEqual(f.toJSON(), [['Content-Type', 'text/plain'], ['X-Baz', '3']]);
});

test('Via: append and loop detection', () => {
  const f = new Fields([['Via', '1.0 fred, 1.1 p.example (Apache/1.1, x)']]);
  appendVia(f, 1, 'pw-node1');
  assert.equal(f.get('via'), '1.0 fred, 1.1 p.example (Apache/1.1, x), 1.1 pw-node1');
  assert.equal(viaHasPseudonym(f, 'pw-node1'), true);
  assert.equal(viaHasPseudonym(f, 'PW-NODE1'), true);
  assert.equal(viaHasPseudonym(f, 'fred'), true);
  assert.equal(viaHasPseudonym(f, 'x'), false);
  assert.equal(viaHasPseudonym(f, 'Apache/1.1'), false);
  assert.equal(viaHasPseudonym(new Fields(), 'fred'), false);
  const g = new Fields();
  appendVia(g, 0, 'a');
  assert.equal(g.get('via'), '1.0 a');
});
