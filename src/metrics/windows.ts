/**
 * Figures of a stretch of a run, from its per-second timeline: what an event did to the users is the
 * difference between the seconds before it, during it and after it. Windows are whole seconds: the
 * second in which a command started or ended belongs to its "during" window. Latency comes from the
 * seconds' histograms added together, never from their percentiles.
 */
import type { RunEvent, TimelineBucket, WindowFigures } from '../result/schema.js';
import { mergeEncoded, percentileMs } from './histogram.js';

/** Figures of seconds [fromSecond, toSecond); null when the window is empty. */
export function windowFigures(timeline: readonly TimelineBucket[], fromSecond: number, toSecond: number): WindowFigures | null {
  const to = Math.min(toSecond, timeline.length);
  if (to <= fromSecond) return null;
  let requests = 0;
  let failed = 0;
  let losses = 0;
  let flow = 0;
  let kept = 0;
  const hdrs: string[] = [];
  for (let s = fromSecond; s < to; s++) {
    const b = timeline[s]!;
    requests += b.requests;
    failed += b.failed;
    losses += b.losses;
    flow += b.flowRequests;
    kept += b.flowRequestsKept;
    if (b.hdr !== '') hdrs.push(b.hdr);
  }
  const h = hdrs.length > 0 ? mergeEncoded(hdrs) : null;
  return {
    fromSecond,
    toSecond: to,
    requests,
    rps: Math.round((requests / (to - fromSecond)) * 100) / 100,
    errorRate: requests === 0 ? null : failed / requests,
    retention: flow === 0 ? null : kept / flow,
    losses,
    p99: h === null || h.totalCount === 0 ? null : percentileMs(h, 99),
  };
}

type EventTimes = Pick<RunEvent, 'startedMs' | 'endedMs'>;

/**
 * Before: from the end of the previous event (or the start) to this one's start second; during: its
 * start second to its end second, inclusive; after: to the next event's start (or the end of the run).
 */
export function eventWindows(timeline: readonly TimelineBucket[], events: readonly EventTimes[], i: number): RunEvent['windows'] {
  const e = events[i]!;
  if (e.startedMs === null) return { before: null, during: null, after: null };
  const sec = (ms: number): number => Math.floor(ms / 1000);
  const startS = sec(e.startedMs);
  const endS = e.endedMs === null ? timeline.length - 1 : sec(e.endedMs);
  const prev = events[i - 1];
  const next = events[i + 1];
  const beforeFrom = prev?.endedMs != null ? sec(prev.endedMs) + 1 : 0;
  const afterTo = next?.startedMs != null ? sec(next.startedMs) : timeline.length;
  return {
    before: windowFigures(timeline, Math.min(beforeFrom, startS), startS),
    during: windowFigures(timeline, startS, endS + 1),
    after: windowFigures(timeline, endS + 1, afterTo),
  };
}
