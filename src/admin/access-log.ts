import { createWriteStream, type WriteStream } from 'node:fs';

/** One line per request, written in batches: `time remote method url status bytes ms TAG`. */
export interface AccessLog {
  /** False when the log is off (callers skip building the line). */
  readonly enabled: boolean;
  write(remote: string, method: string, url: string, status: number, bytes: number, ms: number, tag: string): void;
  close(): Promise<void>;
}

const noop: AccessLog = { enabled: false, write() {}, close: async () => {} };

export function createAccessLog(target: string): AccessLog {
  if (target === 'off' || target === '') return noop;
  const out: NodeJS.WritableStream | WriteStream = target === '-' ? process.stdout : createWriteStream(target, { flags: 'a' });
  let pending: string[] = [];
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    if (pending.length === 0) return;
    const text = pending.join('');
    pending = [];
    out.write(text);
  };
  return {
    enabled: true,
    write(remote, method, url, status, bytes, ms, tag) {
      pending.push(`${new Date().toISOString()} ${remote} ${method} ${url} ${status} ${bytes} ${ms} ${tag}\n`);
      if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
    },
    async close() {
      flush();
      if (out !== process.stdout) await new Promise<void>((r) => (out as WriteStream).end(r));
    },
  };
}
