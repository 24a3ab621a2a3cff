/** Exit codes of the `corral` command (documented in the README, section "CLI"). */
export const EXIT = {
  /** Done. `corral run`: stopped gracefully. */
  OK: 0,
  /** The operation failed: a server error, a refused request (disabled worker, full queue), a failed replay. */
  FAILURE: 1,
  /** Bad usage or a bad config file: nothing was started or sent. */
  USAGE: 2,
  /** The server cannot be reached (refused, timed out, not an HTTP server of corral). */
  UNREACHABLE: 3,
  /** The server refused the token: 401 (none given) or 403 (wrong). */
  AUTH: 4,
  /** Unknown worker or dead letter (404). */
  NOT_FOUND: 5,
  /** `corral run`: a second SIGINT forced the exit before the graceful stop ended. */
  INTERRUPTED: 130,
} as const;

/** An error the CLI reports as one line on stderr and turns into `exitCode`. */
export class CliError extends Error {
  override readonly name = 'CliError';
  readonly exitCode: number;

  constructor(message: string, exitCode: number, options?: ErrorOptions) {
    super(message, options);
    this.exitCode = exitCode;
  }
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
