/** One entry of the error registry: every PW_ERR_* code is declared once, with its HTTP status and doc. */
export interface ErrorSpec {
  /** HTTP status used when this error ends a request (0 when it never reaches HTTP). */
  readonly status: number;
  /** Message template: `{name}` placeholders are filled from the details object. */
  readonly message: string;
  /** One sentence for docs/errors.md: when it happens and what to do. */
  readonly doc: string;
}

export type ErrorTable = Readonly<Record<string, ErrorSpec>>;

/** Declares a table of codes; each area of the code keeps its own file and the index merges them. */
export function defineErrors<T extends ErrorTable>(table: T): T {
  for (const code of Object.keys(table)) {
    if (!/^PW_ERR_[A-Z0-9_]+$/.test(code)) throw new Error(`Error code ${code} must match PW_ERR_[A-Z0-9_]+`);
  }
  return Object.freeze(table);
}
