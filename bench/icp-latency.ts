// ICP answer latency on loopback: a peerweb ICP endpoint (in its own process, answering from an
// in-memory index) is sent queries at a fixed rate from another process; prints p50/p99/max.
// Usage: npx tsx bench/icp-latency.ts [--rate 10000] [--seconds 5] [--warmup 1]
import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { benchSection } from './report.js';
import { createIcpEndpoint, decodeIcp, encodeIcp, IcpOpcode } from '../src/peers/index.js';

const { values } = parseArgs({ options: { rate: { type: 'string', default: '10000' }, seconds: { type: 'string', default: '5' }, warmup: { type: 'string', default: '1' }, server: { type: 'boolean', default: false } } });

if (values.server) {
  const index = new Set<string>();
  for (let i = 0; i < 100_000; i += 2) index.add(`http://bench.example/object/${i}`);
  const ep = await createIcpEndpoint({ host: '127.0.0.1', port: 0, lookup: (u) => (index.has(u) ? 'hit' : 'miss'), ratePerSource: 1_000_000 });
  process.stdout.write(`${ep.address.port}\n`);
  process.on('SIGTERM', () => { void ep.close().then(() => process.exit(0)); });
} else {
  const rate = Number(values.rate);
  const seconds = Number(values.seconds);
  // The first second warms the endpoint up (JIT) at the same rate and is not counted.
  const warmup = Math.round(rate * Number(values.warmup));
  const server = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--server'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const [chunk] = (await once(server.stdout!, 'data')) as [Buffer];
  const port = Number(chunk.toString().trim());
  const sock = createSocket('udp4');
  sock.bind(0, '127.0.0.2');
  await once(sock, 'listening');
  const total = Math.round(rate * seconds) + warmup;
  const sentAt = new Float64Array(total + 1);
  const lat: number[] = [];
  let hits = 0;
  sock.on('message', (buf) => {
    const r = decodeIcp(buf);
    if (!r.ok) return;
    const t = sentAt[r.message.reqnum];
    if (t && r.message.reqnum > warmup) { lat.push(performance.now() - t); if (r.message.opcode === IcpOpcode.HIT) hits++; }
  });
  const queries = Array.from({ length: 1000 }, (_, i) => `http://bench.example/object/${i * 7}`);
  const start = performance.now();
  let sent = 0;
  await new Promise<void>((resolve) => {
    const tick = () => {
      const due = Math.min(total, Math.floor(((performance.now() - start) / 1000) * rate));
      while (sent < due) {
        sent++;
        sentAt[sent] = performance.now();
        sock.send(encodeIcp({ opcode: IcpOpcode.QUERY, reqnum: sent, url: queries[sent % queries.length] as string }), port, '127.0.0.1');
      }
      if (sent >= total) resolve();
      else setImmediate(tick);
    };
    tick();
  });
  const deadline = performance.now() + 2000;
  while (lat.length < total - warmup && performance.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  const elapsed = (performance.now() - start) / 1000;
  lat.sort((a, b) => a - b);
  const q = (p: number) => (lat[Math.min(lat.length - 1, Math.floor(p * lat.length))] ?? NaN).toFixed(3);
  const table = [
    `| ICP queries/s (target) | sent | answered | hits | p50 ms | p99 ms | max ms |`,
    `|---|---|---|---|---|---|---|`,
    `| ${rate} (${(total / elapsed).toFixed(0)} achieved over ${elapsed.toFixed(1)} s, first ${warmup} not counted) | ${total - warmup} | ${lat.length} | ${hits} | ${q(0.5)} | ${q(0.99)} | ${lat.length ? (lat[lat.length - 1] as number).toFixed(3) : 'NaN'} |`,
  ].join('\n');
  console.log(table);
  benchSection('icp', {
    title: 'ICP answer latency on loopback',
    command: `npx tsx bench/icp-latency.ts --rate ${rate} --seconds ${seconds} --warmup ${values.warmup}`,
    what: 'Queries from another process at a fixed rate to an endpoint answering from a 1,000-URL index; latency is send to reply at the sender.',
    target: 'p99 < 2 ms at 10,000 queries/s.',
    table,
  });
  sock.close();
  server.kill('SIGTERM');
}
