/**
 * --workers N: the run's VUs, request budget and rate divided over worker threads, each with its own
 * event loop, connections and Collector. Threads send live figures about once a second and their exact
 * snapshot at the end; the main thread merges them (histograms added, counts summed).
 */
import { Worker } from 'node:worker_threads';
import { compiledEntry } from '../common/entry-path.js';
import type { Scenario } from '../scenario/types.js';
import type { LiveFigures, LocalRunOutcome } from './local-run.js';
import type { NormalisedOptions } from './options.js';
import type { RunSlice } from './slices.js';

/** Data a worker starts with (structured-cloned: RegExp, Set and Map survive). */
export interface WorkerInput {
  scenario: Scenario;
  opts: NormalisedOptions;
  slice: RunSlice;
  intervalMs: number;
  /** Send each step's histogram with the live figures (a live exporter is on). */
  liveSteps: boolean;
}

/** Messages from a worker. */
export type WorkerMessage =
  | { type: 'live'; live: LiveFigures }
  | { type: 'unusable'; reason: string }
  | { type: 'done'; outcome: LocalRunOutcome }
  | { type: 'failed'; message: string };

/** Messages to a worker. */
export type WorkerCommand = { type: 'stop'; interrupted: boolean };

export interface WorkerRunHooks {
  signal?: AbortSignal | undefined;
  /** Stop starting requests (in-flight ones finish), e.g. an event failed. */
  stopSignal?: AbortSignal | undefined;
  intervalMs: number;
  liveSteps?: boolean | undefined;
  /** The latest live figures of every worker, once a second. */
  onLive?: ((live: readonly LiveFigures[]) => void) | undefined;
}

export async function runInWorkers(scenario: Scenario, opts: NormalisedOptions, slices: readonly RunSlice[], hooks: WorkerRunHooks): Promise<LocalRunOutcome[]> {
  const entry = compiledEntry('engine/run-worker.js');
  const latest: (LiveFigures | null)[] = slices.map(() => null);
  const workers = slices.map((slice) => new Worker(entry, { workerData: { scenario, opts, slice, intervalMs: hooks.intervalMs, liveSteps: hooks.liveSteps ?? false } satisfies WorkerInput }));
  const stopAll = (interrupted: boolean): void => {
    for (const w of workers) w.postMessage({ type: 'stop', interrupted } satisfies WorkerCommand);
  };
  const onAbort = (): void => stopAll(true);
  hooks.signal?.addEventListener('abort', onAbort, { once: true });
  const onStop = (): void => stopAll(false);
  hooks.stopSignal?.addEventListener('abort', onStop, { once: true });
  const timer = setInterval(() => {
    if (latest.every((l) => l !== null)) hooks.onLive?.(latest as LiveFigures[]);
  }, hooks.intervalMs);
  timer.unref();
  try {
    return await Promise.all(
      workers.map(
        (w, i) =>
          new Promise<LocalRunOutcome>((resolve, reject) => {
            w.on('message', (m: WorkerMessage) => {
              if (m.type === 'live') latest[i] = m.live;
              else if (m.type === 'unusable') stopAll(false);
              else if (m.type === 'done') resolve(m.outcome);
              else reject(new Error(`worker ${i + 1} failed: ${m.message}`));
            });
            w.on('error', reject);
            w.on('exit', (code) => reject(new Error(`worker ${i + 1} exited with code ${code} before reporting`)));
          }),
      ),
    );
  } finally {
    clearInterval(timer);
    hooks.signal?.removeEventListener('abort', onAbort);
    hooks.stopSignal?.removeEventListener('abort', onStop);
    await Promise.all(workers.map((w) => w.terminate()));
  }
}
