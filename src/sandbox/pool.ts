import { readFile } from 'node:fs/promises';
import { QuickJS, EvalFlags, type JSValueHandle } from 'quickjs-wasi';
import { PeerwebError } from '../errors/index.js';

/**
 * Runs archive handlers (`export default { async fetch(request, env) }`) in QuickJS compiled to
 * WebAssembly. A handler sees only what the prelude below gives it: the request, `env.files`
 * (the archive's verified files, through one host function), `Response`, `Headers`-like plain
 * objects, and a clock frozen at the request's start. No network, file system or host objects.
 */

export interface SandboxLimits {
  /** Memory cap of one VM, bytes. */
  readonly memory: number;
  /** CPU time a request may spend inside the VM, ms. */
  readonly cpuTime: number;
  /** Wall time a request may take, ms (waiting for files included). */
  readonly wallTime: number;
  /** Largest response body, bytes. */
  readonly maxResponse: number;
  /** Warm VMs kept (and most requests running at once). */
  readonly pool: number;
  /** Most requests waiting for a VM. */
  readonly queue: number;
}

export const DEFAULT_SANDBOX_LIMITS: SandboxLimits = Object.freeze({ memory: 32 * 1024 ** 2, cpuTime: 100, wallTime: 2000, maxResponse: 16 * 1024 ** 2, pool: 4, queue: 256 });

export interface HandlerRequest {
  readonly method: string;
  /** Absolute URL of the request. */
  readonly url: string;
  readonly headers: readonly (readonly [string, string])[];
  readonly body?: Buffer | undefined;
}

export interface HandlerResponse {
  readonly status: number;
  readonly headers: [string, string][];
  readonly body: Buffer;
}

/** What handlers may reach: their module sources and the archive's files. */
export interface SandboxHost {
  /** Module source by archive entry name (handlers and what they import); undefined when absent. */
  loadModule(name: string): string | undefined;
  /** Verified bytes of an archive file; undefined when the archive has no such file. */
  readFile(name: string): Promise<Buffer | undefined>;
}

type WasmOption = NonNullable<Parameters<typeof QuickJS.create>[0]> extends { wasm?: infer W } ? W : never;
const Wasm = (globalThis as unknown as { WebAssembly: { compile(bytes: Uint8Array): Promise<WasmOption> } }).WebAssembly;
let wasmModule: Promise<WasmOption> | undefined;
/** The engine, compiled once per process and instantiated per VM. */
function compiledWasm(): Promise<WasmOption> {
  wasmModule ??= readFile(new URL(import.meta.resolve('quickjs-wasi/quickjs.wasm'))).then((b) => Wasm.compile(b));
  return wasmModule;
}

const PRELUDE = String.raw`
(() => {
  const read = globalThis.__pw_read;
  delete globalThis.__pw_read;
  delete globalThis.performance;
  const utf8 = (u8) => {
    let s = '';
    for (let i = 0; i < u8.length;) {
      const c = u8[i++];
      if (c < 0x80) s += String.fromCharCode(c);
      else if (c < 0xe0) s += String.fromCharCode(((c & 0x1f) << 6) | (u8[i++] & 0x3f));
      else if (c < 0xf0) s += String.fromCharCode(((c & 0x0f) << 12) | ((u8[i++] & 0x3f) << 6) | (u8[i++] & 0x3f));
      else { const cp = ((c & 0x07) << 18) | ((u8[i++] & 0x3f) << 12) | ((u8[i++] & 0x3f) << 6) | (u8[i++] & 0x3f); s += String.fromCodePoint(cp); }
    }
    return s;
  };
  const toUtf8 = (s) => {
    const out = [];
    for (const ch of String(s)) {
      const cp = ch.codePointAt(0);
      if (cp < 0x80) out.push(cp);
      else if (cp < 0x800) out.push(0xc0 | (cp >> 6), 0x80 | (cp & 63));
      else if (cp < 0x10000) out.push(0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 63), 0x80 | (cp & 63));
      else out.push(0xf0 | (cp >> 18), 0x80 | ((cp >> 12) & 63), 0x80 | ((cp >> 6) & 63), 0x80 | (cp & 63));
    }
    return new Uint8Array(out);
  };
  class Headers {
    #m = new Map();
    constructor(init) {
      if (init instanceof Headers) init = init.entries();
      else if (init && !Array.isArray(init) && typeof init[Symbol.iterator] !== 'function') init = Object.entries(init);
      for (const [k, v] of init ?? []) this.append(k, v);
    }
    append(k, v) { k = String(k).toLowerCase(); const o = this.#m.get(k); this.#m.set(k, o === undefined ? String(v) : o + ', ' + v); }
    set(k, v) { this.#m.set(String(k).toLowerCase(), String(v)); }
    get(k) { return this.#m.get(String(k).toLowerCase()) ?? null; }
    has(k) { return this.#m.has(String(k).toLowerCase()); }
    delete(k) { this.#m.delete(String(k).toLowerCase()); }
    *entries() { yield* this.#m.entries(); }
    keys() { return this.#m.keys(); }
    forEach(f) { for (const [k, v] of this.#m) f(v, k, this); }
    [Symbol.iterator]() { return this.entries(); }
  }
  class Response {
    constructor(body = null, init = {}) {
      this.status = init.status ?? 200;
      this.headers = new Headers(init.headers);
      this.body = body;
    }
    static json(data, init = {}) {
      const r = new Response(JSON.stringify(data), init);
      if (!r.headers.has('content-type')) r.headers.set('content-type', 'application/json');
      return r;
    }
    static redirect(url, status = 302) { return new Response(null, { status, headers: { location: String(url) } }); }
  }
  class Request {
    constructor(method, url, headers, body) {
      this.method = method; this.url = url; this.headers = new Headers(headers); this.#body = body;
    }
    #body;
    async arrayBuffer() { return (this.#body ?? new Uint8Array(0)).buffer; }
    async bytes() { return this.#body ?? new Uint8Array(0); }
    async text() { return this.#body ? utf8(this.#body) : ''; }
    async json() { return JSON.parse(await this.text()); }
  }
  const files = Object.freeze({
    async get(path) { return await read(String(path), true); },
    async bytes(path) { return await read(String(path), false); },
    async json(path) { const t = await read(String(path), true); return t === null ? null : JSON.parse(t); },
  });
  const env = Object.freeze({ files });
  Object.defineProperty(globalThis, 'Headers', { value: Headers });
  Object.defineProperty(globalThis, 'Response', { value: Response });
  Object.defineProperty(globalThis, 'Request', { value: Request });
  Object.defineProperty(globalThis, 'TextEncoder', { value: class TextEncoder { encode(s) { return toUtf8(s); } } });
  Object.defineProperty(globalThis, 'TextDecoder', { value: class TextDecoder { decode(u8) { return u8 ? utf8(new Uint8Array(u8)) : ''; } } });
  Object.defineProperty(globalThis, 'console', { value: Object.freeze({ log() {}, info() {}, warn() {}, error() {}, debug() {} }) });
  globalThis.__pw_invoke = async (handler, method, url, headers, body) => {
    if (!handler || typeof handler.fetch !== 'function') throw new TypeError('default export has no fetch(request, env) method');
    let res = await handler.fetch(new Request(method, url, headers, body), env);
    if (typeof res === 'string') res = new Response(res);
    if (!(res instanceof Response)) throw new TypeError('fetch() did not return a Response');
    let b = res.body;
    if (b === null || b === undefined) b = '';
    else if (b instanceof ArrayBuffer) b = new Uint8Array(b);
    else if (!(b instanceof Uint8Array)) b = String(b);
    const isText = typeof b === 'string';
    if (isText && !res.headers.has('content-type')) res.headers.set('content-type', 'text/plain; charset=utf-8');
    return { status: Number(res.status), headers: [...res.headers.entries()], text: isText ? b : null, bytes: isText ? null : b };
  };
})();
`;

/** The archive name a module specifier of module `base` names: relative to it, or from the archive root. */
export function moduleName(base: string, spec: string): string {
  if (spec.startsWith('./') || spec.startsWith('../')) {
    const parts = base.split('/').slice(0, -1);
    for (const seg of spec.split('/')) {
      if (seg === '..') parts.pop(); else if (seg !== '.') parts.push(seg);
    }
    return parts.join('/');
  }
  return spec.replace(/^\//, '');
}

const IMPORT_SPECIFIER = /\b(?:import|export)\s*(?:[\w$*{}\s,]*?\bfrom\s*)?(['"])([^'"\n]{1,512})\1/g;

/**
 * Archive names of the modules a module's source imports statically (`import … from "…"`,
 * `import "…"`, `export … from "…"`), at most `max`. A scan, not a parse: a match inside a string
 * or comment only names a module that is loaded for nothing (or absent, and skipped).
 */
export function staticImports(name: string, source: string, max = 256): string[] {
  const out = new Set<string>();
  for (const m of source.matchAll(IMPORT_SPECIFIER)) {
    out.add(moduleName(name, m[2] as string));
    if (out.size >= max) break;
  }
  return [...out];
}

type Limit = 'cpu' | 'wall';

class Vm {
  readonly handlers = new Map<string, JSValueHandle>();
  cpuUsed = 0;
  enteredAt: number | undefined;
  /** When the interrupt handler last ran while the guest was in, and the guest CPU time at which it was stopped. */
  lastTick: number | undefined;
  stoppedAt = 0;
  wallDeadline = Infinity;
  clockMs = 0;
  hit: Limit | undefined;
  broken = false;
  invoke!: JSValueHandle;
  constructor(public vm: QuickJS) {}

  /** Runs guest code, counting its CPU time against the request. */
  guest<T>(fn: () => T): T {
    this.enteredAt = performance.now();
    this.lastTick = undefined;
    try { return fn(); } finally {
      this.cpuUsed += performance.now() - (this.enteredAt ?? performance.now());
      this.enteredAt = this.lastTick = undefined;
    }
  }
}

/** A pool of warm VMs for one archive's handlers. */
export class HandlerPool {
  private readonly idle: Vm[] = [];
  private count = 0;
  private readonly waiting: ((vm: Vm | Error) => void)[] = [];
  private closed = false;
  /**
   * VMs created (cold starts) and discarded after a limit or error, and the guest CPU time (ms) at
   * which the last handler stopped for its CPU cap was interrupted — for tests and metrics.
   */
  readonly stats = { created: 0, discarded: 0, runs: 0, lastCpuStopMs: 0 };

  constructor(private readonly host: SandboxHost, readonly limits: SandboxLimits = DEFAULT_SANDBOX_LIMITS) {}

  private async create(): Promise<Vm> {
    const wasm = await compiledWasm();
    // eslint-disable-next-line prefer-const
    let box: Vm | undefined;
    const host = this.host;
    const limits = this.limits;
    const vm = await QuickJS.create({
      wasm,
      memoryLimit: limits.memory,
      maxStackSize: 256 * 1024,
      timezoneOffset: 0,
      interruptHandler: () => {
        const b = box;
        if (!b || b.enteredAt === undefined) return false;
        const now = performance.now();
        const used = b.cpuUsed + (now - b.enteredAt);
        // Stop at the last check that still falls within the cap: the next one is expected one step later.
        const step = now - (b.lastTick ?? now);
        b.lastTick = now;
        if (used + step > limits.cpuTime) { b.hit = 'cpu'; b.stoppedAt = used; return true; }
        if (now > b.wallDeadline) { b.hit = 'wall'; return true; }
        return false;
      },
      wasi: (memory: { buffer: ArrayBuffer }) => ({
        clock_time_get(_id: number, _precision: bigint, resultPtr: number) {
          new DataView(memory.buffer).setBigUint64(resultPtr, BigInt(Math.floor(box?.clockMs ?? 0)) * 1_000_000n, true);
          return 0;
        },
      }),
      moduleLoader: {
        normalize: moduleName,
        load: (name: string) => {
          const src = host.loadModule(name);
          if (src === undefined) throw new Error(`module ${name} is not in the archive`);
          return src;
        },
      },
    });
    box = new Vm(vm);
    const b = box;
    vm.newFunction('__pw_read', (...args) => {
      const name = args[0]?.toString() ?? '';
      const asText = args[1]?.toBoolean() === true;
      const d = vm.newPromise();
      host.readFile(name).then(
        (buf) => {
          if (b.broken) return;
          try {
            // Host-side copies are not all counted by the engine's allocator: bound them here.
            if (buf !== undefined && buf.length > limits.memory / 2) throw new Error(`${buf.length} bytes exceed half the VM memory cap`);
            if (buf === undefined) d.resolve(vm.null);
            else { const h = asText ? vm.newString(buf.toString('utf8')) : vm.newUint8Array(buf); d.resolve(h); h.dispose(); }
          } catch (err) {
            // The file does not fit in the VM's memory: the handler sees an error it may catch.
            try { const e = vm.newError(new Error(`file ${name} cannot be loaded: ${(err as Error).message}`)); d.reject(e); e.dispose(); } catch { b.broken = true; }
          }
          this.pump(b);
        },
        (err: unknown) => {
          if (b.broken) return;
          const e = vm.newError(err instanceof Error ? err : new Error(String(err)));
          d.reject(e); e.dispose();
          this.pump(b);
        },
      );
      return d.handle;
    }).consume((f) => vm.setProp(vm.global, '__pw_read', f));
    vm.evalCode(PRELUDE, '<prelude>').dispose();
    b.invoke = vm.global.getProp('__pw_invoke');
    this.stats.created++;
    return b;
  }

  private pump(b: Vm): void {
    try { b.guest(() => b.vm.executePendingJobs()); } catch { /* surfaces through the request's promise */ }
  }

  private acquire(): Promise<Vm> {
    if (this.closed) return Promise.reject(new PeerwebError('PW_ERR_SANDBOX_BUSY', { size: 0, waiting: 0 }));
    const vm = this.idle.pop();
    if (vm) return Promise.resolve(vm);
    if (this.count < this.limits.pool) {
      this.count++;
      return this.create().catch((err: unknown) => { this.count--; throw err; });
    }
    if (this.waiting.length >= this.limits.queue) return Promise.reject(new PeerwebError('PW_ERR_SANDBOX_BUSY', { size: this.limits.pool, waiting: this.waiting.length }));
    return new Promise((resolve, reject) => this.waiting.push((v) => (v instanceof Error ? reject(v) : resolve(v))));
  }

  private release(b: Vm, discard: boolean): void {
    if (discard || this.closed) {
      b.broken = true;
      this.stats.discarded++;
      try { b.vm.dispose(); } catch { /* already unusable */ }
      this.count--;
      const next = this.waiting.shift();
      if (next) {
        if (this.closed) next(new PeerwebError('PW_ERR_SANDBOX_BUSY', { size: 0, waiting: 0 }));
        else { this.count++; this.create().then(next, (err: Error) => { this.count--; next(err); }); }
      }
      return;
    }
    const next = this.waiting.shift();
    if (next) next(b); else this.idle.push(b);
  }

  private handlerOf(b: Vm, name: string): JSValueHandle {
    const have = b.handlers.get(name);
    if (have) return have;
    const src = this.host.loadModule(name);
    if (src === undefined) throw new PeerwebError('PW_ERR_SANDBOX_HANDLER', { handler: name, reason: 'module is not in the archive' });
    const vm = b.vm;
    const p = b.guest(() => vm.evalCode(src, name, EvalFlags.TYPE_MODULE));
    const settled = b.guest(() => promiseValue(vm, p));
    p.dispose();
    const def = settled.getProp('default');
    settled.dispose();
    b.handlers.set(name, def);
    return def;
  }

  /** Runs `handler` (an archive module name) for one request. Limits and errors become PeerwebErrors. */
  async run(handler: string, req: HandlerRequest, now: number = Date.now()): Promise<HandlerResponse> {
    const b = await this.acquire();
    this.stats.runs++;
    b.cpuUsed = 0; b.stoppedAt = 0; b.hit = undefined; b.clockMs = now;
    const started = performance.now();
    b.wallDeadline = started + this.limits.wallTime;
    let discard = false;
    let timer: NodeJS.Timeout | undefined;
    try {
      const vm = b.vm;
      const fn = this.handlerOf(b, handler);
      if (req.body && req.body.length > this.limits.memory / 2) throw new PeerwebError('PW_ERR_SANDBOX_LIMIT', { handler, reason: `request body of ${req.body.length} bytes exceeds half the VM memory cap` });
      const hdrs = vm.hostToHandle(req.headers.map(([k, v]) => [k, v]));
      const body = req.body && req.body.length > 0 ? vm.newUint8Array(req.body) : vm.undefined;
      const args = [fn, vm.newString(req.method), vm.newString(req.url), hdrs, body];
      const p = b.guest(() => vm.callFunction(b.invoke, vm.undefined, ...args));
      for (const a of args.slice(1)) if (a !== vm.undefined) a.dispose();
      b.guest(() => vm.executePendingJobs());
      const wall = new Promise<never>((_, reject) => {
        timer = setTimeout(() => { b.hit = 'wall'; reject(new Error('wall time')); }, Math.max(1, b.wallDeadline - performance.now()));
      });
      const result = await Promise.race([vm.resolvePromise(p), wall]);
      p.dispose();
      if ('error' in result) {
        const msg = result.error.consume((h) => { try { return vm.dump(h) as unknown; } catch { return 'error'; } });
        throw guestError(msg);
      }
      const out = result.value.consume((h) => readResponse(vm, h, this.limits.maxResponse, handler));
      return out;
    } catch (err) {
      const m = err instanceof Error ? err.message : String(err);
      if (b.hit) {
        discard = true;
        if (b.hit === 'cpu') this.stats.lastCpuStopMs = b.stoppedAt;
        throw new PeerwebError('PW_ERR_SANDBOX_LIMIT', { handler, reason: b.hit === 'cpu' ? `CPU time above ${this.limits.cpuTime} ms` : `wall time above ${this.limits.wallTime} ms` });
      }
      if (/out of memory|stack overflow|maximum call stack/i.test(m)) {
        discard = true;
        throw new PeerwebError('PW_ERR_SANDBOX_LIMIT', { handler, reason: /stack/i.test(m) ? 'stack overflow' : `memory above ${this.limits.memory} bytes` });
      }
      if (err instanceof PeerwebError) throw err;
      throw new PeerwebError('PW_ERR_SANDBOX_HANDLER', { handler, reason: m.slice(0, 500) });
    } finally {
      if (timer) clearTimeout(timer);
      // A VM that hit a limit may hold half-run state: it is replaced. A plain throw keeps it.
      this.release(b, discard);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const w of this.waiting.splice(0)) w(new PeerwebError('PW_ERR_SANDBOX_BUSY', { size: 0, waiting: 0 }));
    for (const b of this.idle.splice(0)) { b.broken = true; try { b.vm.dispose(); } catch { /* ignore */ } this.count--; }
  }
}

function guestError(v: unknown): Error {
  if (v && typeof v === 'object' && 'message' in v) {
    const o = v as { name?: unknown; message?: unknown };
    return new Error(`${String(o.name ?? 'Error')}: ${String(o.message)}`);
  }
  return new Error(String(v));
}

function promiseValue(vm: QuickJS, p: JSValueHandle): JSValueHandle {
  // Settled synchronously: module sources are all in memory and jobs were drained.
  const holder = vm.newObject();
  const setter = vm.evalCode('(p, o) => p.then((v) => { o.v = v; o.ok = true; }, (e) => { o.e = String(e && e.stack ? e + "\\n" + e.stack : e); o.ok = false; })');
  vm.callFunction(setter, vm.undefined, p, holder).dispose();
  setter.dispose();
  vm.executePendingJobs();
  const ok = holder.getProp('ok').consume((h) => (h.isBool ? h.toBoolean() : undefined));
  if (ok !== true) {
    const e = holder.getProp('e').consume((h) => (h.isString ? h.toString() : 'module did not finish loading'));
    holder.dispose();
    throw new Error(e);
  }
  const v = holder.getProp('v');
  holder.dispose();
  return v;
}

function readResponse(vm: QuickJS, h: JSValueHandle, max: number, handler: string): HandlerResponse {
  const status = h.getProp('status').consume((x) => x.toNumber());
  if (!Number.isInteger(status) || status < 200 || status > 599) throw new PeerwebError('PW_ERR_SANDBOX_HANDLER', { handler, reason: `status ${status} is not 200-599` });
  const headers = h.getProp('headers').consume((x) => vm.dump(x)) as unknown;
  if (!Array.isArray(headers) || headers.length > 200) throw new PeerwebError('PW_ERR_SANDBOX_HANDLER', { handler, reason: 'headers are not a list of at most 200 pairs' });
  const outHeaders: [string, string][] = [];
  for (const pair of headers) {
    const [k, v] = Array.isArray(pair) ? pair as unknown[] : [];
    if (typeof k !== 'string' || typeof v !== 'string' || !/^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,256}$/.test(k) || /[\r\n\0]/.test(v) || v.length > 8192) {
      throw new PeerwebError('PW_ERR_SANDBOX_HANDLER', { handler, reason: `bad header ${JSON.stringify(k)}` });
    }
    outHeaders.push([k, v]);
  }
  const text = h.getProp('text');
  let body: Buffer;
  if (text.isString) body = Buffer.from(text.toString(), 'utf8');
  else body = h.getProp('bytes').consume((x) => Buffer.from(x.toUint8Array()));
  text.dispose();
  if (body.length > max) throw new PeerwebError('PW_ERR_SANDBOX_HANDLER', { handler, reason: `response body of ${body.length} bytes is above ${max}` });
  return { status, headers: outHeaders, body };
}
