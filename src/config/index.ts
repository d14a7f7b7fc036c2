import { readFileSync } from 'node:fs';
import { parse as parseToml } from 'smol-toml';
import { PeerwebError } from '../errors/index.js';
import { coreOptions } from './options-core.js';
import { archiveOptions } from './options-archive.js';
import { peersOptions } from './options-peers.js';
import { mirrorOptions } from './options-mirror.js';
import { InvalidValue, type OptionSpec, type ValueOf } from './options-types.js';

export { opt, invalid, InvalidValue } from './options-types.js';
export type { OptionSpec } from './options-types.js';
export type { OriginRoute } from './options-core.js';

/**
 * The one options table. Each area declares its rows in `options-<area>.ts` beside this file and
 * adds them here; validation, defaults, `peerweb start` flags and docs/config.md all come from it.
 */
export const options = Object.freeze({
  ...coreOptions,
  ...archiveOptions,
  ...peersOptions,
  ...mirrorOptions,
});

export type OptionKey = keyof typeof options;
export type Config = { readonly [K in OptionKey]: ValueOf<(typeof options)[K]> };

/** Where values come from, lowest priority first: defaults, file, environment (PEERWEB_*), flags. */
export interface ConfigSources {
  readonly file?: string | undefined;
  /** Values already keyed by option name (flags, or a test's overrides). */
  readonly values?: Readonly<Record<string, unknown>>;
  readonly env?: Readonly<Record<string, string | undefined>>;
}

const specs = options as Readonly<Record<string, OptionSpec<unknown>>>;

function describe(value: unknown): string {
  const s = typeof value === 'string' ? JSON.stringify(value) : JSON.stringify(value) ?? String(value);
  return s.length > 200 ? `${s.slice(0, 200)}…` : s;
}

/** Flattens a nested config object into dotted keys, stopping at keys that are options themselves. */
function flatten(obj: Readonly<Record<string, unknown>>, prefix = '', out: Record<string, unknown> = {}): Record<string, unknown> {
  for (const [k, v] of Object.entries(obj)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (key in specs || typeof v !== 'object' || v === null || Array.isArray(v)) out[key] = v;
    else flatten(v as Record<string, unknown>, key, out);
  }
  return out;
}

export function readConfigFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new PeerwebError('PW_ERR_CONFIG_FILE', { file, reason: (err as Error).message });
  }
  try {
    const parsed: unknown = file.endsWith('.toml') ? parseToml(text) : JSON.parse(text);
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('top level must be an object');
    return flatten(parsed as Record<string, unknown>);
  } catch (err) {
    throw new PeerwebError('PW_ERR_CONFIG_FILE', { file, reason: (err as Error).message });
  }
}

function envName(key: string): string {
  return 'PEERWEB_' + key.replace(/([a-z])([A-Z])/g, '$1_$2').replace(/\./g, '_').toUpperCase();
}

/** Validates one value against its row; throws PW_ERR_CONFIG_* naming the key and the value. */
export function parseOption(key: string, raw: unknown): unknown {
  const spec = specs[key];
  if (!spec) throw new PeerwebError('PW_ERR_CONFIG_UNKNOWN_KEY', { key });
  try {
    return spec.parse(raw);
  } catch (err) {
    if (err instanceof InvalidValue) throw new PeerwebError('PW_ERR_CONFIG_INVALID', { key, value: describe(raw), reason: err.message });
    throw err;
  }
}

/** Builds the frozen config: every key present, every value validated. */
export function loadConfig(sources: ConfigSources = {}): Config {
  const raw: Record<string, unknown> = {};
  if (sources.file) Object.assign(raw, readConfigFile(sources.file));
  if (sources.env) {
    for (const key of Object.keys(specs)) {
      const v = sources.env[envName(key)];
      if (v !== undefined) raw[key] = v;
    }
  }
  if (sources.values) Object.assign(raw, flatten(sources.values));
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(raw)) if (!(key in specs)) throw new PeerwebError('PW_ERR_CONFIG_UNKNOWN_KEY', { key });
  for (const [key, spec] of Object.entries(specs)) {
    out[key] = key in raw && raw[key] !== undefined ? parseOption(key, raw[key]) : spec.default;
  }
  return Object.freeze(out) as Config;
}

/** Markdown for docs/config.md, generated from the table (a test checks the file is current). */
export function configMarkdown(): string {
  const lines = [
    '# Configuration',
    '',
    'Generated from `src/config/` by `npx tsx scripts/gen-docs.ts`; a test fails when this file is stale.',
    '',
    'Values come from, lowest priority first: the defaults below, the config file (`--config FILE`,',
    'JSON or TOML; nested tables such as `[cache]` `memory = "1GiB"` are the dotted keys), environment',
    'variables (`PEERWEB_CACHE_MEMORY=1GiB` for `cache.memory`), then flags of `peerweb start`.',
    'Sizes take `4096`, `512KiB`, `64MiB`, `2GB`; durations take `250ms`, `30s`, `5m`, `1h`, `7d`.',
    'A bad value stops start-up with an error naming the key and the value.',
    '',
    '| key | flag | type | default | bounds | description |',
    '|---|---|---|---|---|---|',
  ];
  for (const [key, spec] of Object.entries(specs)) {
    const def = spec.default === undefined ? '—' : `\`${typeof spec.default === 'object' && spec.default && 'host' in spec.default && 'port' in spec.default ? `${(spec.default as { host: string }).host}:${(spec.default as { port: number }).port}` : JSON.stringify(spec.default)}\``;
    const flag = spec.flag ? `\`--${spec.flag}\`${spec.multiple ? ' (repeatable)' : ''}` : '';
    const type = spec.unit ? `${spec.type} (${spec.unit})` : spec.type;
    lines.push(`| \`${key}\` | ${flag} | ${type} | ${def} | ${spec.bounds ?? ''} | ${spec.doc.replace(/\|/g, '\\|')} |`);
  }
  return lines.join('\n') + '\n';
}

export function optionSpecs(): Readonly<Record<string, OptionSpec<unknown>>> {
  return specs;
}
