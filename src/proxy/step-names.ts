/** Names of the pipeline's steps (the table itself is in steps.ts). */
export type StepName = 'recv' | 'lookup' | 'hit' | 'miss' | 'revalidate' | 'pass' | 'tunnel';
export type Step = StepName | 'done';
