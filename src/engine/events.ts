/**
 * Events: shell commands fired at a moment of the run (`--at 20s="kubectl rollout restart deploy/app"`),
 * while the load goes on. Each runs through `/bin/sh -c` in its own process group; its start, end, exit
 * code and the tail of its output are recorded. A command still running when the run ends is stopped
 * (SIGTERM, then SIGKILL) and reported as such. Only the main thread runs events; the figures around
 * them come from the merged timeline (metrics/windows.ts).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { describeExit } from '../result/event-exit.js';
import type { EventSpec } from '../scenario/types.js';

export type { EventSpec };

/** What happened to an event (the result's RunEvent without its windows). */
export interface EventRecord {
  atMs: number;
  command: string;
  status: 'ok' | 'failed' | 'still-running' | 'not-started';
  startedMs: number | null;
  endedMs: number | null;
  exitCode: number | null;
  signal: string | null;
  output: string;
  stopOnFailure: boolean;
}

/** A live notice for progress output. */
export type EventNotice =
  | { kind: 'started'; index: number; record: EventRecord }
  | { kind: 'ended'; index: number; record: EventRecord };

/** Output kept per command: the last lines matter (the error), not a rollout's whole log. */
export const EVENT_OUTPUT_TAIL = 2000;
/** After SIGTERM, a command that has not exited by then is killed. */
const KILL_AFTER_MS = 2000;

interface Running {
  child: ChildProcess;
  exited: Promise<void>;
}

export interface EventRunnerOptions {
  /** Called when an event starts or ends (from the main thread's event loop). */
  onNotice?: ((n: EventNotice) => void) | undefined;
  /** A command with stopOnFailure failed: the run should stop. */
  onStopRequest?: ((reason: string) => void) | undefined;
  /** Extra environment for the commands (the target URL). */
  env?: Record<string, string> | undefined;
}

export class EventRunner {
  private readonly records: EventRecord[];
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly running = new Map<number, Running>();
  private readonly done = new Set<number>();
  private readonly stoppedByUs = new Set<number>();
  private t0 = 0;
  private finished = false;

  constructor(
    specs: readonly EventSpec[],
    private readonly options: EventRunnerOptions = {},
  ) {
    this.records = specs.map((s) => ({
      atMs: s.atMs,
      command: s.command,
      status: 'not-started',
      startedMs: null,
      endedMs: null,
      exitCode: null,
      signal: null,
      output: '',
      stopOnFailure: s.stopOnFailure,
    }));
  }

  /** Schedules every event relative to `t0` (performance.now() of the run's start). */
  start(t0: number): void {
    this.t0 = t0;
    this.records.forEach((r, i) => {
      const wait = Math.max(0, t0 + r.atMs - performance.now());
      this.timers.push(setTimeout(() => this.fire(i), wait));
    });
  }

  private since(): number {
    return Math.max(0, Math.round((performance.now() - this.t0) * 1000) / 1000);
  }

  private fire(i: number): void {
    if (this.finished) return;
    const r = this.records[i]!;
    // Node's timers run on a millisecond loop clock and may fire a fraction of a millisecond early.
    const early = this.t0 + r.atMs - performance.now();
    if (early > 0) {
      this.timers.push(setTimeout(() => this.fire(i), Math.ceil(early)));
      return;
    }
    r.startedMs = this.since();
    let child: ChildProcess;
    try {
      child = spawn('/bin/sh', ['-c', r.command], {
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, ...this.options.env },
      });
    } catch (e) {
      this.ended(i, null, null, `cannot start: ${e instanceof Error ? e.message : String(e)}`);
      return;
    }
    r.status = 'still-running';
    const append = (chunk: Buffer): void => {
      r.output = (r.output + chunk.toString('utf8')).slice(-EVENT_OUTPUT_TAIL * 2);
    };
    child.stdout?.on('data', append);
    child.stderr?.on('data', append);
    const exited = new Promise<void>((resolve) => {
      child.once('error', (e) => {
        this.ended(i, null, null, `cannot start: ${e.message}`);
        resolve();
      });
      // 'close': the exit and the end of its output (a command that leaves a child holding the pipe
      // would delay it, so 'exit' also ends it after a moment).
      let exitTimer: NodeJS.Timeout | undefined;
      child.once('exit', (code, signal) => {
        r.endedMs ??= this.since();
        exitTimer = setTimeout(() => {
          this.ended(i, code, signal, null);
          resolve();
        }, 200);
        exitTimer.unref();
      });
      child.once('close', (code, signal) => {
        clearTimeout(exitTimer);
        this.ended(i, code, signal, null);
        resolve();
      });
    });
    this.running.set(i, { child, exited });
    this.options.onNotice?.({ kind: 'started', index: i, record: r });
  }

  private ended(i: number, code: number | null, signal: NodeJS.Signals | null, problem: string | null): void {
    if (this.done.has(i)) return;
    this.done.add(i);
    this.running.delete(i);
    const r = this.records[i]!;
    r.endedMs ??= this.since();
    r.exitCode = code;
    r.signal = signal;
    if (problem !== null) r.output = `${r.output}${r.output === '' || r.output.endsWith('\n') ? '' : '\n'}${problem}\n`;
    r.output = tail(r.output);
    // Stopped by us at the end of the run (and did not exit 0 on its own): it was still running.
    r.status = code === 0 ? 'ok' : this.stoppedByUs.has(i) ? 'still-running' : 'failed';
    this.options.onNotice?.({ kind: 'ended', index: i, record: r });
    if (r.status === 'failed' && r.stopOnFailure && !this.finished) this.options.onStopRequest?.(`event ${i + 1} failed (${describeExit(r)}): ${r.command}`);
  }

  /**
   * The run is over: events not started yet never will be; running ones are stopped (SIGTERM to their
   * process group, SIGKILL after 2 s). Resolves once every command has exited.
   */
  async finish(): Promise<EventRecord[]> {
    this.finished = true;
    for (const t of this.timers) clearTimeout(t);
    const waits: Promise<void>[] = [];
    for (const [i, { child, exited }] of this.running) {
      this.stoppedByUs.add(i);
      signalGroup(child, 'SIGTERM');
      const kill = setTimeout(() => signalGroup(child, 'SIGKILL'), KILL_AFTER_MS);
      waits.push(exited.finally(() => clearTimeout(kill)));
    }
    await Promise.all(waits);
    return this.records.map((r) => ({ ...r }));
  }
}

function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    try {
      child.kill(signal);
    } catch {
      // already gone
    }
  }
}

/** The last EVENT_OUTPUT_TAIL characters, cut at a line start when one is near. */
function tail(text: string): string {
  if (text.length <= EVENT_OUTPUT_TAIL) return text;
  const cut = text.slice(-EVENT_OUTPUT_TAIL);
  const nl = cut.indexOf('\n');
  return `...${nl >= 0 && nl < 200 ? cut.slice(nl) : cut}`;
}
