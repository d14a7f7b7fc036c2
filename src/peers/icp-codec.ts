/**
 * ICP version 2 (RFC 2186) wire format, with the choices Squid makes where the RFC is loose.
 *
 * Every message starts with a 20-byte header:
 *   opcode (1) | version (1) | message length (2) | request number (4) |
 *   options (4) | option data (4) | sender host address (4)
 * followed by the payload: for QUERY a requester host address (4) and a NUL-terminated URL; for
 * the replies a NUL-terminated URL (HIT_OBJ adds an object size and the object, which we ignore).
 * All integers are in network byte order. Decoding is strict: every length must agree with the
 * datagram, the URL must end with the only NUL of the payload, and unknown opcodes or versions are
 * rejected with a reason that the endpoint counts.
 */

export const ICP_HEADER_SIZE = 20;
/** Largest datagram we accept or send (a query is a header and a URL). */
export const ICP_MAX_DATAGRAM = 16 * 1024;
/** Longest URL carried in a message. */
export const ICP_MAX_URL = 8192;

export const IcpOpcode = {
  INVALID: 0,
  QUERY: 1,
  HIT: 2,
  MISS: 3,
  ERR: 4,
  SECHO: 10,
  DECHO: 11,
  MISS_NOFETCH: 21,
  DENIED: 22,
  HIT_OBJ: 23,
} as const;
export type IcpOpcodeName = keyof typeof IcpOpcode;
export type IcpOpcodeValue = (typeof IcpOpcode)[IcpOpcodeName];

/** Options bits (RFC 2186 §2): ask for the object in the reply / for the source RTT. */
export const ICP_FLAG_HIT_OBJ = 0x8000_0000;
export const ICP_FLAG_SRC_RTT = 0x4000_0000;

const NAMES = new Map<number, IcpOpcodeName>(Object.entries(IcpOpcode).map(([k, v]) => [v, k as IcpOpcodeName]));

export function opcodeName(op: number): string {
  return NAMES.get(op) ?? `UNKNOWN_${op}`;
}

/** Opcodes that answer a query (or an echo probe); anything else in reply position is rejected. */
export const REPLY_OPCODES: ReadonlySet<number> = new Set([
  IcpOpcode.HIT, IcpOpcode.MISS, IcpOpcode.ERR, IcpOpcode.MISS_NOFETCH, IcpOpcode.DENIED,
  IcpOpcode.HIT_OBJ, IcpOpcode.DECHO, IcpOpcode.SECHO,
]);

export interface IcpMessage {
  readonly opcode: IcpOpcodeValue;
  /** 2, or 3 for the Harvest variant (same layout). */
  readonly version: 2 | 3;
  readonly reqnum: number;
  readonly options: number;
  readonly optionData: number;
  /** Sender host address field, dotted quad (Squid sends 0.0.0.0). */
  readonly sender: string;
  /** QUERY only: requester host address, dotted quad. */
  readonly requester?: string;
  readonly url: string;
}

/** Why a datagram was rejected; each reason has its own counter. */
export type IcpDecodeFailure =
  | 'too-short' | 'oversized' | 'bad-version' | 'bad-length' | 'bad-opcode' | 'missing-nul' | 'bad-url' | 'url-too-long';

export type IcpDecodeResult =
  | { readonly ok: true; readonly message: IcpMessage }
  /** `reqnum`/`url` are filled when the header and URL were readable, so a query can be answered ERR. */
  | { readonly ok: false; readonly reason: IcpDecodeFailure; readonly opcode?: number; readonly reqnum?: number; readonly url?: string };

function ipv4(buf: Buffer, at: number): string {
  return `${buf[at]}.${buf[at + 1]}.${buf[at + 2]}.${buf[at + 3]}`;
}

function writeIpv4(buf: Buffer, at: number, addr: string | undefined): void {
  if (addr === undefined) return;
  const parts = addr.split('.');
  if (parts.length !== 4) throw new RangeError(`ICP address ${addr} is not a dotted quad`);
  parts.forEach((p, i) => {
    const n = Number(p);
    if (!/^\d{1,3}$/.test(p) || n > 255) throw new RangeError(`ICP address ${addr} is not a dotted quad`);
    buf[at + i] = n;
  });
}

/**
 * A URL acceptable in ICP: printable ASCII without spaces (Squid answers ERR to URLs with white
 * space), absolute http or https, at most ICP_MAX_URL bytes.
 */
export function checkIcpUrl(url: string): IcpDecodeFailure | undefined {
  if (url.length === 0) return 'bad-url';
  if (url.length > ICP_MAX_URL) return 'url-too-long';
  if (!/^[\x21-\x7e]+$/.test(url)) return 'bad-url';
  if (!/^https?:\/\/[^/?#]/i.test(url)) return 'bad-url';
  try {
    new URL(url);
  } catch {
    return 'bad-url';
  }
  return undefined;
}

/** Decodes one datagram strictly; never throws. */
export function decodeIcp(buf: Buffer): IcpDecodeResult {
  if (buf.length > ICP_MAX_DATAGRAM) return { ok: false, reason: 'oversized' };
  if (buf.length < ICP_HEADER_SIZE) return { ok: false, reason: 'too-short' };
  const opcode = buf[0] as number;
  const version = buf[1] as number;
  if (version !== 2 && version !== 3) return { ok: false, reason: 'bad-version', opcode };
  const length = buf.readUInt16BE(2);
  if (length !== buf.length) return { ok: false, reason: 'bad-length', opcode };
  const reqnum = buf.readUInt32BE(4);
  if (opcode !== IcpOpcode.QUERY && !REPLY_OPCODES.has(opcode)) return { ok: false, reason: 'bad-opcode', opcode, reqnum };
  let start = ICP_HEADER_SIZE;
  let requester: string | undefined;
  if (opcode === IcpOpcode.QUERY) {
    if (buf.length < ICP_HEADER_SIZE + 4 + 1) return { ok: false, reason: 'too-short', opcode, reqnum };
    requester = ipv4(buf, ICP_HEADER_SIZE);
    start += 4;
  }
  const nul = buf.indexOf(0, start);
  if (nul < 0) return { ok: false, reason: 'missing-nul', opcode, reqnum };
  // HIT_OBJ carries the object after the URL; everything else must end exactly at the NUL.
  if (opcode !== IcpOpcode.HIT_OBJ && nul !== buf.length - 1) return { ok: false, reason: 'missing-nul', opcode, reqnum };
  const url = buf.toString('latin1', start, nul);
  const bad = checkIcpUrl(url);
  if (bad) return { ok: false, reason: bad, opcode, reqnum, ...(bad === 'bad-url' && url.length <= ICP_MAX_URL ? { url } : {}) };
  const message: IcpMessage = {
    opcode: opcode as IcpOpcodeValue,
    version: version as 2 | 3,
    reqnum,
    options: buf.readUInt32BE(8),
    optionData: buf.readUInt32BE(12),
    sender: ipv4(buf, 16),
    ...(requester !== undefined ? { requester } : {}),
    url,
  };
  return { ok: true, message };
}

export interface IcpEncodeInput {
  readonly opcode: IcpOpcodeValue;
  readonly reqnum: number;
  readonly url: string;
  readonly version?: 2 | 3;
  readonly options?: number;
  readonly optionData?: number;
  readonly sender?: string;
  readonly requester?: string;
}

/** Encodes a message (QUERY gets the requester field); throws RangeError for values that cannot be sent. */
export function encodeIcp(m: IcpEncodeInput): Buffer {
  if (!Number.isInteger(m.reqnum) || m.reqnum < 0 || m.reqnum > 0xffff_ffff) throw new RangeError(`ICP request number ${m.reqnum} is out of range`);
  if (m.url.length > ICP_MAX_URL || !/^[\x21-\x7e]*$/.test(m.url)) throw new RangeError(`ICP URL ${JSON.stringify(m.url.slice(0, 100))} cannot be sent`);
  const isQuery = m.opcode === IcpOpcode.QUERY;
  const size = ICP_HEADER_SIZE + (isQuery ? 4 : 0) + m.url.length + 1;
  const buf = Buffer.alloc(size);
  buf[0] = m.opcode;
  buf[1] = m.version ?? 2;
  buf.writeUInt16BE(size, 2);
  buf.writeUInt32BE(m.reqnum >>> 0, 4);
  buf.writeUInt32BE((m.options ?? 0) >>> 0, 8);
  buf.writeUInt32BE((m.optionData ?? 0) >>> 0, 12);
  writeIpv4(buf, 16, m.sender);
  if (isQuery) writeIpv4(buf, ICP_HEADER_SIZE, m.requester);
  buf.write(m.url, ICP_HEADER_SIZE + (isQuery ? 4 : 0), 'latin1');
  return buf;
}
