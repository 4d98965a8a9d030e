/**
 * Open model (`--rate`, like k6's constant-arrival-rate): an iteration is due every 1/rate seconds
 * whatever the responses; it runs on an idle VU (a new one while fewer than maxVus exist), its first
 * request timed from the due time so that a stalled server shows in the latency (coordinated-omission
 * correction). No VU free: the iteration is dropped and counted.
 */
import type { VirtualUser } from '../vu.js';
import type { ExecutorContext } from './executor.js';

export interface OpenModelConfig {
  /** Iterations started per second (this thread's share). */
  rate: number;
  /** VUs created up front. */
  concurrency: number;
  /** Most VUs at once. */
  maxVus: number;
  /** performance.now() of the run's start: iteration k is due at startMs + k / rate. */
  startMs: number;
}

/** Runs until the stop, then waits for the iterations in flight. */
export async function runOpenModel(config: OpenModelConfig, ctx: ExecutorContext): Promise<void> {
  const { rate, maxVus, startMs } = config;
  const { control, collector } = ctx;
  const idle: VirtualUser[] = [];
  for (let i = 0; i < config.concurrency; i++) idle.push(ctx.newVu());
  let created = config.concurrency;
  const inFlight = new Set<Promise<void>>();
  const intervalMs = 1000 / rate;
  // One wake-up timer at a time, cancelled by the stop signal (no listener per wait).
  let timer: NodeJS.Timeout | null = null;
  let wake: (() => void) | null = null;
  const onStop = (): void => {
    if (timer !== null) clearTimeout(timer);
    wake?.();
  };
  control.signal.addEventListener('abort', onStop, { once: true });
  let k = 0;
  while (!control.stopped) {
    const wait = startMs + k * intervalMs - performance.now();
    if (wait > 0) {
      await new Promise<void>((resolve) => {
        wake = resolve;
        timer = setTimeout(resolve, wait);
      });
      timer = null;
      wake = null;
      if (control.stopped) break;
    }
    // Start every iteration that is due by now (timers fire late under load).
    const now = performance.now();
    while (startMs + k * intervalMs <= now && !control.stopped) {
      const intended = startMs + k * intervalMs;
      k++;
      let vu = idle.pop();
      if (vu === undefined && created < maxVus) {
        vu = ctx.newVu();
        created++;
      }
      if (vu === undefined) {
        collector.recordDroppedIteration();
        continue;
      }
      const v = vu;
      const release = (): void => {
        inFlight.delete(p);
        idle.push(v);
      };
      const p: Promise<void> = v.runIteration(intended).then(release, release);
      inFlight.add(p);
    }
  }
  control.signal.removeEventListener('abort', onStop);
  // Iterations that fell due before the stop but were never started (the generator lagged) are dropped too.
  const due = Math.floor((control.stoppedAtMs - startMs) / intervalMs) + 1;
  for (let i = k; i < due; i++) collector.recordDroppedIteration();
  await Promise.all(inFlight);
}
