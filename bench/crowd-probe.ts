/**
 * Where the time of a flash crowd goes: 500 simultaneous GETs of one cold 1 KiB object behind a
 * 200 ms origin, against a peerweb node in this process's sibling. Prints p50/p99 and when the
 * origin saw the request. Not a test; `npx tsx bench/crowd-probe.ts [clients]`.
 */
import { performance } from 'node:perf_hooks';
import { startOrigin } from './origin.js';
import { flashCrowd } from './clients.js';
import { peerweb } from './targets.js';
import { percentile } from './util.js';

const clients = Number(process.argv[2] ?? 500);
const origin = await startOrigin();
const node = await peerweb.start(origin.port, 'bench');
try {
  if (process.argv[3] === 'warm') await fetch(`http://127.0.0.1:${node.port}/obj/1k/warm`).then((r) => r.arrayBuffer());
  for (let round = 0; round < Number(process.env.ROUNDS ?? 3); round++) {
    const path = `/slow/probe-${Date.now()}-${round}`;
    const t0 = performance.now();
    const r = await flashCrowd(node.port, path, clients);
    const total = performance.now() - t0;
    const l = r.latenciesMs.sort((a, b) => a - b);
    console.log(`round ${round}: ok ${r.ok}/${clients} origin ${await origin.count(path)} p50 ${percentile(l, 50).toFixed(1)} p99 ${percentile(l, 99).toFixed(1)} max ${(l[l.length - 1] ?? 0).toFixed(1)} total ${total.toFixed(0)} ms`);
  }
} finally {
  await node.stop();
  await origin.close();
}
