/**
 * Counters and gauges, declared once here (name, help, labels). The hot path bumps plain numbers;
 * `/metrics` renders them in the Prometheus text format. Gauges are read from callbacks at scrape time.
 */

/** Result tags of a request: one per access-log line and a label of peerweb_requests_total. */
export const RESULT_TAGS = [
  'HIT', // served from cache, fresh
  'MISS', // fetched from the origin (or a peer), maybe stored
  'REFRESH_HIT', // stale entry revalidated with a 304, served from cache
  'REFRESH_MISS', // stale entry revalidated, origin sent a new body
  'STALE', // served stale: stale-while-revalidate or stale-if-error
  'COLLAPSED', // waited on another client's in-flight fetch of the same key
  'PASS', // not cacheable: forwarded as is
  'SIBLING_HIT', // fetched from a sibling cache that said HIT
  'PARENT', // fetched through a parent cache
  'MIRROR_HIT', // fetched from a mirror and verified
  'TUNNEL', // CONNECT tunnel
  'LOCAL', // answered by the node itself (well-known endpoints, archives)
  'DENIED', // refused by policy (forbidden destination, loop, rate limit)
  'ERROR', // bad request or upstream failure
] as const;
export type ResultTag = (typeof RESULT_TAGS)[number];

interface CounterSpec { readonly help: string; readonly label?: string }

const COUNTERS = {
  peerweb_requests_total: { help: 'Client requests by result tag', label: 'result' },
  peerweb_responses_total: { help: 'Client responses by status class', label: 'class' },
  peerweb_client_bytes_sent_total: { help: 'Body bytes sent to clients' },
  peerweb_origin_requests_total: { help: 'Requests sent upstream (origins, peers, mirrors)', label: 'kind' },
  peerweb_origin_bytes_received_total: { help: 'Body bytes received from upstream' },
  peerweb_collapsed_total: { help: 'Requests that joined an in-flight fetch instead of fetching' },
  peerweb_stored_total: { help: 'Responses written to the cache' },
  peerweb_store_failures_total: { help: 'Responses that could not be stored (too large, aborted, I/O)' },
  peerweb_invalidations_total: { help: 'Cache entries invalidated by unsafe methods' },
  peerweb_purges_total: { help: 'Entries removed by the purge API' },
  peerweb_errors_total: { help: 'Errors by code', label: 'code' },
  peerweb_mirror_notices_total: { help: 'Delisting notices received or polled, by outcome (applied, stale, refused)', label: 'outcome' },
} as const satisfies Record<string, CounterSpec>;

export type CounterName = keyof typeof COUNTERS;

export interface GaugeSource { readonly name: string; readonly help: string; read(): number | ReadonlyMap<string, number>; readonly label?: string }

export class Metrics {
  private readonly plain = new Map<string, number>();
  private readonly labelled = new Map<string, Map<string, number>>();
  private readonly gauges: GaugeSource[] = [];
  /** Request counts by tag, as a plain array indexed like RESULT_TAGS (fast path). */
  private readonly byTag = new Float64Array(RESULT_TAGS.length);
  private readonly tagIndex = new Map<string, number>(RESULT_TAGS.map((t, i) => [t, i]));

  inc(name: CounterName, by = 1, label?: string): void {
    if (label === undefined) {
      this.plain.set(name, (this.plain.get(name) ?? 0) + by);
      return;
    }
    let m = this.labelled.get(name);
    if (!m) this.labelled.set(name, (m = new Map()));
    m.set(label, (m.get(label) ?? 0) + by);
  }

  /** Responses by status class (1xx … 5xx), the hot-path part of peerweb_responses_total. */
  private readonly byClass = new Float64Array(6);
  private bytesSent = 0;

  /** One finished request: its tag, status and body bytes (no Map or string work on the hot path). */
  request(tag: ResultTag, status = 0, bytes = 0): void {
    this.byTag[this.tagIndex.get(tag) as number]! += 1;
    const cls = (status / 100) | 0;
    if (cls >= 1 && cls <= 5) this.byClass[cls]! += 1;
    this.bytesSent += bytes;
  }

  get(name: CounterName, label?: string): number {
    if (name === 'peerweb_requests_total' && label !== undefined) return this.byTag[this.tagIndex.get(label) ?? -1] ?? 0;
    if (name === 'peerweb_responses_total' && label !== undefined) return (this.byClass[Number(label[0])] ?? 0) + (this.labelled.get(name)?.get(label) ?? 0);
    if (name === 'peerweb_client_bytes_sent_total') return this.bytesSent + (this.plain.get(name) ?? 0);
    return label === undefined ? this.plain.get(name) ?? 0 : this.labelled.get(name)?.get(label) ?? 0;
  }

  addGauge(g: GaugeSource): void {
    this.gauges.push(g);
  }

  /** Prometheus text exposition format 0.0.4. */
  render(): string {
    const out: string[] = [];
    const esc = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
    for (const [name, spec] of Object.entries(COUNTERS) as [CounterName, CounterSpec][]) {
      out.push(`# HELP ${name} ${spec.help}`, `# TYPE ${name} counter`);
      if (name === 'peerweb_requests_total') {
        RESULT_TAGS.forEach((t, i) => out.push(`${name}{result="${t}"} ${this.byTag[i]}`));
      } else if (name === 'peerweb_responses_total') {
        for (let c = 1; c <= 5; c++) out.push(`${name}{class="${c}xx"} ${this.get(name, `${c}xx`)}`);
      } else if (name === 'peerweb_client_bytes_sent_total') {
        out.push(`${name} ${this.get(name)}`);
      } else if (spec.label) {
        for (const [l, v] of this.labelled.get(name) ?? []) out.push(`${name}{${spec.label}="${esc(l)}"} ${v}`);
      } else {
        out.push(`${name} ${this.plain.get(name) ?? 0}`);
      }
    }
    for (const g of this.gauges) {
      out.push(`# HELP ${g.name} ${g.help}`, `# TYPE ${g.name} gauge`);
      const v = g.read();
      if (typeof v === 'number') out.push(`${g.name} ${v}`);
      else for (const [l, n] of v) out.push(`${g.name}{${g.label ?? 'name'}="${esc(l)}"} ${n}`);
    }
    return out.join('\n') + '\n';
  }
}
