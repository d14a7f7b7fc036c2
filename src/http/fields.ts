/**
 * An ordered list of header fields. Names are kept lower-cased for lookup and as sent for
 * forwarding; values are kept as received (already validated by the parser).
 */
export class Fields {
  /** Flat list: [lowerName, value, rawName, lowerName, value, rawName, …] (fast to build and scan). */
  private readonly list: string[];

  constructor(init?: Iterable<readonly [string, string]> | Fields) {
    this.list = [];
    if (init instanceof Fields) this.list.push(...init.list);
    else if (init) for (const [n, v] of init) this.list.push(n.toLowerCase(), v, n);
  }

  /** Builds from a parser's flat [rawName, value, rawName, value…] array without re-validating. */
  static fromRaw(raw: readonly string[]): Fields {
    const f = new Fields();
    for (let i = 0; i + 1 < raw.length; i += 2) f.list.push((raw[i] as string).toLowerCase(), raw[i + 1] as string, raw[i] as string);
    return f;
  }

  get size(): number {
    return this.list.length / 3;
  }

  has(name: string): boolean {
    const l = this.list;
    for (let i = 0; i < l.length; i += 3) if (l[i] === name) return true;
    return false;
  }

  /** All values of `name` (lower-case) joined with ", " as RFC 9110 §5.3 allows; undefined if absent. */
  get(name: string): string | undefined {
    const l = this.list;
    let out: string | undefined;
    for (let i = 0; i < l.length; i += 3) {
      if (l[i] === name) out = out === undefined ? (l[i + 1] as string) : `${out}, ${l[i + 1] as string}`;
    }
    return out;
  }

  /** Each field line's value separately (for Set-Cookie and for detecting duplicates). */
  getAll(name: string): string[] {
    const l = this.list;
    const out: string[] = [];
    for (let i = 0; i < l.length; i += 3) if (l[i] === name) out.push(l[i + 1] as string);
    return out;
  }

  /** Replaces every line of `name` by one line. */
  set(name: string, value: string): this {
    const lower = name.toLowerCase();
    this.delete(lower);
    this.list.push(lower, value, name);
    return this;
  }

  append(name: string, value: string): this {
    this.list.push(name.toLowerCase(), value, name);
    return this;
  }

  /** Removes every line of `name` (lower-case); returns how many were removed. */
  delete(name: string): number {
    const l = this.list;
    let removed = 0;
    for (let i = l.length - 3; i >= 0; i -= 3) {
      if (l[i] === name) {
        l.splice(i, 3);
        removed++;
      }
    }
    return removed;
  }

  /** [rawName, value] pairs in order. */
  *entries(): IterableIterator<[string, string]> {
    const l = this.list;
    for (let i = 0; i < l.length; i += 3) yield [l[i + 2] as string, l[i + 1] as string];
  }

  /** Lower-case names present, each once, in first-seen order. */
  names(): string[] {
    const seen = new Set<string>();
    for (let i = 0; i < this.list.length; i += 3) seen.add(this.list[i] as string);
    return [...seen];
  }

  toJSON(): [string, string][] {
    return [...this.entries()];
  }

  clone(): Fields {
    return new Fields(this);
  }

  /** "Name: value\r\n" for every line (no final empty line). */
  serialize(): string {
    const l = this.list;
    let s = '';
    for (let i = 0; i < l.length; i += 3) s += `${l[i + 2] as string}: ${l[i + 1] as string}\r\n`;
    return s;
  }
}
