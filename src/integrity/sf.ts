/**
 * A small strict parser/serialiser for the RFC 8941 structured fields this folder needs
 * (dictionaries of items and inner lists with parameters). Kept private to `integrity/` until
 * the shared parsers in `http/` cover the same ground.
 */

export type BareItem = number | string | boolean | Uint8Array | Token;
export class Token {
  constructor(readonly value: string) {}
}
export type Params = Map<string, BareItem>;
export interface Item { readonly value: BareItem; readonly params: Params }
export interface InnerList { readonly items: Item[]; readonly params: Params }
export type Member = Item | InnerList;
export type Dictionary = Map<string, Member>;

export class SfError extends Error {}

const MAX_FIELD = 16 * 1024;
const MAX_MEMBERS = 64;

class Parser {
  i = 0;
  constructor(readonly s: string) {}
  peek(): string | undefined {
    return this.s[this.i];
  }
  fail(reason: string): never {
    throw new SfError(`${reason} at offset ${this.i}`);
  }
  ows(): void {
    while (this.s[this.i] === ' ' || this.s[this.i] === '\t') this.i++;
  }
  sp(): void {
    while (this.s[this.i] === ' ') this.i++;
  }
  key(): string {
    const m = /^[a-z*][a-z0-9_\-.*]*/.exec(this.s.slice(this.i));
    if (!m) this.fail('expected a key');
    this.i += m[0].length;
    return m[0];
  }
  bareItem(): BareItem {
    const c = this.peek();
    if (c === '"') return this.string();
    if (c === ':') return this.bytes();
    if (c === '?') return this.boolean();
    if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) return this.number();
    if (c !== undefined && /[A-Za-z*]/.test(c)) return this.token();
    return this.fail('expected an item');
  }
  string(): string {
    this.i++;
    let out = '';
    for (;;) {
      const c = this.s[this.i++];
      if (c === undefined) this.fail('unterminated string');
      if (c === '\\') {
        const n = this.s[this.i++];
        if (n !== '"' && n !== '\\') this.fail('bad escape in string');
        out += n;
      } else if (c === '"') return out;
      else if (c < ' ' || c > '~') this.fail('invalid character in string');
      else out += c;
    }
  }
  bytes(): Uint8Array {
    this.i++;
    const end = this.s.indexOf(':', this.i);
    if (end < 0) this.fail('unterminated byte sequence');
    const b64 = this.s.slice(this.i, end);
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64) || b64.length % 4 !== 0) this.fail('invalid base64 in byte sequence');
    this.i = end + 1;
    return Buffer.from(b64, 'base64');
  }
  boolean(): boolean {
    this.i++;
    const c = this.s[this.i++];
    if (c === '1') return true;
    if (c === '0') return false;
    return this.fail('invalid boolean');
  }
  number(): number {
    const m = /^-?\d{1,15}(\.\d{1,3})?/.exec(this.s.slice(this.i));
    if (!m) this.fail('invalid number');
    if (m[1] === undefined && m[0].replace('-', '').length > 15) this.fail('integer too long');
    this.i += m[0].length;
    return Number(m[0]);
  }
  token(): Token {
    const m = /^[A-Za-z*][!#$%&'*+\-.^_`|~0-9A-Za-z:/]*/.exec(this.s.slice(this.i));
    if (!m) this.fail('invalid token');
    this.i += m[0].length;
    return new Token(m[0]);
  }
  params(): Params {
    const p: Params = new Map();
    while (this.peek() === ';') {
      this.i++;
      this.sp();
      const k = this.key();
      let v: BareItem = true;
      if (this.peek() === '=') {
        this.i++;
        v = this.bareItem();
      }
      p.set(k, v);
      if (p.size > MAX_MEMBERS) this.fail('too many parameters');
    }
    return p;
  }
  item(): Item {
    const value = this.bareItem();
    return { value, params: this.params() };
  }
  member(): Member {
    if (this.peek() === '(') {
      this.i++;
      const items: Item[] = [];
      for (;;) {
        this.sp();
        if (this.peek() === ')') {
          this.i++;
          return { items, params: this.params() };
        }
        items.push(this.item());
        if (items.length > MAX_MEMBERS) this.fail('inner list too long');
        const c = this.peek();
        if (c !== ' ' && c !== ')') this.fail('expected space or ) in inner list');
      }
    }
    return this.item();
  }
}

/** Parses an RFC 8941 dictionary; throws SfError saying where it is malformed. */
export function parseDictionary(value: string): Dictionary {
  if (value.length > MAX_FIELD) throw new SfError(`field longer than ${MAX_FIELD} characters`);
  const p = new Parser(value);
  const out: Dictionary = new Map();
  p.sp();
  if (p.i >= value.length) return out;
  for (;;) {
    const k = p.key();
    let m: Member;
    if (p.peek() === '=') {
      p.i++;
      m = p.member();
    } else {
      m = { value: true, params: p.params() };
    }
    out.set(k, m);
    if (out.size > MAX_MEMBERS) p.fail('too many members');
    p.ows();
    if (p.i >= value.length) return out;
    if (p.peek() !== ',') p.fail('expected a comma');
    p.i++;
    p.ows();
    if (p.i >= value.length) p.fail('trailing comma');
  }
}

/** Parses an RFC 8941 list whose members are items (used for Will-Mirror). */
export function parseList(value: string): Member[] {
  if (value.length > MAX_FIELD) throw new SfError(`field longer than ${MAX_FIELD} characters`);
  const p = new Parser(value);
  const out: Member[] = [];
  p.sp();
  if (p.i >= value.length) return out;
  for (;;) {
    out.push(p.member());
    if (out.length > MAX_MEMBERS) p.fail('too many members');
    p.ows();
    if (p.i >= value.length) return out;
    if (p.peek() !== ',') p.fail('expected a comma');
    p.i++;
    p.ows();
    if (p.i >= value.length) p.fail('trailing comma');
  }
}

/** Parses one item (such as `?1`). */
export function parseItem(value: string): Item {
  const p = new Parser(value.trim());
  const it = p.item();
  if (p.i !== p.s.length) p.fail('trailing characters');
  return it;
}

export function isInnerList(m: Member): m is InnerList {
  return 'items' in m;
}

export function serializeBareItem(v: BareItem): string {
  if (v instanceof Token) return v.value;
  if (v instanceof Uint8Array) return `:${Buffer.from(v).toString('base64')}:`;
  if (typeof v === 'boolean') return v ? '?1' : '?0';
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) return String(Math.round(v * 1000) / 1000);
    return String(v);
  }
  if (!/^[\x20-\x7e]*$/.test(v)) throw new SfError('string with non-printable or non-ASCII characters');
  return `"${v.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

export function serializeParams(p: Params): string {
  let s = '';
  for (const [k, v] of p) s += v === true ? `;${k}` : `;${k}=${serializeBareItem(v)}`;
  return s;
}

export function serializeMember(m: Member): string {
  if (isInnerList(m)) return `(${m.items.map((it) => serializeBareItem(it.value) + serializeParams(it.params)).join(' ')})${serializeParams(m.params)}`;
  return serializeBareItem(m.value) + serializeParams(m.params);
}
