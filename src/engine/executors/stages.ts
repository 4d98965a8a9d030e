/**
 * Load shapes, pure: k6-style stages ("ramp to N over D", one after another, from a start value), as
 * the number of VUs wanted at a moment (closed model) or as the due times of iterations under a ramping
 * arrival rate (open model).
 */
import type { Stage } from '../../scenario/types.js';

/** The stages' value at `tMs` since the start: linear within a stage, the last target after the end. */
export function stageValue(stages: readonly Stage[], start: number, tMs: number): number {
  let from = start;
  let t = tMs;
  for (const st of stages) {
    if (t < st.durationMs) return from + ((st.target - from) * t) / st.durationMs;
    t -= st.durationMs;
    from = st.target;
  }
  return from;
}

interface Segment {
  startMs: number;
  durationMs: number;
  /** Iterations per ms at the segment's start and end. */
  r0: number;
  r1: number;
  /** Iterations due before the segment starts. */
  before: number;
}

/**
 * When iteration k (0, 1, 2, ...) of a ramping arrival rate is due. The count of iterations due by t is
 * the integral of the rate; iteration k is due when it reaches k (so iteration 0 is due at the start,
 * and a constant rate r gives k / r, as before stages existed).
 */
export class RateSchedule {
  private readonly segments: Segment[] = [];
  private seg = 0;

  /** `rate` and stage targets in iterations per second; `scale` is this thread's share. */
  constructor(rate: number, stages: readonly Stage[], scale = 1) {
    let startMs = 0;
    let before = 0;
    let from = (rate * scale) / 1000;
    for (const st of stages) {
      const to = (st.target * scale) / 1000;
      if (st.durationMs > 0) {
        this.segments.push({ startMs, durationMs: st.durationMs, r0: from, r1: to, before });
        before += ((from + to) / 2) * st.durationMs;
        startMs += st.durationMs;
      }
      from = to;
    }
    // After the last stage (or without stages), the last rate goes on.
    this.segments.push({ startMs, durationMs: Number.POSITIVE_INFINITY, r0: from, r1: from, before });
  }

  /** Due time of iteration k, ms since the start; Infinity when the rate never gets there. Calls must not go back in k by much (a cursor moves forward). */
  dueMs(k: number): number {
    while (this.seg > 0 && this.segments[this.seg]!.before > k) this.seg--;
    for (;;) {
      const s = this.segments[this.seg]!;
      const end = s.before + (Number.isFinite(s.durationMs) ? ((s.r0 + s.r1) / 2) * s.durationMs : Number.POSITIVE_INFINITY);
      if (k < end || this.seg === this.segments.length - 1) {
        const n = k - s.before;
        if (n <= 0) return s.startMs;
        if (s.r0 === s.r1) return s.r0 > 0 ? s.startMs + n / s.r0 : Number.POSITIVE_INFINITY;
        // n = r0 t + (r1 - r0) t^2 / (2 D)  =>  a t^2 + r0 t - n = 0
        const a = (s.r1 - s.r0) / (2 * s.durationMs);
        const disc = s.r0 * s.r0 + 4 * a * n;
        if (disc < 0) return Number.POSITIVE_INFINITY;
        return s.startMs + (-s.r0 + Math.sqrt(disc)) / (2 * a);
      }
      this.seg++;
    }
  }

  /** Iterations due at or before `tMs` (how many should have started by then). */
  dueBy(tMs: number): number {
    let n = 0;
    for (const s of this.segments) {
      if (tMs < s.startMs) break;
      const t = Math.min(tMs - s.startMs, s.durationMs);
      const r = Number.isFinite(s.durationMs) ? s.r0 + ((s.r1 - s.r0) * t) / s.durationMs : s.r0;
      n = s.before + ((s.r0 + r) / 2) * t;
    }
    return Math.floor(n + 1e-9) + 1;
  }
}
