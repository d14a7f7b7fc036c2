/** Link fields (RFC 8288) as the mirror roles use them: one value per relation, resolved against a base. */
import { formatLink as formatLinkValue, parseLinkHeader } from '../http/index.js';

export interface LinkValue {
  readonly href: string;
  readonly rel: string;
  readonly params: Readonly<Record<string, string>>;
}

export function formatLink(href: string, rel: string, params: Readonly<Record<string, string | number>> = {}): string {
  return formatLinkValue(href, { rel, ...params });
}

/** Parses a Link field value; `base` resolves relative references; a link with several relations gives one value each. */
export function parseLinks(value: string, base: string): LinkValue[] {
  const out: LinkValue[] = [];
  for (const link of parseLinkHeader(value)) {
    let href: string;
    try {
      href = new URL(link.uri, base).toString();
    } catch {
      continue;
    }
    for (const rel of (link.params.rel ?? '').toLowerCase().split(/\s+/).filter(Boolean)) out.push({ href, rel, params: link.params });
  }
  return out;
}
