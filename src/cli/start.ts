import { loadConfig } from '../config/index.js';
import { configFlagsHelp, parseFlags } from './flags.js';
import type { CliIo, Subcommand } from './io.js';

export const command: Subcommand = {
  summary: 'Run a node',
  get usage() {
    return `Usage: peerweb start [--config FILE] [options]

Runs a node on embedded defaults: a forward proxy on 127.0.0.1:8080 with the admin listener
(metrics, purge, health) on 127.0.0.1:8081 and data under ./.peerweb. With --origin it is a
reverse proxy for that origin. Every option can also be set in the config file (JSON or TOML);
see docs/config.md.

Options:
  --config FILE  Config file (JSON or TOML)
  --check        Validate the config, print it and exit
${configFlagsHelp()}`;
  },
  async run(argv: readonly string[], io: CliIo): Promise<number> {
    const flags = parseFlags(argv, { config: { type: 'string' }, check: { type: 'boolean' } });
    const config = loadConfig({
      file: typeof flags.own.config === 'string' ? flags.own.config : undefined,
      env: io.env,
      values: flags.values,
    });
    if (flags.own.check) {
      io.stdout.write(`${JSON.stringify(config, null, 2)}\n`);
      return 0;
    }
    const { runNode } = await import('../node/index.js');
    return runNode(config, io);
  },
};
