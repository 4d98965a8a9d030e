/**
 * Closed model (the default, like ab and k6's constant-vus): `concurrency` VUs, each looping as fast as
 * its responses allow, started evenly over the ramp-up.
 */
import type { ExecutorContext } from './executor.js';

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
