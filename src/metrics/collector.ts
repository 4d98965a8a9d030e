/**
 * Turns what virtual users observe into counters and histograms. Every `record*` method is called on the
 * request path: plain field updates, no allocation except for the rare loss event. `snapshot()` produces
 * a JSON-safe, mergeable {@link MetricsSnapshot} (encoded histograms, exact counts), which is how worker
 * threads hand their figures to the main thread and how a RunResult is built.
 */
import { ERROR_KINDS, type ErrorKind } from '../result/constants.js';
import type { ErrorCounts, LossEvent } from '../result/schema.js';
import { createLatencyHistogram, encodeHistogram, mergeEncoded, percentileMs, type Histogram } from './histogram.js';

/** Loss events kept in a result; counts stay exact beyond it. */
export const MAX_LOSS_EVENTS = 200;
/** Distinct login-failure reasons kept; further ones are counted together under MORE_REASONS. */
export const MAX_REASONS = 20;
export const MORE_REASONS = '(other reasons)';

function countReason(into: Map<string, number>, reason: string, n = 1): void {
  const key = into.has(reason) || into.size < MAX_REASONS ? reason : MORE_REASONS;
  into.set(key, (into.get(key) ?? 0) + n);
}

function mergeReasons(parts: readonly Record<string, number>[]): Record<string, number> {
  const out = new Map<string, number>();
  for (const p of parts) for (const [k, n] of Object.entries(p)) countReason(out, k, n);
  return Object.fromEntries(out);
}

export interface StepMeta {
  readonly name: string;
  readonly phase: 'login' | 'flow';
  readonly method: string;
}

const zeroErrors = (): ErrorCounts => Object.fromEntries(ERROR_KINDS.map((k) => [k, 0])) as ErrorCounts;

/**
 * Latency counts in the exact bucket layout of the HDR histogram that {@link createLatencyHistogram}
 * builds (integer µs, lowest discernible value 1, 3 significant digits: 2048 sub-buckets, half of them
 * per further power of two), so that recording is an index computation and an increment (~2 ns; the
 * library's recordValue costs ~100 ns), and {@link LatencyCounts.toHistogram} rebuilds the very same
 * histogram: same counts in the same buckets, hence the same encoding.
 */
class LatencyCounts {
  counts = new Float64Array(8192);
  total = 0;

  /** Called once per response: no allocation (the array doubles in the rare case a value needs it). */
  record(us: number): void {
    let i: number;
    if (us < 0x80000000) {
      const b = us < 2048 ? 0 : 21 - Math.clz32(us);
      i = (b << 10) + (us >>> b);
    } else {
      const b = Math.floor(Math.log2(us)) - 10;
      i = b * 1024 + Math.floor(us / 2 ** b);
    }
    if (i >= this.counts.length) this.grow(i);
    this.counts[i]!++;
    this.total++;
  }

  private grow(index: number): void {
    let n = this.counts.length * 2;
    while (n <= index) n *= 2;
    const c = new Float64Array(n);
    c.set(this.counts);
    this.counts = c;
  }

  /** Adds these counts into `h` (a histogram from createLatencyHistogram), bucket by bucket. */
  addTo(h: Histogram): Histogram {
    const c = this.counts;
    for (let i = 0; i < c.length; i++) {
      const n = c[i]!;
      if (n === 0) continue;
      const b = i < 2048 ? 0 : (i >> 10) - 1;
      h.recordValueWithCount((i - b * 1024) * 2 ** b, n);
    }
    return h;
  }

  toHistogram(): Histogram {
    return this.addTo(createLatencyHistogram());
  }
}

class StepStats {
  requests = 0;
  failed = 0;
  losses = 0;
  /** Index = HTTP status (100..599). */
  readonly byStatus = new Uint32Array(600);
  readonly errors = zeroErrors();
  readonly latency = new LatencyCounts();
}

export interface StepSnapshot extends StepMeta {
  requests: number;
  failed: number;
  losses: number;
  byStatus: Record<string, number>;
  errors: ErrorCounts;
  /** Encoded HDR histogram, microseconds. */
  hdr: string;
}

/** Exact, mergeable figures of (part of) a run. */
export interface MetricsSnapshot {
  steps: StepSnapshot[];
  bytesReceived: number;
  logins: number;
  loginFailures: number;
  lastLoginFailure: string | null;
  /** Why logins failed: reason -> count (a few distinct reasons; the rest under MORE_REASONS). */
  loginFailureReasons: Record<string, number>;
  losses: number;
  flowRequests: number;
  flowRequestsKept: number;
  flowIterations: number;
  flowIterationsKept: number;
  droppedIterations: number;
  /** Requests sent again on a new connection because the server had closed a reused one (not errors). */
  retries: number;
  /** Re-logins whose login page sent the user on to the app: the session was still valid. */
  stillLoggedIn: number;
  /** Requests in flight when the run stopped, cut without an answer (not counted as requests). */
  aborted: number;
  lossEvents: LossEvent[];
  lossEventsDropped: number;
  backends: Record<string, number>;
  /** Per whole second since start: [requests, failed, losses]. */
  timeline: [number, number, number][];
  lastError: string | null;
}

export class Collector {
  private readonly steps: StepStats[];
  requests = 0;
  responses = 0;
  failed = 0;
  errors = 0;
  bytesReceived = 0;
  logins = 0;
  loginFailures = 0;
  lastLoginFailure: string | null = null;
  private readonly loginFailureReasons = new Map<string, number>();
  lastError: string | null = null;
  losses = 0;
  flowRequests = 0;
  flowRequestsKept = 0;
  flowIterations = 0;
  flowIterationsKept = 0;
  droppedIterations = 0;
  retries = 0;
  aborted = 0;
  stillLoggedIn = 0;
  private readonly lossEvents: LossEvent[] = [];
  private lossEventsDropped = 0;
  private readonly backends = new Map<string, number>();
  private readonly timeline: [number, number, number][] = [];

  /** @param startMs performance.now() at the run's start; timestamps are relative to it. */
  constructor(
    readonly stepMeta: readonly StepMeta[],
    private readonly startMs: number,
  ) {
    this.steps = stepMeta.map(() => new StepStats());
  }

  private bucket(nowMs: number): [number, number, number] {
    const s = Math.max(0, Math.floor((nowMs - this.startMs) / 1000));
    let b = this.timeline[s];
    if (b === undefined) {
      for (let i = this.timeline.length; i <= s; i++) this.timeline[i] = [0, 0, 0];
      b = this.timeline[s]!;
    }
    return b;
  }

  /** A response arrived. `failed`: it did not meet the step's expectation. */
  recordResponse(step: number, latencyUs: number, status: number, bytes: number, backend: string | null, failed: boolean, nowMs: number): void {
    const st = this.steps[step]!;
    st.requests++;
    if (status >= 100 && status < 600) st.byStatus[status]!++;
    st.latency.record(latencyUs);
    this.requests++;
    this.responses++;
    this.bytesReceived += bytes;
    const b = this.bucket(nowMs);
    b[0]++;
    if (failed) {
      st.failed++;
      this.failed++;
      b[1]++;
    }
    if (backend !== null) this.backends.set(backend, (this.backends.get(backend) ?? 0) + 1);
  }

  /** A request got no response (refused, reset, timeout...). Not part of the latency histograms. */
  recordError(step: number, kind: ErrorKind, err: unknown, nowMs: number): void {
    const st = this.steps[step]!;
    st.requests++;
    st.failed++;
    st.errors[kind]++;
    this.requests++;
    this.failed++;
    this.errors++;
    const b = this.bucket(nowMs);
    b[0]++;
    b[1]++;
    this.lastError = `${kind}: ${(err as Error)?.message ?? String(err)}`;
  }

  /** A flow request showed the session was lost (its response was already recorded). */
  recordLoss(step: number, event: LossEvent, nowMs: number): void {
    this.steps[step]!.losses++;
    this.losses++;
    this.bucket(nowMs)[2]++;
    if (this.lossEvents.length < MAX_LOSS_EVENTS) this.lossEvents.push(event);
    else this.lossEventsDropped++;
  }

  recordLogin(ok: boolean, failureReason?: string): void {
    if (ok) this.logins++;
    else {
      this.loginFailures++;
      if (failureReason !== undefined) {
        this.lastLoginFailure = failureReason;
        countReason(this.loginFailureReasons, failureReason);
      }
    }
  }

  /** A flow step got its final response; `kept` unless it showed a session loss. */
  recordFlowRequest(kept: boolean): void {
    this.flowRequests++;
    if (kept) this.flowRequestsKept++;
  }

  /** A flow iteration ended: all steps done (`kept`), or cut short by a session loss. */
  recordIteration(kept: boolean): void {
    this.flowIterations++;
    if (kept) this.flowIterationsKept++;
  }

  recordDroppedIteration(): void {
    this.droppedIterations++;
  }

  /** A login page sent a VU that was to log in again on to the app: its session was still valid. */
  recordStillLoggedIn(): void {
    this.stillLoggedIn++;
  }

  /** A request in flight was cut when the run stopped. */
  recordAborted(): void {
    this.aborted++;
  }

  /** A request was sent again on a new connection (its answer, or error, is recorded as usual). */
  recordRetries(n: number): void {
    this.retries += n;
  }

  /** Every response (all steps) in one histogram; built on demand (about once a second, off the request path). */
  private overall(): Histogram {
    const h = createLatencyHistogram();
    for (const st of this.steps) st.latency.addTo(h);
    return h;
  }

  /** p99 so far in ms (progress lines). */
  p99Ms(): number {
    return percentileMs(this.overall(), 99);
  }

  /** The overall latency histogram, encoded (live progress across worker threads). */
  encodedOverall(): string {
    return encodeHistogram(this.overall());
  }

  /** Milliseconds since start for an event timestamp. */
  sinceStart(nowMs: number): number {
    return Math.round((nowMs - this.startMs) * 1000) / 1000;
  }

  snapshot(): MetricsSnapshot {
    return {
      steps: this.steps.map((st, i) => {
        const byStatus: Record<string, number> = {};
        st.byStatus.forEach((n, code) => {
          if (n > 0) byStatus[String(code)] = n;
        });
        return {
          ...this.stepMeta[i]!,
          requests: st.requests,
          failed: st.failed,
          losses: st.losses,
          byStatus,
          errors: { ...st.errors },
          hdr: encodeHistogram(st.latency.toHistogram()),
        };
      }),
      bytesReceived: this.bytesReceived,
      logins: this.logins,
      loginFailures: this.loginFailures,
      lastLoginFailure: this.lastLoginFailure,
      loginFailureReasons: Object.fromEntries(this.loginFailureReasons),
      losses: this.losses,
      flowRequests: this.flowRequests,
      flowRequestsKept: this.flowRequestsKept,
      flowIterations: this.flowIterations,
      flowIterationsKept: this.flowIterationsKept,
      droppedIterations: this.droppedIterations,
      retries: this.retries,
      aborted: this.aborted,
      stillLoggedIn: this.stillLoggedIn,
      lossEvents: [...this.lossEvents],
      lossEventsDropped: this.lossEventsDropped,
      backends: Object.fromEntries(this.backends),
      timeline: this.timeline.map((b) => [...b] as [number, number, number]),
      lastError: this.lastError,
    };
  }
}

const addCounts = (into: Record<string, number>, from: Record<string, number>): void => {
  for (const [k, v] of Object.entries(from)) into[k] = (into[k] ?? 0) + v;
};

/**
 * Merges snapshots of the same scenario (e.g. one per worker thread): counts are summed, histograms
 * are added as histograms (never by averaging percentiles), loss events are interleaved by time.
 */
export function mergeSnapshots(parts: readonly MetricsSnapshot[]): MetricsSnapshot {
  if (parts.length === 1) return parts[0]!;
  const first = parts[0]!;
  const steps: StepSnapshot[] = first.steps.map((s, i) => {
    const byStatus: Record<string, number> = {};
    const errors = zeroErrors();
    let requests = 0;
    let failed = 0;
    let losses = 0;
    for (const p of parts) {
      const ps = p.steps[i]!;
      requests += ps.requests;
      failed += ps.failed;
      losses += ps.losses;
      addCounts(byStatus, ps.byStatus);
      for (const k of ERROR_KINDS) errors[k] += ps.errors[k];
    }
    return { name: s.name, phase: s.phase, method: s.method, requests, failed, losses, byStatus, errors, hdr: encodeHistogram(mergeEncoded(parts.map((p) => p.steps[i]!.hdr))) };
  });
  const sum = (f: (p: MetricsSnapshot) => number): number => parts.reduce((a, p) => a + f(p), 0);
  const backends: Record<string, number> = {};
  for (const p of parts) addCounts(backends, p.backends);
  const timeline: [number, number, number][] = [];
  for (const p of parts) {
    p.timeline.forEach((b, s) => {
      const t = (timeline[s] ??= [0, 0, 0]);
      t[0] += b[0];
      t[1] += b[1];
      t[2] += b[2];
    });
  }
  for (let s = 0; s < timeline.length; s++) timeline[s] ??= [0, 0, 0];
  const events = parts.flatMap((p) => p.lossEvents).sort((a, b) => a.atMs - b.atMs);
  return {
    steps,
    bytesReceived: sum((p) => p.bytesReceived),
    logins: sum((p) => p.logins),
    loginFailures: sum((p) => p.loginFailures),
    lastLoginFailure: parts.map((p) => p.lastLoginFailure).find((x) => x !== null) ?? null,
    loginFailureReasons: mergeReasons(parts.map((p) => p.loginFailureReasons)),
    losses: sum((p) => p.losses),
    flowRequests: sum((p) => p.flowRequests),
    flowRequestsKept: sum((p) => p.flowRequestsKept),
    flowIterations: sum((p) => p.flowIterations),
    flowIterationsKept: sum((p) => p.flowIterationsKept),
    droppedIterations: sum((p) => p.droppedIterations),
    retries: sum((p) => p.retries),
    aborted: sum((p) => p.aborted),
    stillLoggedIn: sum((p) => p.stillLoggedIn),
    lossEvents: events.slice(0, MAX_LOSS_EVENTS),
    lossEventsDropped: sum((p) => p.lossEventsDropped) + Math.max(0, events.length - MAX_LOSS_EVENTS),
    backends,
    timeline,
    lastError: parts.map((p) => p.lastError).find((x) => x !== null) ?? null,
  };
}
