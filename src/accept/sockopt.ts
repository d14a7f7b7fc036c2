import { createRequire } from 'node:module';
import type { Socket } from 'node:net';

/** Linux: IPPROTO_TCP and TCP_NOTSENT_LOWAT (include/uapi/linux/tcp.h). */
const IPPROTO_TCP = 6;
const TCP_NOTSENT_LOWAT = 25;

type SetSockOpt = (socket: Socket, level: number, name: number, value: number) => void;
let setsockopt: SetSockOpt | null | undefined;

function load(): SetSockOpt | null {
  if (setsockopt !== undefined) return setsockopt;
  try {
    // A native addon with prebuilt binaries; where it cannot load, sockets keep the system's setting.
    setsockopt = (createRequire(import.meta.url)('sockopt') as { setsockopt: SetSockOpt }).setsockopt;
  } catch {
    setsockopt = null;
  }
  return setsockopt;
}

/**
 * Bounds the bytes written to `socket` that the kernel holds unsent (TCP_NOTSENT_LOWAT, Linux): a large
 * response is then handed to the kernel as the client takes it, instead of megabytes ahead, so the bytes
 * a client reads are still in the CPU cache and many connections share the link fairly. Bytes in flight
 * are not limited, so long fat links keep their throughput. False when the option could not be set.
 */
export function limitUnsent(socket: Socket, bytes: number): boolean {
  if (bytes <= 0 || process.platform !== 'linux') return false;
  const f = load();
  if (f === null) return false;
  try {
    f(socket, IPPROTO_TCP, TCP_NOTSENT_LOWAT, bytes);
    return true;
  } catch {
    return false;
  }
}
