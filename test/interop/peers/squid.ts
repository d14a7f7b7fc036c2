// Starts a real Squid (Debian /usr/sbin/squid) for the interop tests, from a config in a temp folder.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync, chmodSync, rmSync } from 'node:fs';
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { createSocket } from 'node:dgram';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const SQUID = process.env.SQUID_BIN ?? '/usr/sbin/squid';
export const squidMissing = existsSync(SQUID) ? false : `squid not installed at ${SQUID} (apt-get install squid)`;

export interface Squid { readonly httpPort: number; readonly icpPort: number; readonly dir: string; readonly pid: number; log(): string; stop(): Promise<void> }

/** A free TCP port on 127.0.0.1 (closed again before Squid binds it). */
export async function freeTcpPort(): Promise<number> {
  const s = createNetServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

export async function freeUdpPort(host = '127.0.0.1'): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, host, r));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

async function waitFor(what: string, ms: number, check: () => boolean, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (child.exitCode !== null) throw new Error(`squid exited with ${child.exitCode} before ${what}`);
    if (Date.now() > deadline) throw new Error(`squid: no ${what} within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Runs Squid in the foreground (-N) with `extra` config lines; ready when its ports are open. */
export async function startSquid(extra: string[], opts: { icp?: boolean } = {}): Promise<Squid> {
  const dir = mkdtempSync(join(tmpdir(), 'pw-squid-'));
  chmodSync(dir, 0o777); // when run as root Squid drops to its cache_effective_user
  const httpPort = await freeTcpPort();
  const icpPort = opts.icp === false ? 0 : await freeUdpPort();
  const conf = [
    `http_port 127.0.0.1:${httpPort}`,
    `icp_port ${icpPort}`,
    'udp_incoming_address 127.0.0.1',
    `pid_filename ${join(dir, 'squid.pid')}`,
    `access_log stdio:${join(dir, 'access.log')}`,
    `cache_log ${join(dir, 'cache.log')}`,
    'cache_store_log none',
    `coredump_dir ${dir}`,
    'cache_mem 16 MB',
    'pinger_enable off',
    'netdb_filename none',
    'shutdown_lifetime 0 seconds',
    'icp_access allow all',
    'http_access allow localhost',
    'http_access deny all',
    'dns_nameservers 127.0.0.1',
    'debug_options ALL,1',
    'minimum_direct_rtt 0', // else Squid skips ICP for origins it measured as close (all of loopback)
    ...extra,
  ];
  const file = join(dir, 'squid.conf');
  writeFileSync(file, conf.join('\n') + '\n');
  chmodSync(file, 0o644);
  const child = spawn(SQUID, ['-N', '-f', file], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => { stderr += d.toString(); });
  const logFile = join(dir, 'cache.log');
  const log = () => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : '') + stderr;
  const stop = async () => {
    if (child.exitCode === null && child.pid !== undefined) {
      process.kill(child.pid, 'SIGTERM');
      const deadline = Date.now() + 5000;
      while (child.exitCode === null && child.signalCode === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
      if (child.exitCode === null && child.signalCode === null) process.kill(child.pid, 'SIGKILL');
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitFor('HTTP listener', 20_000, () => /Accepting HTTP Socket connections/.test(log()), child);
    if (icpPort) await waitFor('ICP listener', 10_000, () => /Accepting ICP messages/.test(log()), child);
  } catch (err) {
    const text = log();
    await stop();
    throw new Error(`${(err as Error).message}\n${text.slice(-3000)}`);
  }
  return { httpPort, icpPort, dir, pid: child.pid as number, log, stop };
}

export interface Recorder { readonly server: Server; readonly port: number; readonly urls: string[]; close(): Promise<void> }

/** A small HTTP server on host:0 that records request targets and answers with `respond`. */
export async function recordingServer(host: string, respond: (req: IncomingMessage, res: ServerResponse) => void): Promise<Recorder> {
  const urls: string[] = [];
  const server = createServer((req, res) => { urls.push(req.url ?? ''); respond(req, res); });
  await new Promise<void>((r) => server.listen(0, host, r));
  return {
    server, urls, port: (server.address() as { port: number }).port,
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}

/** GET `url` through the proxy at 127.0.0.1:port. */
export async function proxyGet(port: number, url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string; headers: IncomingMessage['headers'] }> {
  // Squid under load may log that it accepts before the listener takes connections: retry a refusal briefly.
  const deadline = Date.now() + 5000;
  for (;;) {
    try {
      return await proxyGetOnce(port, url, headers);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ECONNREFUSED' || Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

function proxyGetOnce(port: number, url: string, headers: Record<string, string>): Promise<{ status: number; body: string; headers: IncomingMessage['headers'] }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: url, method: 'GET', headers: { host: new URL(url).host, ...headers }, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
    });
    req.setTimeout(10_000, () => req.destroy(new Error(`proxy GET ${url} timed out`)));
    req.on('error', reject);
    req.end();
  });
}
