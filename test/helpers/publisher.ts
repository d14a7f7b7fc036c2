import type { TestContext } from 'node:test';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { generatePublisherKey, publicKeyBase64, saveKey, type PublisherKey } from '../../src/integrity/keys.js';
import { startNode, type TestNode } from './node.js';

export interface Publisher {
  /** The published folder (files can be added to it later). */
  readonly site: string;
  /** A scratch folder beside it, removed in teardown. */
  readonly tmp: string;
  readonly key: PublisherKey;
  /** The public key in the form `mirror.originKey` takes. */
  readonly originKey: string;
  /** The origin-front node serving `site`. */
  readonly origin: TestNode;
  /** Starts another node, stopped in teardown (before the origin). */
  start(values: Record<string, unknown>): Promise<TestNode>;
}

/**
 * For multi-node tests: `files` (path → content) in a temp folder, a saved publisher key, and an
 * origin-front node serving the folder with `values` added. Every node is stopped, last started
 * first, and the folder removed when the test ends.
 */
export async function startPublisher(t: TestContext, files: Record<string, string | Buffer>, values: Record<string, unknown> = {}): Promise<Publisher> {
  const tmp = mkdtempSync(join(tmpdir(), 'pw-publisher-'));
  const site = join(tmp, 'site');
  mkdirSync(site);
  for (const [path, content] of Object.entries(files)) {
    const file = join(site, path);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, content);
  }
  const key = generatePublisherKey();
  const { privateFile } = saveKey(key, join(tmp, 'key'));
  const nodes: TestNode[] = [];
  t.after(async () => {
    for (const n of nodes.reverse()) await n.stop();
    rmSync(tmp, { recursive: true, force: true });
  });
  const start = async (v: Record<string, unknown>): Promise<TestNode> => {
    const n = await startNode(v);
    nodes.push(n);
    return n;
  };
  const origin = await start({ 'mirror.serve': site, 'mirror.key': privateFile, ...values });
  return { site, tmp, key, originKey: publicKeyBase64(key.publicKey), origin, start };
}

/** The mirror bases an origin front lists in its signed map now (asked past any cache). */
export async function mirrorsListed(origin: TestNode): Promise<string[]> {
  const r = await fetch(`${origin.base}/.well-known/peerweb/mirrors`, { headers: { 'cache-control': 'no-cache' } });
  return ((await r.json()) as { mirrors: { base: string }[] }).mirrors.map((m) => m.base);
}
