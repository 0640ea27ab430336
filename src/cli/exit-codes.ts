/** Exit codes scripts can rely on (documented in README). */
export const Exit = {
  OK: 0,
  /** The configuration is invalid, or the operation failed. */
  FAILURE: 1,
  /** Wrong command-line usage. */
  USAGE: 2,
  /** No running server to talk to (reload). */
  NOT_RUNNING: 3,
} as const;
