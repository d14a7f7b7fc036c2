import { sign as edSign, verify as edVerify, type KeyObject } from 'node:crypto';
import { PeerwebError } from '../errors/index.js';
import type { PublisherKey } from './keys.js';
import { isInnerList, parseSfDictionary as parseDictionary, serializeSfList, SfToken as Token, type SfBareItem as BareItem, type SfItem as Item, type SfParams as Params } from '../util/structured-fields.js';

/** A message that cannot be signed or verified as asked (bad component, missing field…). */
class SignatureInputError extends Error {}

/**
 * HTTP Message Signatures (RFC 9421) with Ed25519, for the components peerweb signs: derived
 * components of requests and responses plus header fields.
 */

/** What a signature covers: a request (method, target URI) or a response (status), and its fields. */
export interface SignedMessage {
  readonly method?: string;
  readonly targetUri?: string;
  readonly status?: number;
  /** The field's value(s) by lower-case name; several lines are joined with ", ". */
  readonly field: (name: string) => string | undefined;
}

/** Reads fields from a `Fields` object, node's IncomingHttpHeaders, or a plain record. */
export function fieldReader(headers: { get(name: string): string | null | undefined } | Readonly<Record<string, string | readonly string[] | number | undefined>>): (name: string) => string | undefined {
  if (typeof (headers as { get?: unknown }).get === 'function') {
    const h = headers as { get(name: string): string | null | undefined };
    return (n) => h.get(n) ?? undefined;
  }
  const rec = headers as Readonly<Record<string, string | readonly string[] | number | undefined>>;
  const lower = new Map<string, string>();
  for (const [k, v] of Object.entries(rec)) {
    if (v === undefined) continue;
    const s = Array.isArray(v) ? (v as readonly string[]).map((x) => x.trim()).join(', ') : String(v).trim();
    const key = k.toLowerCase();
    const prev = lower.get(key);
    lower.set(key, prev === undefined ? s : `${prev}, ${s}`);
  }
  return (n) => lower.get(n);
}

export interface SignOptions {
  readonly key: PublisherKey;
  /** Component identifiers, e.g. ['@method', '@target-uri', 'content-digest']. */
  readonly components: readonly string[];
  readonly label?: string;
  /** Seconds since the epoch; defaults to now. */
  readonly created?: number;
  readonly expires?: number;
  readonly nonce?: string;
  readonly tag?: string;
}

export interface VerifyOptions {
  /** Public key for a key id (undefined when unknown). */
  readonly keys: (keyId: string) => KeyObject | undefined;
  /** Components every accepted signature must cover. */
  readonly required: readonly string[];
  /** Only this label is considered (default: any label that verifies). */
  readonly label?: string;
  readonly tag?: string;
  /** Reject signatures created more than this many seconds ago (default 1 day). */
  readonly maxAgeSec?: number;
  /** Seconds since the epoch (default: now); tests pass a fixed clock. */
  readonly now?: number;
  /** Allowed clock skew for `created` in the future, seconds (default 60). */
  readonly skewSec?: number;
}

export interface VerifiedSignature {
  readonly label: string;
  readonly keyId: string;
  readonly created: number | undefined;
  readonly components: readonly string[];
}

function defaultPort(scheme: string): string {
  return scheme === 'https:' ? '443' : scheme === 'http:' ? '80' : '';
}

/** The value of one component (RFC 9421 §2.1, §2.2); throws when the message lacks it. */
export function componentValue(msg: SignedMessage, id: string): string {
  if (!id.startsWith('@')) {
    if (!/^[a-z0-9!#$%&'*+\-.^_`|~]+$/.test(id)) throw new SignatureInputError(`component ${JSON.stringify(id)} is not a lower-case field name`);
    const v = msg.field(id);
    if (v === undefined) throw new SignatureInputError(`field ${id} is absent`);
    return v.trim();
  }
  if (id === '@status') {
    if (msg.status === undefined) throw new SignatureInputError('@status on a request');
    return String(msg.status);
  }
  if (id === '@method') {
    if (msg.method === undefined) throw new SignatureInputError('@method on a response');
    return msg.method;
  }
  if (msg.targetUri === undefined) throw new SignatureInputError(`${id} on a response`);
  const u = new URL(msg.targetUri);
  switch (id) {
    case '@target-uri':
      return msg.targetUri;
    case '@authority':
      return (u.port && u.port !== defaultPort(u.protocol) ? `${u.hostname}:${u.port}` : u.hostname).toLowerCase();
    case '@scheme':
      return u.protocol.slice(0, -1).toLowerCase();
    case '@path':
      return u.pathname || '/';
    case '@query':
      return u.search || '?';
    case '@request-target':
      return `${u.pathname || '/'}${u.search}`;
    default:
      throw new SignatureInputError(`derived component ${id} is not supported`);
  }
}

function paramsString(components: readonly string[], params: Params): string {
  return serializeSfList([{ items: components.map((c) => ({ value: c, params: new Map() })), params }]);
}

/** The signature base (RFC 9421 §2.5) for `components` and the serialised `@signature-params` value. */
export function signatureBase(msg: SignedMessage, components: readonly string[], sigParams: string): string {
  const seen = new Set<string>();
  let base = '';
  for (const c of components) {
    if (seen.has(c)) throw new SignatureInputError(`component ${c} listed twice`);
    seen.add(c);
    base += `"${c}": ${componentValue(msg, c)}\n`;
  }
  return `${base}"@signature-params": ${sigParams}`;
}

/** Signs a message; returns the Signature-Input and Signature field values to add. */
export function signMessage(msg: SignedMessage, opts: SignOptions): { signatureInput: string; signature: string } {
  if (!opts.key.privateKey) throw new PeerwebError('PW_ERR_SIGNATURE_MISSING', { reason: 'signing needs the private half of the key' });
  const label = opts.label ?? 'sig1';
  const params: Params = new Map<string, BareItem>();
  params.set('created', opts.created ?? Math.floor(Date.now() / 1000));
  if (opts.expires !== undefined) params.set('expires', opts.expires);
  if (opts.nonce !== undefined) params.set('nonce', opts.nonce);
  params.set('alg', 'ed25519');
  params.set('keyid', opts.key.keyId);
  if (opts.tag !== undefined) params.set('tag', opts.tag);
  const sp = paramsString(opts.components, params);
  const base = signatureBase(msg, opts.components, sp);
  const sig = edSign(null, Buffer.from(base, 'utf8'), opts.key.privateKey);
  return { signatureInput: `${label}=${sp}`, signature: `${label}=:${sig.toString('base64')}:` };
}

/**
 * Verifies the signatures of a message; returns the first that verifies and covers `required`.
 * Throws PW_ERR_SIGNATURE_MISSING when none is present or usable, PW_ERR_SIGNATURE_INVALID when
 * a candidate fails (bad bytes, unknown key, expired).
 */
export function verifyMessage(msg: SignedMessage, opts: VerifyOptions): VerifiedSignature {
  const inputField = msg.field('signature-input');
  const sigField = msg.field('signature');
  if (!inputField || !sigField) throw new PeerwebError('PW_ERR_SIGNATURE_MISSING', { reason: 'no Signature-Input and Signature fields' });
  let inputs, sigs;
  try {
    inputs = parseDictionary(inputField);
    sigs = parseDictionary(sigField);
  } catch (err) {
    throw new PeerwebError('PW_ERR_SIGNATURE_INVALID', { label: '?', reason: (err as Error).message });
  }
  const now = opts.now ?? Math.floor(Date.now() / 1000);
  let lastError: PeerwebError | undefined;
  for (const [label, input] of inputs) {
    if (opts.label !== undefined && label !== opts.label) continue;
    const sigMember = sigs.get(label);
    if (!isInnerList(input) || !sigMember || isInnerList(sigMember) || !(sigMember.value instanceof Uint8Array)) {
      lastError = new PeerwebError('PW_ERR_SIGNATURE_INVALID', { label, reason: 'Signature-Input is not an inner list or Signature is not a byte sequence' });
      continue;
    }
    const components = input.items.map((it: Item) => it.value);
    if (!components.every((c): c is string => typeof c === 'string') || input.items.some((it) => it.params.size > 0)) {
      lastError = new PeerwebError('PW_ERR_SIGNATURE_INVALID', { label, reason: 'components must be plain strings' });
      continue;
    }
    const missing = opts.required.filter((r) => !components.includes(r));
    if (missing.length) {
      lastError = new PeerwebError('PW_ERR_SIGNATURE_MISSING', { reason: `signature ${label} does not cover ${missing.join(', ')}` });
      continue;
    }
    const p = input.params;
    const keyId = p.get('keyid');
    const alg = p.get('alg');
    const created = p.get('created');
    const expires = p.get('expires');
    const tag = p.get('tag');
    const fail = (reason: string): PeerwebError => new PeerwebError('PW_ERR_SIGNATURE_INVALID', { label, reason });
    if (typeof keyId !== 'string') { lastError = fail('no keyid parameter'); continue; }
    if (alg !== undefined && alg !== 'ed25519') { lastError = fail(`algorithm ${String(alg instanceof Token ? alg.value : alg)} is not ed25519`); continue; }
    if (created !== undefined && typeof created !== 'number') { lastError = fail('created is not an integer'); continue; }
    if (expires !== undefined && typeof expires !== 'number') { lastError = fail('expires is not an integer'); continue; }
    if (opts.tag !== undefined && tag !== opts.tag) { lastError = fail(`tag ${JSON.stringify(tag)} is not ${opts.tag}`); continue; }
    if (typeof created === 'number' && created > now + (opts.skewSec ?? 60)) { lastError = fail(`created ${created} is in the future`); continue; }
    if (typeof created === 'number' && now - created > (opts.maxAgeSec ?? 86_400)) { lastError = fail(`created ${created} is too old`); continue; }
    if (typeof expires === 'number' && expires < now) { lastError = fail(`expired at ${expires}`); continue; }
    const pub = opts.keys(keyId);
    if (!pub) { lastError = fail(`key ${keyId} is not a known key of this publisher`); continue; }
    let base: string;
    try {
      base = signatureBase(msg, components, paramsString(components, p));
    } catch (err) {
      lastError = fail((err as Error).message);
      continue;
    }
    const sig = Buffer.from(sigMember.value);
    if (sig.length !== 64 || !edVerify(null, Buffer.from(base, 'utf8'), pub, sig)) { lastError = fail('signature bytes do not verify'); continue; }
    return { label, keyId, created: typeof created === 'number' ? created : undefined, components };
  }
  throw lastError ?? new PeerwebError('PW_ERR_SIGNATURE_MISSING', { reason: opts.label ? `no signature labelled ${opts.label}` : 'no signature' });
}
