import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  parseSfItem,
  parseSfList,
  parseSfDictionary,
  serializeSfItem,
  serializeSfList,
  serializeSfDictionary,
  SfToken,
  SfDecimal,
  sfItem,
  isInnerList,
  type SfItem,
} from '../../../src/http/index.js';
import { isPeerwebError } from '../../../src/errors/index.js';

function throwsSf(fn: () => unknown): void {
  assert.throws(fn, (e: unknown) => isPeerwebError(e, 'PW_ERR_SF_PARSE'));
}

test('items: each bare type', () => {
  assert.equal(parseSfItem('42').value, 42);
  assert.equal(parseSfItem('-42').value, -42);
  assert.equal(parseSfItem('999999999999999').value, 999999999999999);
  const d = parseSfItem('4.5').value;
  assert.ok(d instanceof SfDecimal);
  assert.equal(Number(d), 4.5);
  assert.equal(parseSfItem('"he said \\"hi\\" \\\\"').value, 'he said "hi" \\');
  const t = parseSfItem('foo/bar:baz*').value;
  assert.ok(t instanceof SfToken);
  assert.equal(t.value, 'foo/bar:baz*');
  assert.equal(parseSfItem('?1').value, true);
  assert.equal(parseSfItem('?0').value, false);
  assert.deepEqual(Buffer.from(parseSfItem(':aGVsbG8=:').value as Uint8Array), Buffer.from('hello'));
  assert.equal(parseSfItem('  1  ').value, 1);
});

test('items: parameters', () => {
  const it = parseSfItem('text/html;charset=utf-8;q=0.5;x');
  assert.equal(String(it.value), 'text/html');
  assert.equal(String(it.params.get('charset')), 'utf-8');
  assert.equal(Number(it.params.get('q')), 0.5);
  assert.equal(it.params.get('x'), true);
  assert.equal(parseSfItem('1; a=1; a=2').params.get('a'), 2);
});

const badItems = [
  '', '1000000000000000', '1234567890123.0', '1.2345', '1.', '-', '--1', '"unterminated', '"bad \\x escape"',
  '"tab\there"', '"\u00e9"', ':not base64!:', ':abc', '?2', '?', 'a b', '1;A=1', '1;=1', '(1', '1,', '@',
  '1 2', '1;a=', 'é',
];
for (const v of badItems) {
  test(`item ${JSON.stringify(v)} is rejected`, () => throwsSf(() => parseSfItem(v)));
}

test('lists with inner lists', () => {
  const l = parseSfList('"/docs/", "/img/"; base="https://me.example/m/", (a b);q=1, ()');
  assert.equal(l.length, 4);
  assert.equal((l[0] as SfItem).value, '/docs/');
  assert.equal((l[1] as SfItem).params.get('base'), 'https://me.example/m/');
  const inner = l[2];
  assert.ok(inner && isInnerList(inner));
  assert.deepEqual(inner.items.map((i) => String(i.value)), ['a', 'b']);
  assert.equal(inner.params.get('q'), 1);
  const empty = l[3];
  assert.ok(empty && isInnerList(empty) && empty.items.length === 0);
  assert.deepEqual(parseSfList(''), []);
  assert.deepEqual(parseSfList('1,\t2').map((m) => (m as SfItem).value), [1, 2]);
});

for (const v of ['1,', ',1', '1,,2', '1 2', '(1 2', '(1,2)', '1;']) {
  test(`list ${JSON.stringify(v)} is rejected`, () => throwsSf(() => parseSfList(v)));
}

test('dictionaries', () => {
  const d = parseSfDictionary('sha-256=:AAAA:, a, b=?0, c=(1 2);p, d;x=1, a=2');
  assert.deepEqual([...d.keys()], ['sha-256', 'a', 'b', 'c', 'd']);
  assert.equal((d.get('a') as SfItem).value, 2); // last value wins, first position kept
  assert.equal((d.get('d') as SfItem).value, true);
  assert.equal((d.get('d') as SfItem).params.get('x'), 1);
  assert.deepEqual(parseSfDictionary('').size, 0);
});

for (const v of ['A=1', 'a=1,', 'a=1 b=2', '=1', 'a=', '1=a']) {
  test(`dictionary ${JSON.stringify(v)} is rejected`, () => throwsSf(() => parseSfDictionary(v)));
}

test('serialisation round-trips', () => {
  for (const v of ['1', '-1', '4.5', '"a \\"b\\""', 'tok/x', '?1', '?0', ':aGk=:', '1;a;b=?0;c="x"', '0.0']) {
    assert.equal(serializeSfItem(parseSfItem(v)), v);
  }
  const list = '"/docs/", "/img/";base="https://me.example/m/", (a b);q=1, ()';
  assert.equal(serializeSfList(parseSfList(list)), list);
  const dict = 'sha-256=:AAAA:, a, b=?0, c=(1 2);p, d;x=1';
  assert.equal(serializeSfDictionary(parseSfDictionary(dict)), dict);
});

test('serialisation of JS values', () => {
  assert.equal(serializeSfItem(1.0001), '1.0');
  assert.equal(serializeSfItem(1.0005), '1.0');
  assert.equal(serializeSfItem(1.0015), '1.002');
  assert.equal(serializeSfItem(new SfDecimal(2)), '2.0');
  assert.equal(serializeSfItem(sfItem(new SfToken('a'), [['q', 0.5]])), 'a;q=0.5');
  assert.equal(serializeSfDictionary({ x: sfItem(true), y: sfItem(Buffer.from('hi')) }), 'x, y=:aGk=:');
  const bad = (fn: () => unknown): void => assert.throws(fn, (e: unknown) => isPeerwebError(e, 'PW_ERR_SF_SERIALIZE'));
  bad(() => serializeSfItem(1e15));
  bad(() => serializeSfItem(1e13 + 0.5));
  bad(() => serializeSfItem('é'));
  bad(() => serializeSfItem(new SfToken('1abc')));
  bad(() => serializeSfDictionary({ Upper: sfItem(1) }));
  bad(() => serializeSfItem(Number.NaN));
});
