import { isPeerwebError } from '../errors/index.js';
import { defaultIo, type CliIo, type Subcommand } from './io.js';

/** The subcommands, one file each, loaded only when used. Add a row to add a command. */
const commands: Readonly<Record<string, { summary: string; load: () => Promise<{ command: Subcommand }> }>> = {
  start: { summary: 'Run a node (proxy, cache, origin front, mirror) from flags or a config file', load: () => import('./start.js') },
  get: { summary: 'Download a file from mirrors, verified against the publisher digest', load: () => import('./get.js') },
  push: { summary: 'Pre-warm mirrors with signed PUTs', load: () => import('./push.js') },
  'mirror sync': { summary: 'Copy or update mirrored prefixes from their origin', load: () => import('./mirror-sync.js') },
  'mirror credential': { summary: 'Make a client credential for a mirror (bearer token or password hash)', load: () => import('./mirror-credential.js') },
  keygen: { summary: 'Create a publisher key pair and print the DNS record to publish', load: () => import('./keygen.js') },
  'archive build': { summary: 'Build a signed site archive (.pwar) from a folder', load: () => import('./archive-build.js') },
  'archive sign': { summary: 'Sign (or re-sign) a site archive with a publisher key', load: () => import('./archive-sign.js') },
  'archive verify': { summary: 'Verify a site archive: signature, key, validity, every entry', load: () => import('./archive-verify.js') },
  'archive inspect': { summary: 'Show what a site archive holds (without verifying it)', load: () => import('./archive-inspect.js') },
  'directory lookup': { summary: 'List who holds archives of a site (directory found through DNS SRV or given)', load: () => import('./directory-lookup.js') },
};

function help(io: CliIo): void {
  const width = Math.max(...Object.keys(commands).map((c) => c.length));
  io.stdout.write(
    'Usage: peerweb <command> [options]\n\nCommands:\n' +
      Object.entries(commands).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`).join('\n') +
      '\n\nRun `peerweb <command> --help` for the options of one command.\n',
  );
}

/** Runs the CLI; returns the exit code. Callable from tests with their own io. */
export async function main(argv: readonly string[], io: CliIo = defaultIo()): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    help(io);
    return name === undefined ? 2 : 0;
  }
  if (name === '--version') {
    io.stdout.write('peerweb 0.1.0\n');
    return 0;
  }
  // `peerweb archive build` → command "archive build" when such a row exists.
  const sub = rest[0];
  const twoWord = sub !== undefined ? commands[`${name} ${sub}`] : undefined;
  const entry = twoWord ?? commands[name];
  if (!entry) {
    io.stderr.write(`peerweb: unknown command ${JSON.stringify(name)}\n`);
    help(io);
    return 2;
  }
  const { command } = await entry.load();
  if (rest.includes('--help') || rest.includes('-h')) {
    io.stdout.write(`${command.usage}\n`);
    return 0;
  }
  try {
    return await command.run(twoWord ? rest.slice(1) : rest, io);
  } catch (err) {
    if (isPeerwebError(err)) {
      io.stderr.write(`peerweb: ${err.message} [${err.code}]\n`);
      return err.code === 'PW_ERR_CLI_USAGE' ? 2 : 1;
    }
    throw err;
  }
}
