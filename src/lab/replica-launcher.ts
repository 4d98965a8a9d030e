/**
 * Starts and stops replica processes. Each replica is `node dist/lab/replica-process.js`, forked with an
 * IPC channel for readiness and shutdown, and its stdout (log lines) piped to the lab's `log`.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { compiledEntry } from '../common/entry-path.js';
import { REPLICA_ENV, type LabToReplica, type ReplicaToLab } from './protocol.js';

/**
 * Finds the compiled replica entry: `<package root>/dist/lab/replica-process.js`, also when this module
 * runs from `src/lab/*.ts` under vitest. `rootUrl` (src/ or dist/) is for tests.
 * @throws Error telling to run `npm run build` when the file is missing.
 */
export function locateReplicaEntry(rootUrl?: string): string {
  return compiledEntry('lab/replica-process.js', rootUrl);
}

/** How to start one replica. */
export interface ReplicaSpec {
  entry: string;
  name: string;
  csrfSecret: string;
  store: 'memory' | 'redis';
  redisUrl?: string;
  delayMs: number;
  /** Requests processed at once (Tomcat's maxThreads); 0 = unlimited. */
  threads?: number;
  sessionTtlSeconds: number;
  log?: (line: string) => void;
  /** How long the process may take to become ready; default 15 s (generous for a loaded 2-core box). */
  readyTimeoutMs?: number;
}

/** A running replica process. */
export interface ReplicaProcess {
  readonly name: string;
  readonly port: number;
  readonly child: ChildProcess;
  /** Resolves when the process has exited (for any reason). */
  readonly exited: Promise<void>;
  /** True once `stop()` was called, so an exit is expected rather than a crash. */
  stopping: boolean;
}

/** Forks a replica and resolves once it listens. Rejects (and leaves no process behind) if it cannot start. */
export function startReplica(spec: ReplicaSpec): Promise<ReplicaProcess> {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    [REPLICA_ENV.name]: spec.name,
    [REPLICA_ENV.secret]: spec.csrfSecret,
    [REPLICA_ENV.store]: spec.store,
    [REPLICA_ENV.delayMs]: String(spec.delayMs),
    [REPLICA_ENV.threads]: String(spec.threads ?? 0),
    [REPLICA_ENV.ttl]: String(spec.sessionTtlSeconds),
    [REPLICA_ENV.log]: spec.log ? '1' : '0',
  };
  if (spec.redisUrl) env[REPLICA_ENV.redisUrl] = spec.redisUrl;
  // execArgv: [] so the test runner's loader flags are not inherited; the entry is plain compiled JS.
  const child = fork(spec.entry, [], { env, execArgv: [], stdio: ['ignore', spec.log ? 'pipe' : 'ignore', 'pipe', 'ipc'] });
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.once('error', () => resolve());
  });

  const log = spec.log;
  if (log && child.stdout) createInterface({ input: child.stdout, crlfDelay: Infinity }).on('line', log);
  let stderrTail = '';
  child.stderr?.on('data', (d: Buffer) => {
    const text = d.toString();
    stderrTail = (stderrTail + text).slice(-2000);
    if (log) for (const line of text.split('\n')) if (line.trim()) log(`${spec.name} ERROR ${line}`);
  });

  return new Promise((resolve, reject) => {
    const fail = (why: string): void => {
      cleanup();
      child.kill('SIGKILL');
      void exited.then(() => reject(new Error(`${spec.name} failed to start: ${why}`)));
    };
    const onMessage = (m: ReplicaToLab): void => {
      if (m?.type === 'ready') {
        cleanup();
        resolve({ name: spec.name, port: m.port, child, exited, stopping: false });
      } else if (m?.type === 'error') fail(m.message);
    };
    const onExit = (code: number | null, signal: string | null): void =>
      fail(`exited (${signal ?? `code ${code}`})${stderrTail ? `: ${stderrTail.trim()}` : ''}`);
    const onError = (e: Error): void => fail(e.message);
    const timer = setTimeout(() => fail(`not ready after ${spec.readyTimeoutMs ?? 15_000} ms`), spec.readyTimeoutMs ?? 15_000);
    function cleanup(): void {
      clearTimeout(timer);
      child.removeListener('message', onMessage);
      child.removeListener('exit', onExit);
      child.removeListener('error', onError);
    }
    child.on('message', onMessage);
    child.once('exit', onExit);
    child.once('error', onError);
  });
}

/**
 * Stops a replica. `kill` is a pod deletion (SIGKILL: in-memory sessions gone, nothing flushed);
 * `graceful` asks it to close its server and store first, with SIGKILL after `graceMs`.
 */
export async function stopReplica(p: ReplicaProcess, how: 'kill' | 'graceful', graceMs = 1000): Promise<void> {
  p.stopping = true;
  if (p.child.exitCode !== null || p.child.signalCode !== null) return p.exited;
  if (how === 'kill' || !p.child.connected) p.child.kill('SIGKILL');
  else {
    p.child.send({ type: 'shutdown' } satisfies LabToReplica, () => {});
    const timer = setTimeout(() => p.child.kill('SIGKILL'), graceMs);
    await p.exited;
    clearTimeout(timer);
  }
  await p.exited;
  // Drop the IPC channel handle so nothing keeps the lab's event loop alive.
  if (p.child.connected) p.child.disconnect();
}
