/**
 * Closed model (the default, like ab and k6's constant-vus): `concurrency` VUs, each looping as fast as
 * its responses allow, started evenly over the ramp-up. With stages (k6's ramping-vus), the number of
 * running VUs follows the stages: VUs start as the target rises, and when it falls the highest-numbered
 * ones stop at the end of their current iteration (k6's graceful ramp-down), keeping their session for
 * when the target rises again.
 */
import type { Stage } from '../../scenario/types.js';
import { splitEvenly } from '../slices.js';
import type { VirtualUser } from '../vu.js';
import type { ExecutorContext } from './executor.js';
import { stageValue } from './stages.js';

export interface ClosedModelConfig {
  concurrency: number;
  rampUpMs: number;
}

/** Starts every VU (now or after its ramp-up delay); the promises settle when each VU stops. */
export function startClosedModel(config: ClosedModelConfig, ctx: ExecutorContext): Promise<void>[] {
  const { control, timers } = ctx;
  const running: Promise<void>[] = [];
  const n = config.concurrency;
  for (let i = 0; i < n; i++) {
    const vu = ctx.newVu();
    const delay = n > 1 ? (config.rampUpMs * i) / n : 0;
    if (delay <= 0) {
      running.push(vu.run());
      continue;
    }
    running.push(
      new Promise<void>((resolve) => {
        // A VU that has not started yet ends with the run; one that has started ends when its last
        // request does (the stop must not resolve it while a request is in flight: the grace period
        // would be skipped and that request cut).
        const notStarted = (): void => {
          clearTimeout(t);
          resolve();
        };
        const t = setTimeout(() => {
          control.signal.removeEventListener('abort', notStarted);
          if (control.stopped) resolve();
          else vu.run().then(resolve, resolve);
        }, delay);
        timers.push(t);
        control.signal.addEventListener('abort', notStarted, { once: true });
      }),
    );
  }
  return running;
}

export interface StagedClosedModelConfig {
  stages: readonly Stage[];
  /** performance.now() of the run's start. */
  startMs: number;
  /** This thread among `threads`: its share of each target. */
  thread: number;
  threads: number;
}

/** How often the wanted VU count is recomputed: a ramp follows its stages to within this. */
const STAGE_TICK_MS = 100;

/** Runs VUs as the stages say until the stop, then waits for the VUs still running. */
export async function runStagedClosedModel(config: StagedClosedModelConfig, ctx: ExecutorContext): Promise<void> {
  const { control } = ctx;
  const vus: VirtualUser[] = [];
  const running: (Promise<void> | null)[] = [];
  let wanted = 0;
  const tick = (): void => {
    if (control.stopped) return;
    const global = Math.round(stageValue(config.stages, 0, performance.now() - config.startMs));
    wanted = splitEvenly(global, config.threads)[config.thread]!;
    for (let i = 0; i < wanted; i++) {
      if (running[i] != null) continue;
      const vu = (vus[i] ??= ctx.newVu());
      // VU i goes on while it is among the wanted ones; checked between iterations.
      running[i] = vu.run(() => i < wanted).finally(() => {
        running[i] = null;
      });
    }
  };
  tick();
  const timer = setInterval(tick, STAGE_TICK_MS);
  ctx.timers.push(timer as unknown as NodeJS.Timeout);
  await new Promise<void>((resolve) => {
    if (control.stopped) resolve();
    else control.signal.addEventListener('abort', () => resolve(), { once: true });
  });
  clearInterval(timer);
  await Promise.all(running.map((p) => p?.catch(() => undefined)));
}
