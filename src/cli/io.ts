/**
 * The process surface a command may use, passed in so that commands can be tested without a TTY and
 * so that only the CLI layer touches the real process.
 */
export interface Io {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  env: NodeJS.ProcessEnv;
  /** Aborted on Ctrl-C / SIGTERM. */
  signal: AbortSignal;
  /** Working directory for relative output paths. */
  cwd: string;
}

export function processIo(signal: AbortSignal): Io {
  return { stdout: process.stdout, stderr: process.stderr, env: process.env, signal, cwd: process.cwd() };
}
