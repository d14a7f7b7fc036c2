import type { Config } from '../config/index.js';
import type { CliIo } from '../cli/io.js';

/** Starts every component the config asks for and runs until the signal aborts. */
export async function runNode(config: Config, io: CliIo): Promise<number> {
  io.stderr.write(`peerweb: the proxy pipeline is not built yet (listen ${config.listen.host}:${config.listen.port})\n`);
  return 1;
}
