import { connect, type LookupFunction, type Socket } from 'node:net';
import { PeerwebError } from '../errors/index.js';
import { Fields } from '../http/fields.js';
import { guardedLookup } from '../upstream/index.js';
import type { Transaction } from './context.js';
import { finish } from './finish.js';
import { checkDestinationHost } from './route.js';
import type { Step } from './step-names.js';

/** CONNECT host:port — a byte tunnel to an allowed port; never cached, never to internal addresses. */
export async function tunnel(tx: Transaction): Promise<Step> {
  const { req, res, ctx } = tx;
  const m = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(req.target);
  if (!m) throw new PeerwebError('PW_ERR_HTTP_PARSE', { reason: `CONNECT target ${JSON.stringify(req.target.slice(0, 100))} is not host:port` });
  const host = m[1] as string;
  const port = Number(m[2]);
  tx.tag = 'TUNNEL';
  if (!ctx.config['forward.connectPorts'].includes(port)) {
    throw new PeerwebError('PW_ERR_ROUTE_FORBIDDEN_DEST', { host: req.target, reason: `port ${port} is not in forward.connectPorts` });
  }
  checkDestinationHost(tx, host);
  const bare = host.startsWith('[') ? host.slice(1, -1) : host;
  const upstream: Socket = await new Promise((resolve, reject) => {
    const s = connect({ host: bare, port, ...(ctx.config['forward.allowPrivate'] ? {} : { lookup: guardedLookup as unknown as LookupFunction }), timeout: ctx.config['upstream.connectTimeout'] });
    s.once('connect', () => { s.setTimeout(0); resolve(s); });
    s.once('timeout', () => { s.destroy(); reject(new PeerwebError('PW_ERR_UPSTREAM_TIMEOUT', { origin: req.target, ms: ctx.config['upstream.connectTimeout'] })); });
    s.once('error', (err: NodeJS.ErrnoException) => reject(err.code === 'PW_FORBIDDEN_DESTINATION'
      ? new PeerwebError('PW_ERR_ROUTE_FORBIDDEN_DEST', { host: req.target, reason: 'resolves to an internal address' })
      : new PeerwebError('PW_ERR_UPSTREAM_CONNECT', { origin: req.target, reason: err.message })));
  });
  tx.status = 200;
  res.writeHead(200, new Fields());
  const client = await res.takeSocket();
  client.pipe(upstream);
  upstream.pipe(client);
  const done = new Promise<void>((resolve) => {
    let open = 2;
    const closed = () => { if (--open === 0) resolve(); };
    client.once('close', closed);
    upstream.once('close', closed);
  });
  client.on('error', () => upstream.destroy());
  upstream.on('error', () => client.destroy());
  client.on('data', (c: Buffer) => { tx.bytes += c.length; });
  await done;
  finish(tx);
  return 'done';
}
