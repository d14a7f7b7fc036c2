/** Minimal Link field (RFC 8288) handling for the relations peerweb uses: duplicate and describedby. */
export interface LinkValue {
  readonly href: string;
  readonly rel: string;
  readonly params: Readonly<Record<string, string>>;
}

const MAX_LINKS = 256;

export function formatLink(href: string, rel: string, params: Readonly<Record<string, string | number>> = {}): string {
  let s = `<${href}>; rel=${rel}`;
  for (const [k, v] of Object.entries(params)) s += typeof v === 'number' || /^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/.test(v) && !v.includes('/') ? `; ${k}=${v}` : `; ${k}="${v.replace(/["\\]/g, (c) => `\\${c}`)}"`;
  return s;
}

/** Parses a Link field value; `base` resolves relative references. Malformed members are skipped. */
export function parseLinks(value: string, base: string): LinkValue[] {
  const out: LinkValue[] = [];
  let i = 0;
  const s = value;
  while (i < s.length && out.length < MAX_LINKS) {
    while (i < s.length && /[\s,]/.test(s[i] as string)) i++;
    if (s[i] !== '<') {
      const next = s.indexOf(',', i);
      if (next < 0) break;
      i = next + 1;
      continue;
    }
    const close = s.indexOf('>', i);
    if (close < 0) break;
    const ref = s.slice(i + 1, close);
    i = close + 1;
    const params: Record<string, string> = {};
    for (;;) {
      while (i < s.length && /[ \t]/.test(s[i] as string)) i++;
      if (s[i] !== ';') break;
      i++;
      while (i < s.length && /[ \t]/.test(s[i] as string)) i++;
      const m = /^([A-Za-z0-9!#$%&'*+.^_`|~-]+)\*?/.exec(s.slice(i));
      if (!m) break;
      const name = (m[1] as string).toLowerCase();
      i += m[0].length;
      while (i < s.length && /[ \t]/.test(s[i] as string)) i++;
      let val = '';
      if (s[i] === '=') {
        i++;
        while (i < s.length && /[ \t]/.test(s[i] as string)) i++;
        if (s[i] === '"') {
          i++;
          while (i < s.length && s[i] !== '"') {
            if (s[i] === '\\') i++;
            val += s[i] ?? '';
            i++;
          }
          i++;
        } else {
          const t = /^[^;,\s]*/.exec(s.slice(i))?.[0] ?? '';
          val = t;
          i += t.length;
        }
      }
      if (!(name in params)) params[name] = val;
    }
    let href: string;
    try {
      href = new URL(ref, base).toString();
    } catch {
      continue;
    }
    for (const rel of (params.rel ?? '').toLowerCase().split(/\s+/).filter(Boolean)) out.push({ href, rel, params });
  }
  return out;
}
