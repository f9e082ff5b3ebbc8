/** Where a command writes, and what stops a long-running one: the process, or a test. */
export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** Aborted to stop `serve` and `tail` (SIGINT/SIGTERM in the real CLI). */
  signal?: AbortSignal;
  /** Whether stderr is a terminal (progress bars redraw in place). */
  isTTY?: boolean;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
}

export const processIo = (): CliIo => ({
  stdout: (t) => process.stdout.write(t),
  stderr: (t) => process.stderr.write(t),
  isTTY: process.stderr.isTTY === true,
});

/** An error whose message is the whole story: printed without a stack, exit code 1. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = 'CliError';
  }
}
