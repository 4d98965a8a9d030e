/** The request budget (-n) and the stop switch shared by all VUs of one thread. */
import { setMaxListeners } from 'node:events';
import type { RunControl } from './vu-shared.js';

export class Control implements RunControl {
  stopped = false;
  /** performance.now() when the run stopped. */
  stoppedAtMs = Number.POSITIVE_INFINITY;
  private remaining: number;
  private readonly ac = new AbortController();
  readonly signal: AbortSignal = this.ac.signal;

  constructor(requests: number | null) {
    this.remaining = requests ?? Number.POSITIVE_INFINITY;
    // Every VU waiting in think time or ramp-up listens for the stop: thousands of listeners are normal.
    setMaxListeners(0, this.signal);
  }

  takeRequest(): boolean {
    if (this.stopped) return false;
    if (this.remaining <= 0) {
      this.stop();
      return false;
    }
    this.remaining--;
    return true;
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.stoppedAtMs = performance.now();
    this.ac.abort();
  }
}
