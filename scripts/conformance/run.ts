/**
 * Runs the public RFC 9111 suite (http-tests/cache-tests) against peerweb and each reference proxy, each set up
 * as a reverse-proxy cache of the suite's own test server, and writes docs/conformance.md.
 *
 *   node --import tsx scripts/conformance/run.ts CHECKOUT [--systems nginx,squid,...] [--out FILE]
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { REPO_ROOT, targetsByName, type RunningTarget } from '../../bench/targets.js';
import { LOOPBACK, runCommand, startProcess, stopProcess } from '../../bench/util.js';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const SUITE_TIMEOUT_MS = 15 * 60_000;

interface SuiteTest { id: string; kind?: string; depends_on?: string[] }
type Results = Record<string, unknown>;
type Determine = (suites: unknown, id: string, results: Results, honorDependencies?: boolean) => unknown;

interface Summary {
  name: string;
  version: string;
  notMeasured: string | undefined;
  counts: Record<string, number>;
  requiredFails: string[];
}

const CATEGORIES = ['pass', 'fail', 'optional_fail', 'yes', 'no', 'setup_fail', 'harness_fail', 'dependency_fail', 'retry', 'untested'] as const;

function log(msg: string): void { process.stderr.write(`[conformance] ${msg}\n`); }

function parseArgs(argv: readonly string[]): { checkout: string; systems: string[] | undefined; out: string } {
  let checkout: string | undefined;
  let systems: string[] | undefined;
  let out = join(REPO_ROOT, 'docs', 'conformance.md');
  for (let i = 0; i < argv.length; i += 1) {
    const a = argv[i] as string;
    if (a === '--systems') { systems = (argv[i + 1] ?? '').split(',').filter(Boolean); i += 1; } else if (a === '--out') { out = resolve(argv[i + 1] ?? out); i += 1; } else if (!a.startsWith('-') && checkout === undefined) checkout = resolve(a);
    else throw new Error(`Unknown argument ${JSON.stringify(a)}`);
  }
  if (!checkout) throw new Error('Usage: conformance.sh PATH_TO_CACHE_TESTS_CHECKOUT [--systems a,b] [--out FILE]');
  for (const f of ['test-engine/cli.mjs', 'test-engine/lib/results.mjs', 'tests/index.mjs', 'test-engine/server/handle-test.mjs']) {
    if (!existsSync(join(checkout, f))) throw new Error(`Not a cache-tests checkout: ${join(checkout, f)} is missing`);
  }
  return { checkout, systems, out };
}

/** Starts the suite's test server on loopback; resolves with its port and a stop function. */
async function startSuiteServer(checkout: string): Promise<{ port: number; stop: () => Promise<void> }> {
  const started = startProcess([process.execPath, '--import', import.meta.resolve('tsx'), join(HERE, 'test-server.ts'), checkout], { cwd: checkout });
  const port = await new Promise<number>((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`Suite test server did not start: ${started.output()}`)), 20_000);
    const onData = (b: Buffer): void => {
      const m = /LISTENING (\d+)/.exec(b.toString('utf8'));
      if (m) { clearTimeout(timer); started.child.stdout?.off('data', onData); res(Number(m[1])); }
    };
    started.child.stdout?.on('data', onData);
    started.child.once('exit', (code) => { clearTimeout(timer); rej(new Error(`Suite test server exited with ${code}: ${started.output()}`)); });
  });
  return { port, stop: () => stopProcess(started.child) };
}

/** Runs the suite's command-line client against base; returns its JSON results. */
async function runSuite(checkout: string, base: string): Promise<Results> {
  return new Promise((res, rej) => {
    const child = spawn(process.execPath, ['--no-warnings', '--import', import.meta.resolve('tsx'), '--import', pathToFileURL(join(HERE, 'undici-hook.ts')).href,
      join(checkout, 'test-engine', 'cli.mjs')], {
      cwd: checkout,
      env: { ...process.env, npm_config_base: base, npm_package_config_base: base, npm_config_id: '', npm_package_config_id: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (b: Buffer) => { if (out.length < 32 << 20) out += b.toString('utf8'); });
    child.stderr.on('data', (b: Buffer) => { err = (err + b.toString('utf8')).slice(-8192); });
    const timer = setTimeout(() => child.kill('SIGKILL'), SUITE_TIMEOUT_MS);
    child.on('close', (code) => {
      clearTimeout(timer);
      const start = out.indexOf('{\n');
      if (code !== 0 || start < 0) { rej(new Error(`Suite client exited with ${code}: ${err.slice(-2000)}`)); return; }
      try { res(JSON.parse(out.slice(start)) as Results); } catch (e) { rej(new Error(`Suite client printed no JSON: ${(e as Error).message}`)); }
    });
  });
}

async function suiteVersion(checkout: string): Promise<string> {
  const r = await runCommand(['git', '-C', checkout, 'log', '-1', '--format=%h %cs'], 10_000).catch(() => undefined);
  return r && r.code === 0 ? r.stdout.trim() : 'unknown commit (not a git checkout)';
}

function render(summaries: Summary[], meta: { date: string; suite: string; total: number; command: string }): string {
  const L: string[] = [];
  L.push('# RFC 9111 conformance', '');
  L.push('Written by `scripts/conformance.sh` from one run of the public HTTP caching test suite ' +
    '([http-tests/cache-tests](https://github.com/http-tests/cache-tests), the suite behind cache-tests.fyi) against peerweb and ' +
    'the reference caches, each a reverse-proxy cache of the suite\'s own test server on 127.0.0.1, configured by `bench/targets.ts` ' +
    '(conformance mode: close to each server\'s defaults).', '');
  L.push(`- Date: ${meta.date}`);
  L.push(`- Suite: cache-tests ${meta.suite}, ${meta.total} tests`);
  L.push(`- Machine: ${os.cpus()[0]?.model ?? 'unknown'}, ${os.cpus().length} cores, kernel ${os.release()}, Node.js ${process.versions.node}`);
  L.push(`- Command: \`${meta.command}\``, '');
  L.push('Categories as the suite defines them: **pass**; **required fail** (a conformance failure); **optional fail** (the cache did not ' +
    'reuse a response where it could have); **checks yes / no** (behaviour surveys, neither pass nor fail); **setup / harness fail**; ' +
    '**retry** (the cache sent the same request to the server twice, to be read by hand); **dependency fail** (a test this one depends on did not pass, so it was not judged); **untested** (browser-only tests).', '');
  L.push('| system | version | pass | required fail | optional fail | checks yes / no | setup fail | harness fail or retry | dependency fail | untested |');
  L.push('|---|---|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const s of summaries) {
    if (s.notMeasured) { L.push(`| ${s.name} | ${s.version || '–'} | not measured: ${s.notMeasured.replace(/\|/g, '\\|')} | | | | | | | |`); continue; }
    const c = (k: string): number => s.counts[k] ?? 0;
    L.push(`| ${s.name} | ${s.version} | ${c('pass')} | ${c('fail')} | ${c('optional_fail')} | ${c('yes')} / ${c('no')} | ${c('setup_fail')} | ${c('harness_fail') + c('retry')} | ${c('dependency_fail')} | ${c('untested')} |`);
  }
  L.push('', '## Required failures per system', '');
  for (const s of summaries) {
    if (s.notMeasured) continue;
    L.push(`- **${s.name}** (${s.requiredFails.length}): ${s.requiredFails.length ? s.requiredFails.map((id) => `\`${id}\``).join(', ') : 'none'}`);
  }
  L.push('', 'Run a single test against one system by hand with the suite\'s own client: ' +
    '`npm_config_base=http://127.0.0.1:PORT npm_config_id=TEST_ID node test-engine/cli.mjs` in the checkout.');
  return `${L.join('\n')}\n`;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const date = new Date().toISOString();
  const suites = (await import(pathToFileURL(join(args.checkout, 'tests', 'index.mjs')).href) as { default: Array<{ tests: SuiteTest[] }> }).default;
  const { determineTestResult, resultTypes } = await import(pathToFileURL(join(args.checkout, 'test-engine', 'lib', 'results.mjs')).href) as
    { determineTestResult: Determine; resultTypes: Record<string, unknown> };
  const allTests = suites.flatMap((s) => s.tests);
  const server = await startSuiteServer(args.checkout);
  log(`suite test server on ${LOOPBACK}:${server.port}; ${allTests.length} tests`);
  const summaries: Summary[] = [];
  const rawDir = join(REPO_ROOT, 'bench', 'out');
  mkdirSync(rawDir, { recursive: true });
  try {
    for (const t of targetsByName(args.systems)) {
      const s: Summary = { name: t.name, version: '', notMeasured: undefined, counts: {}, requiredFails: [] };
      summaries.push(s);
      const missing = t.missing();
      if (missing) { s.notMeasured = missing; log(`${t.name}: not measured (${missing})`); continue; }
      s.version = await t.version().catch(() => 'unknown');
      let running: RunningTarget | undefined;
      try {
        running = await t.start(server.port, 'conformance');
        log(`${t.name} ${s.version} on port ${running.port}: running the suite`);
        const results = await runSuite(args.checkout, `http://${LOOPBACK}:${running.port}`);
        writeFileSync(join(rawDir, `conformance-${t.name}.json`), `${JSON.stringify(results, null, 2)}\n`);
        for (const test of allTests) {
          const r = determineTestResult(suites, test.id, results);
          const cat = Object.keys(resultTypes).find((k) => resultTypes[k] === r) ?? 'untested';
          s.counts[cat] = (s.counts[cat] ?? 0) + 1;
          if (cat === 'fail') s.requiredFails.push(test.id);
        }
        log(`${t.name}: ${CATEGORIES.map((k) => `${k} ${s.counts[k] ?? 0}`).join(', ')}`);
      } catch (err) {
        s.notMeasured = (err as Error).message.split('\n')[0];
        log(`${t.name}: not measured (${(err as Error).message})`);
      } finally {
        await running?.stop();
      }
    }
  } finally {
    await server.stop();
  }
  const command = `bash scripts/conformance.sh PATH_TO_CACHE_TESTS_CHECKOUT${process.argv.length > 3 ? ` ${process.argv.slice(3).join(' ')}` : ''}`;
  writeFileSync(args.out, render(summaries, { date, suite: await suiteVersion(args.checkout), total: allTests.length, command }));
  log(`wrote ${args.out}`);
}

main().catch((err) => { process.stderr.write(`[conformance] ${(err as Error).message}\n`); process.exitCode = 1; });
