import { createSocket, type Socket } from 'node:dgram';
import { isIP } from 'node:net';
import type { Logger } from '../util/log.js';
import { silentLogger } from '../util/log.js';
import { PeerwebError } from '../errors/index.js';
import {
  decodeIcp, encodeIcp, IcpOpcode, ICP_MAX_DATAGRAM, ICP_MAX_URL, opcodeName,
  type IcpDecodeFailure, type IcpMessage, type IcpOpcodeValue,
} from './icp-codec.js';

/** What the local store says about a URL when a peer asks (synchronous: answered from the memory index). */
export type IcpLookupAnswer = 'hit' | 'miss' | 'miss-nofetch';

export interface IcpEndpointOptions {
  /** Address to bind (an IP literal; loopback by default in config). */
  readonly host: string;
  /** UDP port; 0 picks a free one (see `address`). */
  readonly port: number;
  readonly lookup: (url: string) => IcpLookupAnswer;
  /** Who may query us; others get DENIED. Default: loopback addresses only. */
  readonly access?: (addr: string) => boolean;
  /** Queries answered per second per source address (token bucket); more are dropped. Default 20,000. */
  readonly ratePerSource?: number;
  /** Bucket depth (burst) per source. Default: one second's worth. */
  readonly burstPerSource?: number;
  /** Most source addresses tracked by the rate limiter; the oldest is forgotten first. Default 4096. */
  readonly maxSources?: number;
  /** Most of our own queries waiting for replies at once; further pings are refused. Default 10,000. */
  readonly maxOutstanding?: number;
  readonly logger?: Logger;
  /** Clock in ms (tests pass a fake one). */
  readonly now?: () => number;
}

/** A peer's ICP address. `host` must be an IP literal of the endpoint's family. */
export interface IcpTarget {
  readonly host: string;
  readonly port: number;
  /** A dumb cache's echo port: send DECHO and take the echo as "alive, not a hit" (Squid does this for port 7). */
  readonly echo?: boolean;
}

export interface IcpReply {
  /** Index of the target in the list given to `ping`. */
  readonly index: number;
  readonly opcode: 'HIT' | 'MISS' | 'MISS_NOFETCH' | 'DENIED' | 'ERR' | 'DECHO';
  readonly rttMs: number;
}

export interface IcpPingResult {
  /** Replies in arrival order (one at most per target). */
  readonly replies: readonly IcpReply[];
  /** The wait ended on the timeout rather than on a hit or on the last reply. */
  readonly timedOut: boolean;
  /** The caller's signal ended the wait. */
  readonly aborted: boolean;
}

export interface IcpPingOptions {
  readonly timeoutMs: number;
  readonly signal?: AbortSignal;
  /** Resolve at the first HIT (default true). */
  readonly stopOnHit?: boolean;
}

/** Every counter of the endpoint; `dropped` is keyed by reason. */
export interface IcpCounters {
  datagramsReceived: number;
  queriesReceived: number;
  queriesSent: number;
  repliesReceived: number;
  repliesSent: Record<'HIT' | 'MISS' | 'MISS_NOFETCH' | 'DENIED' | 'ERR', number>;
  dropped: Record<IcpDecodeFailure | 'unsolicited' | 'rate-limited' | 'from-self' | 'hit-obj' | 'secho' | 'send-error' | 'busy', number>;
  lookupErrors: number;
}

export interface IcpEndpoint {
  /** The bound address (port filled in when 0 was asked). */
  readonly address: { readonly host: string; readonly port: number };
  /**
   * Queries every target for `url` from this endpoint's socket and waits for the first HIT (unless
   * stopOnHit is false), a reply from every target, the timeout or the signal.
   */
  ping(targets: readonly IcpTarget[], url: string, opts: IcpPingOptions): Promise<IcpPingResult>;
  counters(): Readonly<IcpCounters>;
  close(): Promise<void>;
}

interface Outstanding {
  readonly url: string;
  readonly sentAt: number;
  /** "ip:port" → target index, removed when that target has replied. */
  readonly waiting: Map<string, number>;
  readonly replies: IcpReply[];
  readonly stopOnHit: boolean;
  finish(timedOut: boolean, aborted: boolean): void;
}

function isLoopback(addr: string): boolean {
  return addr.startsWith('127.') || addr === '::1' || addr.startsWith('::ffff:127.');
}

/** Opens the UDP socket and starts answering queries. */
export async function createIcpEndpoint(opts: IcpEndpointOptions): Promise<IcpEndpoint> {
  const family = isIP(opts.host);
  if (family === 0) throw new PeerwebError('PW_ERR_ICP_BIND', { address: `${opts.host}:${opts.port}`, reason: 'host must be an IP address' });
  const log = opts.logger ?? silentLogger;
  const now = opts.now ?? (() => performance.now());
  const access = opts.access ?? isLoopback;
  const rate = opts.ratePerSource ?? 20_000;
  const burst = opts.burstPerSource ?? rate;
  const maxSources = opts.maxSources ?? 4096;
  const maxOutstanding = opts.maxOutstanding ?? 10_000;

  const counters: IcpCounters = {
    datagramsReceived: 0, queriesReceived: 0, queriesSent: 0, repliesReceived: 0,
    repliesSent: { HIT: 0, MISS: 0, MISS_NOFETCH: 0, DENIED: 0, ERR: 0 },
    dropped: {
      'too-short': 0, oversized: 0, 'bad-version': 0, 'bad-length': 0, 'bad-opcode': 0, 'missing-nul': 0,
      'bad-url': 0, 'url-too-long': 0, unsolicited: 0, 'rate-limited': 0, 'from-self': 0, 'hit-obj': 0,
      secho: 0, 'send-error': 0, busy: 0,
    },
    lookupErrors: 0,
  };

  const socket: Socket = createSocket({ type: family === 6 ? 'udp6' : 'udp4', recvBufferSize: 1 << 20 });
  const buckets = new Map<string, { tokens: number; at: number }>();
  const outstanding = new Map<number, Outstanding>();
  let nextReqnum = 1 + Math.floor(Math.random() * 0x3fff_ffff);
  let closed = false;
  let bound = { host: opts.host, port: opts.port };

  function allowSource(addr: string): boolean {
    const t = now();
    let b = buckets.get(addr);
    if (!b) {
      if (buckets.size >= maxSources) {
        const oldest = buckets.keys().next().value;
        if (oldest !== undefined) buckets.delete(oldest);
      }
      b = { tokens: burst, at: t };
      buckets.set(addr, b);
    } else {
      b.tokens = Math.min(burst, b.tokens + ((t - b.at) * rate) / 1000);
      b.at = t;
    }
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  function send(buf: Buffer, port: number, host: string): void {
    socket.send(buf, port, host, (err) => {
      if (err) {
        counters.dropped['send-error']++;
        log.debug({ err, host, port }, 'ICP send failed');
      }
    });
  }

  function reply(opcode: 'HIT' | 'MISS' | 'MISS_NOFETCH' | 'DENIED' | 'ERR', reqnum: number, url: string, host: string, port: number): void {
    counters.repliesSent[opcode]++;
    send(encodeIcp({ opcode: IcpOpcode[opcode], reqnum, url }), port, host);
  }

  function onQuery(m: IcpMessage, host: string, port: number): void {
    counters.queriesReceived++;
    if (!access(host)) return reply('DENIED', m.reqnum, m.url, host, port);
    let answer: IcpLookupAnswer;
    try {
      answer = opts.lookup(m.url);
    } catch (err) {
      counters.lookupErrors++;
      log.warn({ err, url: m.url }, 'ICP lookup failed');
      answer = 'miss';
    }
    // Version 3 queries (Harvest) get a version 2 reply, as Squid's own v3 code path intends.
    reply(answer === 'hit' ? 'HIT' : answer === 'miss-nofetch' ? 'MISS_NOFETCH' : 'MISS', m.reqnum, m.url, host, port);
  }

  function onReply(m: IcpMessage, host: string, port: number): void {
    if (m.opcode === IcpOpcode.HIT_OBJ) { counters.dropped['hit-obj']++; return; }
    if (m.opcode === IcpOpcode.SECHO) { counters.dropped.secho++; return; }
    const o = outstanding.get(m.reqnum);
    const key = `${host}:${port}`;
    const index = o?.waiting.get(key);
    if (!o || index === undefined || o.url !== m.url) {
      counters.dropped.unsolicited++;
      return;
    }
    counters.repliesReceived++;
    o.waiting.delete(key);
    const opcode = opcodeName(m.opcode) as IcpReply['opcode'];
    o.replies.push({ index, opcode, rttMs: Math.max(0, now() - o.sentAt) });
    if ((opcode === 'HIT' && o.stopOnHit) || o.waiting.size === 0) o.finish(false, false);
  }

  socket.on('message', (buf, rinfo) => {
    counters.datagramsReceived++;
    if (rinfo.port === bound.port && rinfo.address === bound.host) { counters.dropped['from-self']++; return; }
    if (buf.length > ICP_MAX_DATAGRAM) { counters.dropped.oversized++; return; }
    const isQuery = buf.length >= 1 && buf[0] === IcpOpcode.QUERY;
    // Queries cost us a lookup and a reply: rate-limit them before decoding.
    if (isQuery && !allowSource(rinfo.address)) { counters.dropped['rate-limited']++; return; }
    const r = decodeIcp(buf);
    if (!r.ok) {
      counters.dropped[r.reason]++;
      // A readable query with an unusable URL is answered ERR (as Squid does); everything else is dropped.
      // Like Squid, the URL is echoed with white space and other unsafe bytes %-escaped.
      if (r.opcode === IcpOpcode.QUERY && r.reason === 'bad-url' && r.reqnum !== undefined && r.url !== undefined && r.url.length > 0) {
        const escaped = r.url.replace(/[^\x21-\x7e]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`);
        if (escaped.length <= ICP_MAX_URL) reply('ERR', r.reqnum, escaped, rinfo.address, rinfo.port);
      }
      return;
    }
    if (r.message.opcode === IcpOpcode.QUERY) onQuery(r.message, rinfo.address, rinfo.port);
    else onReply(r.message, rinfo.address, rinfo.port);
  });
  socket.on('error', (err) => log.warn({ err }, 'ICP socket error'));

  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error) => reject(new PeerwebError('PW_ERR_ICP_BIND', { address: `${opts.host}:${opts.port}`, reason: err.message }, { cause: err }));
    socket.once('error', onError);
    socket.bind(opts.port, opts.host, () => {
      socket.off('error', onError);
      resolve();
    });
  });
  const a = socket.address();
  bound = { host: a.address, port: a.port };

  return {
    get address() { return bound; },
    counters: () => counters,
    ping(targets, url, popts) {
      return new Promise<IcpPingResult>((resolve) => {
        const empty: IcpPingResult = { replies: [], timedOut: false, aborted: false };
        if (closed || targets.length === 0) return resolve(empty);
        if (outstanding.size >= maxOutstanding) { counters.dropped.busy++; return resolve(empty); }
        if (popts.signal?.aborted) return resolve({ ...empty, aborted: true });
        let reqnum = nextReqnum;
        while (reqnum === 0 || outstanding.has(reqnum)) reqnum = (reqnum + 1) >>> 0;
        nextReqnum = (reqnum + 1) >>> 0 || 1;
        const waiting = new Map<string, number>();
        targets.forEach((t, i) => waiting.set(`${t.host}:${t.port}`, i));
        let timer: NodeJS.Timeout | undefined;
        const onAbort = () => o.finish(false, true);
        const o: Outstanding = {
          url, sentAt: now(), waiting, replies: [], stopOnHit: popts.stopOnHit ?? true,
          finish(timedOut, aborted) {
            if (outstanding.get(reqnum) !== o) return;
            outstanding.delete(reqnum);
            if (timer) clearTimeout(timer);
            popts.signal?.removeEventListener('abort', onAbort);
            resolve({ replies: o.replies, timedOut, aborted });
          },
        };
        outstanding.set(reqnum, o);
        popts.signal?.addEventListener('abort', onAbort, { once: true });
        timer = setTimeout(() => o.finish(true, false), Math.max(1, popts.timeoutMs));
        for (const t of targets) {
          const opcode: IcpOpcodeValue = t.echo ? IcpOpcode.DECHO : IcpOpcode.QUERY;
          let buf: Buffer;
          try {
            buf = encodeIcp({ opcode, reqnum, url });
          } catch {
            o.finish(false, false);
            return;
          }
          counters.queriesSent++;
          send(buf, t.port, t.host);
        }
      });
    },
    async close() {
      if (closed) return;
      closed = true;
      for (const o of [...outstanding.values()]) o.finish(false, true);
      await new Promise<void>((resolve) => socket.close(() => resolve()));
    },
  };
}
