import type { Transaction } from './context.js';

/** Streams `body` to the client with backpressure, counting bytes; ends the response. */
export async function streamBody(tx: Transaction, body: AsyncIterable<Buffer>): Promise<void> {
  const { res } = tx;
  for await (const chunk of body) {
    if (tx.req.aborted) throw new Error('client went away');
    tx.bytes += chunk.length;
    if (!res.write(chunk)) await res.waitDrain();
  }
  res.end();
}
