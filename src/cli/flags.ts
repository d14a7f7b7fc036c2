import { parseArgs } from 'node:util';
import { PeerwebError } from '../errors/index.js';
import { optionSpecs } from '../config/index.js';

type ParseArgsOptions = NonNullable<Parameters<typeof parseArgs>[0]>['options'];

export interface ParsedFlags {
  /** Values of config options given as flags, keyed by option name. */
  readonly values: Record<string, unknown>;
  /** Flags of the command itself (not config options). */
  readonly own: Record<string, string | boolean | (string | boolean)[] | undefined>;
  readonly positionals: string[];
}

/**
 * Parses argv: the flags of every config option (from the options table) plus the command's own.
 * Unknown flags and missing values are usage errors.
 */
export function parseFlags(argv: readonly string[], own: ParseArgsOptions = {}, withConfigOptions = true): ParsedFlags {
  const flagToKey = new Map<string, string>();
  const spec: ParseArgsOptions = { ...own };
  if (withConfigOptions) {
    for (const [key, s] of Object.entries(optionSpecs())) {
      if (!s.flag) continue;
      flagToKey.set(s.flag, key);
      spec[s.flag] = s.type === 'boolean' ? { type: 'boolean' } : { type: 'string', ...(s.multiple ? { multiple: true } : {}) };
    }
  }
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: [...argv], options: spec, allowPositionals: true, strict: true });
  } catch (err) {
    throw new PeerwebError('PW_ERR_CLI_USAGE', { reason: (err as Error).message });
  }
  const values: Record<string, unknown> = {};
  const ownValues: ParsedFlags['own'] = {};
  for (const [flag, v] of Object.entries(parsed.values)) {
    const key = flagToKey.get(flag);
    if (key) values[key] = v;
    else ownValues[flag] = v;
  }
  return { values, own: ownValues, positionals: parsed.positionals };
}

/** `--help` text for the config flags, from the options table. */
export function configFlagsHelp(): string {
  const rows: [string, string][] = [];
  for (const s of Object.values(optionSpecs())) {
    if (!s.flag) continue;
    const arg = s.type === 'boolean' ? '' : ` ${s.type.toUpperCase().replace(/[^A-Z:]/g, '')}`;
    rows.push([`--${s.flag}${arg}`, `${s.doc}${s.multiple ? ' Repeatable.' : ''}`]);
  }
  const w = Math.max(...rows.map(([a]) => a.length));
  return rows.map(([a, d]) => `  ${a.padEnd(w)}  ${d}`).join('\n');
}
