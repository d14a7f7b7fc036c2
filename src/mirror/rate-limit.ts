import { BlockList, isIPv6 } from 'node:net';

/** Token buckets per client address plus one global bucket; bounded table of addresses. */
export interface RateLimiter {
  /** 0 when the request may proceed, else seconds to wait (for Retry-After). */
  take(address: string): number;
}

export function createRateLimiter(opts: { rate: number; burst: number; globalRate: number; maxClients?: number; now?: () => number }): RateLimiter {
  const now = opts.now ?? (() => performance.now());
  const maxClients = opts.maxClients ?? 10_000;
  const buckets = new Map<string, { tokens: number; at: number }>();
  const global = { tokens: Math.max(opts.globalRate, 1), at: now() };
  const refill = (b: { tokens: number; at: number }, rate: number, cap: number, t: number) => {
    b.tokens = Math.min(cap, b.tokens + ((t - b.at) / 1000) * rate);
    b.at = t;
  };
  return {
    take(address) {
      const t = now();
      if (opts.globalRate > 0) {
        refill(global, opts.globalRate, Math.max(opts.globalRate, 1), t);
        if (global.tokens < 1) return Math.max(1, Math.ceil((1 - global.tokens) / opts.globalRate));
      }
      if (opts.rate > 0) {
        let b = buckets.get(address);
        if (!b) {
          if (buckets.size >= maxClients) {
            const oldest = buckets.keys().next().value;
            if (oldest !== undefined) buckets.delete(oldest);
          }
          b = { tokens: opts.burst, at: t };
          buckets.set(address, b);
        }
        refill(b, opts.rate, opts.burst, t);
        if (b.tokens < 1) return Math.max(1, Math.ceil((1 - b.tokens) / opts.rate));
        b.tokens -= 1;
      }
      if (opts.globalRate > 0) global.tokens -= 1;
      return 0;
    },
  };
}

/** A set of address ranges such as 127.0.0.0/8 or ::1/128. */
export function addressRanges(cidrs: readonly string[]): (address: string) => boolean {
  const list = new BlockList();
  for (const c of cidrs) {
    const [net = '', bits = ''] = c.split('/');
    list.addSubnet(net, Number(bits), isIPv6(net) ? 'ipv6' : 'ipv4');
  }
  return (address) => {
    const a = address.startsWith('::ffff:') ? address.slice(7) : address;
    return list.check(a, isIPv6(a) ? 'ipv6' : 'ipv4');
  };
}
