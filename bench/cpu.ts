/** How busy each CPU core was over an interval, from /proc/stat (Linux); empty elsewhere. */
import { readFileSync } from 'node:fs';

function sample(): Map<number, { busy: number; total: number }> {
  const out = new Map<number, { busy: number; total: number }>();
  let text = '';
  try { text = readFileSync('/proc/stat', 'utf8'); } catch { return out; }
  for (const line of text.split('\n')) {
    const m = /^cpu(\d+)\s+(.*)$/.exec(line);
    if (!m) continue;
    // user nice system idle iowait irq softirq steal …
    const v = (m[2] as string).trim().split(/\s+/).map(Number);
    const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
    const idle = (v[3] ?? 0) + (v[4] ?? 0);
    out.set(Number(m[1]), { busy: total - idle, total });
  }
  return out;
}

/** Starts measuring; the returned function gives each core's busy share (0–1) since the start. */
export function coreBusy(): () => Map<number, number> {
  const a = sample();
  return () => {
    const b = sample();
    const out = new Map<number, number>();
    for (const [core, end] of b) {
      const start = a.get(core);
      if (!start || end.total <= start.total) continue;
      out.set(core, (end.busy - start.busy) / (end.total - start.total));
    }
    return out;
  };
}
