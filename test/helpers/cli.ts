/** Runs the built CLI (`bin/session-bench.js` -> dist/) as a subprocess, as a user would. */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const BIN = fileURLToPath(new URL('../../bin/session-bench.js', import.meta.url));

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

interface RunOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  onStart?: (kill: (sig: NodeJS.Signals) => void, output: () => string) => void;
  timeoutMs?: number;
}

/** Collects a child's output until it closes; it is killed after `timeoutMs`. */
function finished(child: ChildProcess, opts: RunOptions): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    opts.onStart?.((sig) => child.kill(sig), () => stdout + stderr);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

const childEnv = (env: NodeJS.ProcessEnv | undefined): NodeJS.ProcessEnv => ({ ...process.env, NO_COLOR: '1', FORCE_COLOR: undefined, ...env });

export function runCli(args: string[], opts: RunOptions = {}): Promise<CliResult> {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: opts.cwd, env: childEnv(opts.env), stdio: ['ignore', 'pipe', 'pipe'] });
  return finished(child, opts);
}

/**
 * Runs a bash command line (for `ulimit`) without blocking this process, whose test servers must keep
 * answering. `BIN` and `process.execPath` are for the caller to put in it.
 */
export function runShell(command: string, opts: RunOptions = {}): Promise<CliResult> {
  const child = spawn('bash', ['-c', command], { cwd: opts.cwd, env: childEnv(opts.env), stdio: ['ignore', 'pipe', 'pipe'] });
  return finished(child, opts);
}
