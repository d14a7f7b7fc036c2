import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  parseRange,
  contentRange,
  contentRangeUnsatisfied,
  parseContentRange,
  multipartByteranges,
  multipartBody,
  type RangeResult,
} from '../../../src/http/index.js';

const r = (...pairs: [number, number][]): RangeResult => ({ kind: 'ranges', ranges: pairs.map(([start, end]) => ({ start, end })) });
const NONE: RangeResult = { kind: 'none' };
const UNSAT: RangeResult = { kind: 'unsatisfiable' };

const cases: [string | undefined, number, RangeResult][] = [
  [undefined, 100, NONE],
  ['bytes=0-9', 100, r([0, 9])],
  ['BYTES=0-9', 100, r([0, 9])],
  ['bytes=10-', 100, r([10, 99])],
  ['bytes=-10', 100, r([90, 99])],
  ['bytes=-1000', 100, r([0, 99])],
  ['bytes=50-1000', 100, r([50, 99])],
  ['bytes=0-0', 1, r([0, 0])],
  ['bytes= 0-1 , 5-6', 100, r([0, 1], [5, 6])],
  ['bytes=5-6,0-1', 100, r([0, 1], [5, 6])],
  ['bytes=0-10,5-20', 100, r([0, 20])],
  ['bytes=0-10,11-20', 100, r([0, 20])],
  ['bytes=0-1,0-1,0-1,0-1', 100, r([0, 1])],
  ['bytes=0-0,2-2,4-4', 100, NONE], // more than maxRanges after merging
  ['bytes=100-', 100, UNSAT],
  ['bytes=200-300', 100, UNSAT],
  ['bytes=-0', 100, UNSAT],
  ['bytes=0-', 0, UNSAT],
  ['bytes=-5', 0, UNSAT],
  ['bytes=200-300, 0-1', 100, r([0, 1])],
  ['bytes=5-1', 100, NONE],
  ['bytes=abc', 100, NONE],
  ['bytes=-', 100, NONE],
  ['bytes=', 100, NONE],
  ['bytes=1-2-3', 100, NONE],
  ['bytes=0x1-2', 100, NONE],
  ['items=0-9', 100, NONE],
  ['bytes 0-9', 100, NONE],
  ['bytes=0-99999999999999999999', 100, r([0, 99])],
  ['bytes=99999999999999999999-', 100, UNSAT],
  [`bytes=${Array.from({ length: 300 }, (_, i) => `${i}-${i}`).join(',')}`, 1000, NONE],
];
for (const [value, size, want] of cases) {
  test(`parseRange(${String(value).slice(0, 40)}, ${size})`, () => assert.deepEqual(parseRange(value, size, 2), want));
}

test('many overlapping ranges collapse into one (no amplification)', () => {
  const v = `bytes=${Array.from({ length: 200 }, () => '0-99').join(',')}`;
  assert.deepEqual(parseRange(v, 100, 1), r([0, 99]));
});

test('Content-Range helpers', () => {
  assert.equal(contentRange(0, 9, 100), 'bytes 0-9/100');
  assert.equal(contentRangeUnsatisfied(100), 'bytes */100');
  assert.deepEqual(parseContentRange('bytes 0-9/100'), { start: 0, end: 9, size: 100 });
  assert.deepEqual(parseContentRange('bytes 0-9/*'), { start: 0, end: 9 });
  assert.deepEqual(parseContentRange('bytes */100'), { size: 100 });
  assert.equal(parseContentRange('bytes 9-0/100'), undefined);
  assert.equal(parseContentRange('bytes 0-100/100'), undefined);
  assert.equal(parseContentRange('bytes */*'), undefined);
  assert.equal(parseContentRange('items 0-1/2'), undefined);
});

test('multipart/byteranges framing', () => {
  const body = Buffer.from('0123456789');
  const plan = multipartByteranges([{ start: 0, end: 1 }, { start: 5, end: 7 }], 10, 'text/plain', 'BND');
  assert.equal(plan.contentType, 'multipart/byteranges; boundary=BND');
  const all = Buffer.concat(multipartBody(plan, body)).toString('latin1');
  assert.equal(
    all,
    '--BND\r\nContent-Type: text/plain\r\nContent-Range: bytes 0-1/10\r\n\r\n01' +
      '\r\n--BND\r\nContent-Type: text/plain\r\nContent-Range: bytes 5-7/10\r\n\r\n567' +
      '\r\n--BND--\r\n',
  );
  assert.equal(plan.length, Buffer.byteLength(all, 'latin1'));
  const noType = multipartByteranges([{ start: 0, end: 0 }], 10, undefined);
  assert.match(noType.boundary, /^[A-Za-z0-9]+$/);
  assert.equal(noType.parts[0]?.head.toString().includes('Content-Type'), false);
  assert.notEqual(multipartByteranges([], 1, undefined).boundary, noType.boundary);
});
