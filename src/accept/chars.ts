/**
 * Byte classes of RFC 9110 / RFC 9112 as lookup tables (one array read per byte on the hot path).
 */

/** tchar: "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA */
export const TOKEN = new Uint8Array(256);
/** field-vchar (VCHAR / obs-text) plus SP and HTAB: what may appear inside a field value. */
export const FIELD_VALUE = new Uint8Array(256);
/** Bytes allowed in a request-target: visible ASCII except "#". Percent-encoding is checked separately. */
export const TARGET = new Uint8Array(256);
/** Hex digit value + 1 (0 = not a hex digit). */
export const HEX = new Uint8Array(256);
/** qdtext of quoted-string: HTAB / SP / %x21 / %x23-5B / %x5D-7E / obs-text. */
export const QDTEXT = new Uint8Array(256);
/** reg-name characters of a Host: unreserved / sub-delims / "%" (pct-encoded checked separately). */
export const REG_NAME = new Uint8Array(256);

for (let c = 0; c < 256; c++) {
  const alpha = (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
  const digit = c >= 0x30 && c <= 0x39;
  if (alpha || digit || "!#$%&'*+-.^_`|~".includes(String.fromCharCode(c))) TOKEN[c] = 1;
  if ((c >= 0x21 && c <= 0x7e) || c >= 0x80 || c === 0x20 || c === 0x09) FIELD_VALUE[c] = 1;
  if (c >= 0x21 && c <= 0x7e && c !== 0x23) TARGET[c] = 1;
  if (digit) HEX[c] = c - 0x30 + 1;
  else if (c >= 0x41 && c <= 0x46) HEX[c] = c - 0x41 + 11;
  else if (c >= 0x61 && c <= 0x66) HEX[c] = c - 0x61 + 11;
  if (c === 0x09 || c === 0x20 || c === 0x21 || (c >= 0x23 && c <= 0x5b) || (c >= 0x5d && c <= 0x7e) || c >= 0x80) QDTEXT[c] = 1;
  if (alpha || digit || "-._~!$&'()*+,;=%".includes(String.fromCharCode(c))) REG_NAME[c] = 1;
}

export const CR = 13;
export const LF = 10;
export const SP = 32;
export const HTAB = 9;
export const COLON = 58;

/** Describes a byte for error messages: printable ASCII as itself, the rest as 0xNN. */
export function describeByte(c: number | undefined): string {
  if (c === undefined) return 'end of input';
  return c > 0x20 && c < 0x7f ? JSON.stringify(String.fromCharCode(c)) : `0x${c.toString(16).padStart(2, '0')}`;
}
