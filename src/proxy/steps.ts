import type { Transaction } from './context.js';
import type { Step, StepName } from './step-names.js';
import { fail } from './finish.js';
import { recv } from './recv.js';
import { lookup } from './lookup.js';
import { hit } from './hit.js';
import { miss, revalidate } from './fetch.js';
import { pass } from './pass.js';
import { tunnel } from './tunnel.js';

/**
 * The request pipeline as a table of named steps (drawn in docs/architecture.md). Each step
 * returns the next step's name, or 'done' once the response is complete. Steps return
 * synchronously when they can, so a fresh hit in memory runs recv → lookup → hit with no await.
 */
export const STEPS = {
  recv,
  lookup,
  hit,
  miss,
  revalidate,
  pass,
  tunnel,
} as const satisfies Record<StepName, (tx: Transaction) => Step | Promise<Step>>;

export type { Step, StepName } from './step-names.js';

const MAX_TRANSITIONS = 16;

/** Runs a transaction from `step` until done; a thrown error becomes an error response. */
export function run(tx: Transaction, step: Step, transitions = 0): void {
  let next: Step | Promise<Step> = step;
  for (let n = transitions; ; n++) {
    if (next === 'done') return;
    if (n > MAX_TRANSITIONS) {
      fail(tx, new Error(`request went through more than ${MAX_TRANSITIONS} steps`));
      return;
    }
    try {
      next = STEPS[next](tx);
    } catch (err) {
      fail(tx, err);
      return;
    }
    if (typeof next !== 'string') {
      const count = n + 1;
      next.then((s) => run(tx, s, count), (err: unknown) => { fail(tx, err); });
      return;
    }
  }
}
