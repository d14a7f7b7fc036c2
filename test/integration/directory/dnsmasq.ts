import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createSocket } from 'node:dgram';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnDaemon } from '../../helpers/daemon.js';

export const DNSMASQ = ['/usr/sbin/dnsmasq', '/usr/local/sbin/dnsmasq'].find((p) => existsSync(p));

function freeUdpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createSocket('udp4');
    s.once('error', reject);
    s.bind(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

export interface Dnsmasq { readonly server: string; readonly port: number; stop(): Promise<void> }

/** Starts dnsmasq in the foreground on 127.0.0.1 with these config lines; resolves once it answers. */
export async function startDnsmasq(lines: readonly string[]): Promise<Dnsmasq> {
  // The port is free for UDP when chosen but dnsmasq also binds TCP, and others may take it meanwhile: retry.
  for (let attempt = 1; ; attempt++) {
    try { return await startOnce(lines); } catch (err) {
      if (attempt >= 5 || !/Address already in use/.test((err as Error).message)) throw err;
    }
  }
}

async function startOnce(lines: readonly string[]): Promise<Dnsmasq> {
  if (!DNSMASQ) throw new Error('dnsmasq not installed');
  const dir = mkdtempSync(join(tmpdir(), 'pw-dnsmasq-'));
  const conf = join(dir, 'dnsmasq.conf');
  writeFileSync(conf, lines.join('\n') + '\n');
  const port = await freeUdpPort();
  const args = [`--conf-file=${conf}`, '--no-resolv', '--no-hosts', `--port=${port}`, '--listen-address=127.0.0.1', '--bind-interfaces',
    '--keep-in-foreground', '--log-facility=-', '--pid-file=', ...(process.getuid?.() === 0 ? ['--user=root'] : [])];
  const daemon = spawnDaemon(DNSMASQ, args, dir);
  const stop = daemon.stop;
  const server = `127.0.0.1:${port}`;
  // Ready when it answers a query (any answer).
  const { Resolver } = await import('node:dns/promises');
  const r = new Resolver({ timeout: 200, tries: 1 });
  r.setServers([server]);
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (daemon.exited()) { await stop(); throw new Error(`dnsmasq exited: ${daemon.stderr()}`); }
    try { await r.resolveTxt('ready.invalid'); break; } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOTFOUND' || code === 'ENODATA' || code === 'EREFUSED' || code === 'ESERVFAIL') break;
      if (Date.now() > deadline) { await stop(); throw new Error(`dnsmasq did not answer: ${daemon.stderr()}`); }
    }
  }
  return { server, port, stop };
}
