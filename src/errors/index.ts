import { coreErrors } from './codes-core.js';
import { acceptErrors } from './codes-accept.js';
import { archiveErrors } from './codes-archive.js';
import { httpErrors } from './codes-http.js';
import { mirrorErrors } from './codes-mirror.js';
import { peersErrors } from './codes-peers.js';
import { storageErrors } from './codes-storage.js';
import type { ErrorSpec } from './registry.js';

export { defineErrors } from './registry.js';
export type { ErrorSpec, ErrorTable } from './registry.js';

/**
 * The one registry of PW_ERR_* codes. Each area declares its codes in `codes-<area>.ts`
 * beside this file and adds the table here; docs/errors.md is checked against this object.
 */
export const errors = Object.freeze({
  ...coreErrors,
  ...storageErrors,
  ...acceptErrors,
  ...archiveErrors,
  ...httpErrors,
  ...mirrorErrors,
  ...peersErrors,
});

export type ErrorCode = keyof typeof errors;

function fill(template: string, details: Readonly<Record<string, unknown>>): string {
  return template.replace(/\{(\w+)\}/g, (_, name: string) => {
    const v = details[name];
    return v === undefined ? `{${name}}` : typeof v === 'string' ? v : JSON.stringify(v);
  });
}

/** The error every peerweb module throws: a registered code, an HTTP status and a filled-in message. */
export class PeerwebError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: ErrorCode, details: Readonly<Record<string, unknown>> = {}, options?: { cause?: unknown }) {
    const spec: ErrorSpec = errors[code];
    super(fill(spec.message, details), options);
    this.name = 'PeerwebError';
    this.code = code;
    this.status = spec.status;
    this.details = details;
  }
}

export function isPeerwebError(err: unknown, code?: ErrorCode): err is PeerwebError {
  return err instanceof PeerwebError && (code === undefined || err.code === code);
}

/** Markdown for docs/errors.md, generated from the registry (a test checks the file is current). */
export function errorsMarkdown(): string {
  const lines = [
    '# Error codes',
    '',
    'Generated from `src/errors/` by `npx tsx scripts/gen-docs.ts`; a test fails when this file is stale.',
    '',
    '| code | HTTP status | message | when |',
    '|---|---|---|---|',
  ];
  for (const [code, spec] of Object.entries(errors) as [string, ErrorSpec][]) {
    lines.push(`| \`${code}\` | ${spec.status || '—'} | ${spec.message.replace(/\|/g, '\\|')} | ${spec.doc.replace(/\|/g, '\\|')} |`);
  }
  return lines.join('\n') + '\n';
}
