/** What an executor gets from the thread's run: it only schedules VUs, it never records or formats. */
import type { Collector } from '../../metrics/collector.js';
import type { Control } from '../control.js';
import type { VirtualUser } from '../vu.js';

export interface ExecutorContext {
  readonly control: Control;
  /** Creates (and registers) the next VU of this thread. */
  readonly newVu: () => VirtualUser;
  /** Where dropped iterations are counted (open model). */
  readonly collector: Collector;
  /** Timers the thread clears when the run ends. */
  readonly timers: NodeJS.Timeout[];
}
