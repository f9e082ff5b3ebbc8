/** Running the CLI in this process with captured output, and as a child process (`vigil serve`). */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { run } from '../../src/cli/program.js';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `vigil <argv>` in this process. The environment is only what is given (no DATABASE_URL leaks in). */
export async function vigil(
  argv: string[],
  opts: { env?: NodeJS.ProcessEnv; cwd?: string; signal?: AbortSignal; onStdout?: (s: string) => void; onStderr?: (s: string) => void } = {},
): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const code = await run(argv, {
    stdout: (t) => {
      stdout += t;
      opts.onStdout?.(stdout);
    },
    stderr: (t) => {
      stderr += t;
      opts.onStderr?.(stderr);
    },
    env: opts.env ?? {},
    cwd: opts.cwd,
    signal: opts.signal,
    isTTY: false,
  });
  return { code, stdout, stderr };
}

const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface ServeChild {
  child: ChildProcess;
  url: string;
  adminKey: string | null;
  stdout: () => string;
  stderr: () => string;
  /** Resolves with the exit code. */
  exited: Promise<number | null>;
}

/** Starts `vigil serve --port 0` as a child process and waits until it prints its URL. */
export function startServe(args: string[]): Promise<ServeChild> {
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, 'serve', '--host', '127.0.0.1', '--port', '0', '--log-level', 'warn', ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, NODE_NO_WARNINGS: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      const url = /Vigil listening on (http:\/\/\S+)/.exec(out)?.[1];
      // The reference line ends the banner (the admin key, if any, comes before it).
      if (url && /API reference: \S+\n/.test(out)) {
        resolve({ child, url, adminKey: /(vgl_\S+)/.exec(out)?.[1] ?? null, stdout: () => out, stderr: () => err, exited });
      }
    });
    void exited.then((code) => reject(new Error(`vigil serve exited (${code}) before listening:\n${out}\n${err}`)));
  });
}
