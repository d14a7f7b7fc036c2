// Handler sandbox timings: cold start, warm latency, time to stop an infinite loop.
// Run: npx tsx bench/sandbox.ts [--requests 2000]   (prints a Markdown table)
import { HandlerPool, type SandboxHost } from '../src/sandbox/index.js';
import { benchSection } from './report.js';

const requests = Number(process.argv[process.argv.indexOf('--requests') + 1]) || 2000;
const modules: Record<string, string> = {
  'hello.js': `export default { async fetch(req) { return new Response('hello ' + req.url); } };`,
  'search.js': `export default { async fetch(req, env) {
    const q = req.url.split('q=')[1] ?? '';
    const docs = await env.files.json('index.json');
    return Response.json(docs.filter((d) => d.title.includes(q)));
  } };`,
  'loop.js': `export default { async fetch() { for (;;) {} } };`,
};
const index = Buffer.from(JSON.stringify(Array.from({ length: 200 }, (_, i) => ({ title: `Document ${i} about caching`, url: `/d/${i}` }))));
const host: SandboxHost = { loadModule: (n) => modules[n], readFile: async (n) => (n === 'index.json' ? index : undefined) };
const limits = { memory: 32 * 1024 ** 2, cpuTime: 50, wallTime: 1000, maxResponse: 1024 ** 2, pool: 1, queue: 10 };
const req = { method: 'GET', url: 'https://www.example.com/search?q=Document%201', headers: [] as [string, string][] };

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

// Compile the engine once (as a node does at start), then measure cold starts: a new VM, module load, first request.
await new HandlerPool(host, limits).run('hello.js', req).catch(() => {});
const cold: number[] = [];
for (let i = 0; i < 20; i++) {
  const pool = new HandlerPool(host, limits);
  const t0 = performance.now();
  await pool.run('search.js', req);
  cold.push(performance.now() - t0);
  await pool.close();
}
const rows: [string, string][] = [];
rows.push(['cold start (new VM + module + first request), p50', `${pct(cold, 50).toFixed(2)} ms`]);
for (const handler of ['hello.js', 'search.js']) {
  const pool = new HandlerPool(host, limits);
  for (let i = 0; i < 50; i++) await pool.run(handler, req);
  const warm: number[] = [];
  for (let i = 0; i < requests; i++) {
    const t0 = performance.now();
    await pool.run(handler, req);
    warm.push(performance.now() - t0);
  }
  rows.push([`warm ${handler} p50 / p99 (${requests} requests)`, `${pct(warm, 50).toFixed(3)} ms / ${pct(warm, 99).toFixed(3)} ms`]);
  await pool.close();
}
const pool = new HandlerPool(host, limits);
const stops: number[] = [];
const guestCpu: number[] = [];
for (let i = 0; i < 5; i++) {
  const t0 = performance.now();
  await pool.run('loop.js', req).catch(() => {});
  stops.push(performance.now() - t0);
  guestCpu.push(pool.stats.lastCpuStopMs);
}
rows.push([`infinite loop: guest CPU time when interrupted (CPU cap ${limits.cpuTime} ms), max of 5`, `${Math.max(...guestCpu).toFixed(2)} ms`]);
rows.push([`infinite loop: request answered (5xx) after, wall time (includes starting a VM, as the stopped one is discarded), max of 5`, `${Math.max(...stops).toFixed(1)} ms`]);
const after = performance.now();
await pool.run('hello.js', req);
rows.push(['next request after a stopped loop (VM replaced)', `${(performance.now() - after).toFixed(2)} ms`]);
await pool.close();

const table = ['| sandbox measure | value |', '|---|---|', ...rows.map(([k, v]) => `| ${k} | ${v} |`)].join('\n');
console.log(table);
benchSection('sandbox', {
  title: 'Archive handlers in the sandbox',
  command: 'npx tsx bench/sandbox.ts',
  what: 'Cold start and warm calls of handlers in quickjs-wasi VMs, and how fast an infinite loop is stopped.',
  target: 'warm p50 ≤ 1 ms, cold start ≤ 20 ms, an infinite loop stopped within the CPU cap.',
  table,
});
