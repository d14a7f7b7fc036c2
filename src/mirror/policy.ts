/** What may be offered for mirroring (DESIGN §2 "What is never mirrored"); pure, no I/O. */

type HeaderGet = (name: string) => string | undefined;

function directives(cc: string | undefined): Set<string> {
  const out = new Set<string>();
  for (const part of (cc ?? '').split(',')) {
    const name = part.split('=')[0]?.trim().toLowerCase();
    if (name) out.add(name);
  }
  return out;
}

/**
 * True when a response may be offered, pushed or listed: not private, not no-store, no
 * Set-Cookie, and not an answer to a request with Authorization unless Cache-Control says public.
 */
export function isMirrorable(req: HeaderGet, status: number, res: HeaderGet): boolean {
  if (status !== 200 && status !== 206 && status !== 304) return false;
  const cc = directives(res('cache-control'));
  if (cc.has('private') || cc.has('no-store')) return false;
  if (res('set-cookie') !== undefined) return false;
  if (req('authorization') !== undefined && !cc.has('public')) return false;
  return true;
}

/** Accepted mirror offers: policy, allow-list and cap. */
export interface MirrorPolicy {
  readonly mode: 'open' | 'allow-list' | 'closed';
  readonly allow: readonly string[];
  readonly maxMirrors: number;
}

/** undefined when the offer may be considered, else the reason it is refused. */
export function refuseOffer(policy: MirrorPolicy, base: string, currentCount: number): string | undefined {
  if (policy.mode === 'closed') return 'this origin accepts no mirrors';
  if (policy.mode === 'allow-list' && !policy.allow.some((p) => base.startsWith(p))) return 'base is not on the allow-list';
  if (currentCount >= policy.maxMirrors) return `the origin already has ${policy.maxMirrors} mirrors`;
  return undefined;
}
