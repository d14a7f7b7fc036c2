/**
 * Structured Field Values (RFC 8941): strict parsing and serialisation of Items, Lists and
 * Dictionaries. Integers are JS numbers; decimals are `SfDecimal`; strings are JS strings; tokens
 * are `SfToken`; byte sequences are `Uint8Array` (a Buffer when parsed); booleans are booleans.
 */
import { PeerwebError } from '../errors/index.js';

export class SfToken {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

export class SfDecimal {
  constructor(readonly value: number) {}
  valueOf(): number {
    return this.value;
  }
}

export type SfBareItem = number | SfDecimal | string | SfToken | Uint8Array | boolean;
export type SfParams = Map<string, SfBareItem>;
export interface SfItem { value: SfBareItem; params: SfParams }
export interface SfInnerList { items: SfItem[]; params: SfParams }
export type SfMember = SfItem | SfInnerList;
export type SfList = SfMember[];
export type SfDictionary = Map<string, SfMember>;

export function isInnerList(m: SfMember): m is SfInnerList {
  return 'items' in m;
}

/** Convenience constructor: an item with optional parameters. */
export function sfItem(value: SfBareItem, params?: Iterable<readonly [string, SfBareItem]>): SfItem {
  return { value, params: new Map(params ?? []) };
}

/** Upper bound on members, parameters and inner-list items in one field value. */
const MAX_MEMBERS = 1024;

class Parser {
  pos = 0;
  constructor(readonly s: string) {}

  fail(reason: string): never {
    const shown = this.s.length > 80 ? `${this.s.slice(0, 80)}…` : this.s;
    throw new PeerwebError('PW_ERR_SF_PARSE', { value: JSON.stringify(shown), reason: `${reason} at offset ${this.pos}` });
  }
  peek(): string {
    return this.s[this.pos] ?? '';
  }
  eof(): boolean {
    return this.pos >= this.s.length;
  }
  sp(): void {
    while (this.s[this.pos] === ' ') this.pos++;
  }
  ows(): void {
    while (this.s[this.pos] === ' ' || this.s[this.pos] === '\t') this.pos++;
  }

  list(): SfList {
    const out: SfList = [];
    while (!this.eof()) {
      out.push(this.itemOrInnerList());
      if (out.length > MAX_MEMBERS) this.fail('too many list members');
      this.ows();
      if (this.eof()) return out;
      if (this.peek() !== ',') this.fail('expected a comma');
      this.pos++;
      this.ows();
      if (this.eof()) this.fail('trailing comma');
    }
    return out;
  }

  dictionary(): SfDictionary {
    const out: SfDictionary = new Map();
    while (!this.eof()) {
      const key = this.key();
      let member: SfMember;
      if (this.peek() === '=') {
        this.pos++;
        member = this.itemOrInnerList();
      } else {
        member = { value: true, params: this.params() };
      }
      out.set(key, member);
      if (out.size > MAX_MEMBERS) this.fail('too many dictionary members');
      this.ows();
      if (this.eof()) return out;
      if (this.peek() !== ',') this.fail('expected a comma');
      this.pos++;
      this.ows();
      if (this.eof()) this.fail('trailing comma');
    }
    return out;
  }

  itemOrInnerList(): SfMember {
    return this.peek() === '(' ? this.innerList() : this.item();
  }

  innerList(): SfInnerList {
    this.pos++; // (
    const items: SfItem[] = [];
    while (!this.eof()) {
      this.sp();
      if (this.peek() === ')') {
        this.pos++;
        return { items, params: this.params() };
      }
      items.push(this.item());
      if (items.length > MAX_MEMBERS) this.fail('too many inner-list items');
      const c = this.peek();
      if (c !== ' ' && c !== ')') this.fail('expected a space or ")" in an inner list');
    }
    return this.fail('unterminated inner list');
  }

  item(): SfItem {
    const value = this.bareItem();
    return { value, params: this.params() };
  }

  params(): SfParams {
    const out: SfParams = new Map();
    while (this.peek() === ';') {
      this.pos++;
      this.sp();
      const key = this.key();
      let value: SfBareItem = true;
      if (this.peek() === '=') {
        this.pos++;
        value = this.bareItem();
      }
      out.set(key, value);
      if (out.size > MAX_MEMBERS) this.fail('too many parameters');
    }
    return out;
  }

  key(): string {
    const start = this.pos;
    const c = this.peek();
    if (!/^[a-z*]$/.test(c)) this.fail('expected a key');
    this.pos++;
    while (/^[a-z0-9_\-.*]$/.test(this.peek())) this.pos++;
    return this.s.slice(start, this.pos);
  }

  bareItem(): SfBareItem {
    const c = this.peek();
    if (c === '-' || (c >= '0' && c <= '9' && c !== '')) return this.number();
    if (c === '"') return this.string();
    if (c === '*' || /^[A-Za-z]$/.test(c)) return this.token();
    if (c === ':') return this.bytes();
    if (c === '?') return this.boolean();
    return this.fail('expected an item');
  }

  number(): number | SfDecimal {
    const m = /^(-?)([0-9]+)(\.[0-9]*)?/.exec(this.s.slice(this.pos, this.pos + 20));
    if (!m) return this.fail('expected a digit');
    const [all, , intPart = '', frac] = m;
    if (frac === undefined) {
      if (intPart.length > 15) this.fail('integer longer than 15 digits');
      this.pos += all.length;
      return Number(all);
    }
    if (intPart.length > 12) this.fail('decimal integer part longer than 12 digits');
    if (frac.length < 2) this.fail('decimal without fraction digits');
    if (frac.length > 4) this.fail('decimal with more than 3 fraction digits');
    this.pos += all.length;
    return new SfDecimal(Number(all));
  }

  string(): string {
    this.pos++; // "
    let out = '';
    while (!this.eof()) {
      const ch = this.s[this.pos++] as string;
      const code = ch.charCodeAt(0);
      if (ch === '\\') {
        const next = this.s[this.pos++];
        if (next !== '"' && next !== '\\') this.fail('bad escape in a string');
        out += next;
      } else if (ch === '"') {
        return out;
      } else if (code < 0x20 || code > 0x7e) {
        this.fail('non-printable character in a string');
      } else {
        out += ch;
      }
    }
    return this.fail('unterminated string');
  }

  token(): SfToken {
    const start = this.pos;
    this.pos++;
    while (/^[!#$%&'*+\-.^_`|~0-9A-Za-z:/]$/.test(this.peek())) this.pos++;
    return new SfToken(this.s.slice(start, this.pos));
  }

  bytes(): Buffer {
    this.pos++; // :
    const end = this.s.indexOf(':', this.pos);
    if (end < 0) this.fail('unterminated byte sequence');
    const b64 = this.s.slice(this.pos, end);
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64)) this.fail('bad base64 in a byte sequence');
    this.pos = end + 1;
    return Buffer.from(b64, 'base64');
  }

  boolean(): boolean {
    this.pos++; // ?
    const c = this.peek();
    if (c !== '0' && c !== '1') this.fail('expected ?0 or ?1');
    this.pos++;
    return c === '1';
  }

  finish(): void {
    this.sp();
    if (!this.eof()) this.fail('unexpected characters after the value');
  }
}

function parser(value: string): Parser {
  const p = new Parser(value);
  p.sp();
  return p;
}

/** Parses a List field value; throws PW_ERR_SF_PARSE on any syntax error. */
export function parseSfList(value: string): SfList {
  const p = parser(value);
  const out = p.list();
  p.finish();
  return out;
}

/** Parses a Dictionary field value; throws PW_ERR_SF_PARSE on any syntax error. */
export function parseSfDictionary(value: string): SfDictionary {
  const p = parser(value);
  const out = p.dictionary();
  p.finish();
  return out;
}

/** Parses an Item field value; throws PW_ERR_SF_PARSE on any syntax error (an empty value too). */
export function parseSfItem(value: string): SfItem {
  const p = parser(value);
  const out = p.item();
  p.finish();
  return out;
}

// ---- serialisation (RFC 8941 §4.1) ----

function bad(reason: string): never {
  throw new PeerwebError('PW_ERR_SF_SERIALIZE', { reason });
}

function serKey(k: string): string {
  if (!/^[a-z*][a-z0-9_\-.*]*$/.test(k)) bad(`key ${JSON.stringify(k)} is not lower-case alphanumeric`);
  return k;
}

/** Rounds to 3 decimal places, ties to even, as RFC 8941 §4.1.5 asks. */
function roundDecimal(n: number): number {
  const scaled = n * 1000;
  const floor = Math.floor(scaled);
  const diff = scaled - floor;
  let r: number;
  if (Math.abs(diff - 0.5) < 1e-9) r = floor % 2 === 0 ? floor : floor + 1;
  else r = Math.round(scaled);
  return r / 1000;
}

function serDecimal(n: number): string {
  if (!Number.isFinite(n)) bad(`decimal ${n} is not finite`);
  const r = roundDecimal(n);
  if (Math.abs(Math.trunc(r)) > 999_999_999_999) bad(`decimal ${n} has more than 12 integer digits`);
  let s = r.toFixed(3).replace(/0+$/, '');
  if (s.endsWith('.')) s += '0';
  if (s === '-0.0') s = '0.0';
  return s;
}

export function serializeSfBareItem(v: SfBareItem): string {
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) return serDecimal(v);
    if (Math.abs(v) > 999_999_999_999_999) bad(`integer ${v} has more than 15 digits`);
    return String(v);
  }
  if (v instanceof SfDecimal) return serDecimal(v.value);
  if (typeof v === 'string') {
    if (!/^[\x20-\x7e]*$/.test(v)) bad('string contains non-printable or non-ASCII characters');
    return `"${v.replace(/["\\]/g, '\\$&')}"`;
  }
  if (v instanceof SfToken) {
    if (!/^[A-Za-z*][!#$%&'*+\-.^_`|~0-9A-Za-z:/]*$/.test(v.value)) bad(`token ${JSON.stringify(v.value)} is invalid`);
    return v.value;
  }
  if (typeof v === 'boolean') return v ? '?1' : '?0';
  if (v instanceof Uint8Array) return `:${Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64')}:`;
  return bad('unknown item type');
}

function serParams(params: SfParams | undefined): string {
  let s = '';
  if (!params) return s;
  for (const [k, v] of params) s += v === true ? `;${serKey(k)}` : `;${serKey(k)}=${serializeSfBareItem(v)}`;
  return s;
}

/** Serialises an Item (bare value plus parameters). */
export function serializeSfItem(item: SfItem | SfBareItem): string {
  if (isItemObject(item)) return serializeSfBareItem(item.value) + serParams(item.params);
  return serializeSfBareItem(item);
}

function isItemObject(x: unknown): x is SfItem {
  return typeof x === 'object' && x !== null && 'value' in x && 'params' in x && !(x instanceof SfToken) && !(x instanceof SfDecimal);
}

function serMember(m: SfMember): string {
  if (isInnerList(m)) return `(${m.items.map((i) => serializeSfItem(i)).join(' ')})${serParams(m.params)}`;
  return serializeSfItem(m);
}

/** Serialises a List. */
export function serializeSfList(list: readonly SfMember[]): string {
  return list.map(serMember).join(', ');
}

/** Serialises a Dictionary (a boolean true member is written as the bare key, with its parameters). */
export function serializeSfDictionary(dict: ReadonlyMap<string, SfMember> | Readonly<Record<string, SfMember>>): string {
  const entries = dict instanceof Map ? [...dict.entries()] : Object.entries(dict);
  return entries
    .map(([k, m]) => (!isInnerList(m) && m.value === true ? `${serKey(k)}${serParams(m.params)}` : `${serKey(k)}=${serMember(m)}`))
    .join(', ');
}
