#!/usr/bin/env node
// Entry point of the published package: runs the compiled CLI.
import { main } from '../dist/cli/main.js';

main(process.argv.slice(2)).then(
  (code) => { if (typeof code === 'number') process.exitCode = code; },
  (err) => { process.stderr.write(`peerweb: ${err?.message ?? err}\n`); process.exitCode = 1; },
);
