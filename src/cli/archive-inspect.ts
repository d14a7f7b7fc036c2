import { readFileSync } from 'node:fs';
import { MANIFEST_NAME, SIGNATURE_NAME, ZipReader, bufferSource, manifestDigest, parseManifest, parseSignature } from '../archive/index.js';
import { PeerwebError } from '../errors/index.js';
import { parseFlags } from './flags.js';
import type { CliIo, Subcommand } from './io.js';

export const command: Subcommand = {
  summary: 'Show what a site archive holds (without verifying it)',
  usage: `Usage: peerweb archive inspect FILE.pwar [--json]

Prints the manifest (origin, prefix, version, validity, key id, routes, files). Nothing is
verified: use peerweb archive verify for that.`,
  async run(argv: readonly string[], io: CliIo): Promise<number> {
    const f = parseFlags(argv, { json: { type: 'boolean' } }, false);
    const file = f.positionals[0];
    if (!file || f.positionals.length !== 1) throw new PeerwebError('PW_ERR_CLI_USAGE', { reason: 'archive inspect needs FILE' });
    const zip = await ZipReader.open(bufferSource(readFileSync(file)), file);
    const mb = await zip.read(MANIFEST_NAME);
    const m = parseManifest(mb);
    const sig = zip.entries.has(SIGNATURE_NAME) ? parseSignature(await zip.read(SIGNATURE_NAME)) : undefined;
    if (f.own.json) {
      io.stdout.write(`${JSON.stringify({ manifest: m, digest: manifestDigest(mb), keyId: sig?.keyId ?? null }, null, 2)}\n`);
      return 0;
    }
    const lines = [
      `Origin:     ${m.origin}`, `Prefix:     ${m.prefix}`, `Version:    ${m.version}`,
      `Valid:      ${m.notBefore} .. ${m.notAfter}${m.staleIfUnverified ? ` (stale allowed ${m.staleIfUnverified} s)` : ''}`,
      `Signed by:  ${sig ? sig.keyId : '(unsigned)'}`, `Digest:     ${manifestDigest(mb)}`,
      ...(m.previous ? [`Previous:   version ${m.previous.version} ${m.previous.digest}`] : []),
      `Routes:     ${m.routes.length === 0 ? '(none)' : ''}`, ...m.routes.map((r) => `  ${r.pattern} -> ${r.handler}`),
      `Files:      ${Object.keys(m.files).length}`,
      ...Object.entries(m.files).map(([n, x]) => `  ${String(x.size).padStart(10)}  ${x.sha256.slice(0, 16)}  ${x.type.padEnd(28)}  ${n}`),
    ];
    io.stdout.write(`${lines.join('\n')}\n`);
    return 0;
  },
};
