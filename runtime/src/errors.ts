/** Errors the CLI reports: a message for the user and the exit code. */

/** A runtime failure: runc exits 1 for these. */
export class RuntimeError extends Error {
  readonly exitCode: number = 1;
}

/** A malformed command line: exit 2, as the usage errors of most CLIs. */
export class UsageError extends RuntimeError {
  override readonly exitCode = 2;
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
