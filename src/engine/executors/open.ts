/**
 * Open model (`--rate`, like k6's constant-arrival-rate): an iteration is due every 1/rate seconds
 * whatever the responses; it runs on an idle VU (a new one while fewer than maxVus exist), its first
 * request timed from the due time so that a stalled server shows in the latency (coordinated-omission
 * correction). No VU free: the iteration is dropped and counted.
 */
import type { Stage } from '../../scenario/types.js';
import type { VirtualUser } from '../vu.js';
import type { ExecutorContext } from './executor.js';
import { RateSchedule } from './stages.js';

export interface OpenModelConfig {
  /** Iterations started per second at the start (this thread's share). */
  rate: number;
  /** Rate stages (targets in iterations/s for the whole run), scaled by `share`. */
  stages: readonly Stage[];
  /** This thread's share of the run's rate (1 without worker threads). */
  share: number;
  /** VUs created up front. */
  concurrency: number;
  /** Most VUs at once. */
  maxVus: number;
  /** performance.now() of the run's start: iteration k is due at startMs + k / rate. */
  startMs: number;
}

/** Runs until the stop, then waits for the iterations in flight. */
export async function runOpenModel(config: OpenModelConfig, ctx: ExecutorContext): Promise<void> {
  const { rate, maxVus, startMs, share } = config;
  const { control, collector } = ctx;
  const idle: VirtualUser[] = [];
  for (let i = 0; i < config.concurrency; i++) idle.push(ctx.newVu());
  let created = config.concurrency;
  const inFlight = new Set<Promise<void>>();
  const schedule = new RateSchedule(rate / share, config.stages, share);
  const dueAt = (i: number): number => startMs + schedule.dueMs(i);
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
    const wait = dueAt(k) - performance.now();
    if (wait > 0) {
      await new Promise<void>((resolve) => {
        wake = resolve;
        // A rate ramped down to 0 has no next iteration: wait for the stop (re-checked every second).
        timer = setTimeout(resolve, Math.min(wait, 1000));
      });
      timer = null;
      wake = null;
      continue;
    }
    // Start every iteration that is due by now (timers fire late under load).
    const now = performance.now();
    for (let intended = dueAt(k); intended <= now && !control.stopped; intended = dueAt(k)) {
      k++;
      let vu = idle.pop();
      if (vu === undefined && created < maxVus) {
        vu = ctx.newVu();
        created++;
      }
      if (vu === undefined) {
        collector.recordDroppedIteration(now);
        continue;
      }
      const v = vu;
      collector.vuActivity(1, now);
      const release = (): void => {
        inFlight.delete(p);
        idle.push(v);
        collector.vuActivity(-1, performance.now());
      };
      const p: Promise<void> = v.runIteration(intended).then(release, release);
      inFlight.add(p);
    }
  }
  control.signal.removeEventListener('abort', onStop);
  // Iterations that fell due before the stop but were never started (the generator lagged) are dropped
  // too; one due in the stop's own millisecond is not (the duration timer fired with it).
  const due = schedule.dueBy(control.stoppedAtMs - startMs - 1);
  if (due > k) collector.recordDroppedIteration(control.stoppedAtMs, due - k);
  await Promise.all(inFlight);
}