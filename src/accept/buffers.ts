import { Socket } from 'node:net';

/** Size of the buffer every accepted connection reads into (one read system call fills at most this much). */
export const READ_BUFFER_SIZE = 64 * 1024;

/**
 * Called with the bytes of one read, which live in the shared buffer only until it returns: whatever must
 * outlive the call is copied. Returning false stops reading until `socket.resume()`.
 */
export type BorrowedRead = (n: number, buf: Buffer) => boolean | void;

/**
 * Moves an accepted socket's handle to a new socket whose reads land in `buffer` (Node's `onread` option),
 * so that a request costs no fresh ArrayBuffer and no pass through the Readable stream: at tens of
 * thousands of requests per second the young-generation collector otherwise spends most of each pause
 * sweeping those buffers. The accepted socket must have been created paused (`pauseOnConnect`).
 * Returns undefined when the handle cannot be taken (then the caller keeps the socket as it is).
 */
export function readIntoShared(accepted: Socket, buffer: Buffer, onRead: BorrowedRead): Socket | undefined {
  const inner = accepted as unknown as { _handle?: object | null };
  const handle = inner._handle;
  if (handle === null || handle === undefined || accepted.destroyed) return undefined;
  const opts = { handle, allowHalfOpen: accepted.allowHalfOpen, readable: true, writable: true, onread: { buffer, callback: onRead } };
  const socket = new Socket(opts as ConstructorParameters<typeof Socket>[0]);
  // The old socket lets go of the handle; destroying it only settles the server's connection count.
  inner._handle = null;
  accepted.destroy();
  return socket;
}

/** Size of the shared buffer small responses are assembled in. */
const SCRATCH_SIZE = 64 * 1024;

/**
 * One buffer that small responses are assembled in and written from, reused while the socket takes each
 * write whole at once (the usual case): a pooled `Buffer.allocUnsafe` would cost a fresh ArrayBuffer every
 * few responses. A write the kernel did not take whole stays queued in the socket with its bytes, so the
 * buffer is left to it and a new one made.
 */
export class WriteScratch {
  private buf = Buffer.allocUnsafeSlow(SCRATCH_SIZE);

  /** The scratch buffer when `n` bytes fit in it, else a buffer of its own. */
  take(n: number): Buffer {
    return n <= this.buf.length ? this.buf : Buffer.allocUnsafe(n);
  }

  /** Call right after `socket.write(out)` of a buffer from `take`. */
  written(socket: Socket, out: Buffer): void {
    if (out.buffer === this.buf.buffer && socket.writableLength !== 0) this.buf = Buffer.allocUnsafeSlow(SCRATCH_SIZE);
  }
}
