import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:net';
import { request as undiciRequest, Agent } from 'undici';
import { loadConfig } from '../../src/config/index.js';
import { createNode, type PeerwebNode, type NodeOptions } from '../../src/node/index.js';

export interface TestNode {
  readonly node: PeerwebNode;
  readonly base: string;
  readonly admin: string;
  readonly dataDir: string;
  get(path: string, headers?: Record<string, string>, method?: string, body?: string): Promise<TestResponse>;
  stop(): Promise<void>;
}

export interface TestResponse { status: number; headers: Record<string, string | string[] | undefined>; body: Buffer; text: string }

/** A real node on 127.0.0.1 port 0 (proxy and admin), data in a temp dir removed at stop. */
export async function startNode(values: Record<string, unknown>, opts: NodeOptions & { dataDir?: string; keepData?: boolean } = {}): Promise<TestNode> {
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'pw-node-'));
  const config = loadConfig({ values: { listen: '127.0.0.1:0', admin: '127.0.0.1:0', data: dataDir, 'log.access': 'off', 'cache.disk': '64MiB', ...values } });
  const node = await createNode(config, opts);
  await node.start();
  const agent = new Agent({ connections: 256 });
  const base = `http://127.0.0.1:${node.proxyAddress.port}`;
  return {
    node,
    base,
    admin: `http://127.0.0.1:${node.adminAddress.port}`,
    dataDir,
    async get(path, headers = {}, method = 'GET', body?: string) {
      const res = await undiciRequest(`${base}${path}`, { method: method as 'GET', headers, dispatcher: agent, ...(body !== undefined ? { body } : {}) });
      const buf = Buffer.from(await res.body.arrayBuffer());
      return { status: res.statusCode, headers: res.headers as TestResponse['headers'], body: buf, text: buf.toString() };
    },
    async stop() {
      await agent.close();
      await node.stop();
      if (!opts.keepData) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Sends raw bytes to host:port and resolves with everything received until the server closes or `until` matches. */
export function rawExchange(port: number, bytes: string | Buffer, until?: (received: string) => boolean, timeoutMs = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1');
    let got = '';
    const timer = setTimeout(() => { s.destroy(); reject(new Error(`raw exchange timed out; got ${JSON.stringify(got.slice(0, 300))}`)); }, timeoutMs);
    s.on('data', (d: Buffer) => {
      got += d.toString('latin1');
      if (until?.(got)) { clearTimeout(timer); s.destroy(); resolve(got); }
    });
    s.on('close', () => { clearTimeout(timer); resolve(got); });
    s.on('error', (e) => { clearTimeout(timer); reject(e); });
    s.write(bytes);
  });
}
