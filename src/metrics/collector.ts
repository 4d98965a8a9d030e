/**
 * Turns what virtual users observe into counters and histograms. Every `record*` method is called on the
 * request path: plain field updates, no allocation except for the rare loss event. `snapshot()` produces
 * a JSON-safe, mergeable {@link MetricsSnapshot} (encoded histograms, exact counts), which is how worker
 * threads hand their figures to the main thread and how a RunResult is built.
 */
import { ERROR_KINDS, type ErrorKind } from '../result/constants.js';
import type { Attribution, ErrorCounts, LossEvent, UsersFigures } from '../result/schema.js';
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

  /** The encoded histogram of these counts, '' when empty. */
  encoded(): string {
    return this.total === 0 ? '' : encodeHistogram(this.toHistogram());
  }

  reset(): void {
    if (this.total === 0) return;
    this.counts.fill(0);
    this.total = 0;
  }
}

/** Size classes of counts (losses per user, requests since login): exact below 3, then ranges. */
const COUNT_CLASSES: readonly [number, string][] = [
  [1, '1'],
  [2, '2'],
  [5, '3-5'],
  [10, '6-10'],
  [20, '11-20'],
  [50, '21-50'],
  [100, '51-100'],
];
export function countClass(n: number): string {
  for (const [upTo, label] of COUNT_CLASSES) if (n <= upTo) return label;
  return '101+';
}

/** One second of the run. Its latency is kept dense only while it is the current second, then encoded. */
class SecondBucket {
  requests = 0;
  failed = 0;
  errors = 0;
  losses = 0;
  logins = 0;
  loginFailures = 0;
  flowRequests = 0;
  flowRequestsKept = 0;
  regenerations = 0;
  dropped = 0;
  hdr = '';
  /** Responses per backend index (see Collector.backendIndex). */
  backends: number[] | null = null;
  /** Latencies recorded after this second was encoded (rare: out-of-order timestamps). */
  late: number[] | null = null;
  constructor(public activeVus: number) {}
}

/** What a virtual user saw over the whole run, handed to the collector when the run ends. */
export interface UserFigures {
  loggedIn: boolean;
  losses: number;
  /** Backend of the user's first login, when known. */
  firstLoginBackend: string | null;
  /** Logged-in requests whose backend and login backend were both known, and of them on the login's. */
  attributedRequests: number;
  sameBackend: number;
}

/** Where the backend name of a response came from. */
export type BackendSource = NonNullable<Attribution['backendSource']>;

export interface TimelineSecond {
  requests: number;
  failed: number;
  errors: number;
  losses: number;
  logins: number;
  loginFailures: number;
  flowRequests: number;
  flowRequestsKept: number;
  regenerations: number;
  dropped: number;
  activeVus: number;
  hdr: string;
  backends: Record<string, number>;
}

/** A second in which nothing happened. */
export const emptySecond = (activeVus = 0): TimelineSecond => ({
  requests: 0,
  failed: 0,
  errors: 0,
  losses: 0,
  logins: 0,
  loginFailures: 0,
  flowRequests: 0,
  flowRequestsKept: 0,
  regenerations: 0,
  dropped: 0,
  activeVus,
  hdr: '',
  backends: {},
});

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
  /** Per whole second since start. */
  timeline: TimelineSecond[];
  lastError: string | null;
  regenerations: number;
  users: UsersFigures;
  /** Losses by `${login backend}\n${backend that lost}` ('' = unknown). */
  hops: Record<string, number>;
  lossesByBackend: Record<string, number>;
  lossesBySinceLogin: Record<string, number>;
  stickiness: { requests: number; sameBackend: number; vus: number; fullySticky: number; minShare: number | null };
  backendSource: BackendSource | null;
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
  regenerations = 0;
  /** Users whose session was lost at least once so far (live; the exact figures come with recordUser). */
  usersAffected = 0;
  /** Virtual users active now (closed model: running; open model: in an iteration). */
  activeVus = 0;
  backendSource: BackendSource | null = null;
  /** Backend names, indexed in order of first appearance; counts per index. */
  private readonly backendNames: string[] = [];
  private readonly backendIds = new Map<string, number>();
  private readonly backendCounts: number[] = [];
  private lastBackendName = '';
  private lastBackendId = -1;
  private readonly timeline: SecondBucket[] = [];
  /** The bucket of the latest record, and its second's latency (dense until the second is over). */
  private current: SecondBucket;
  private currentSecond = 0;
  /** The bucket of the latest record: where the login or flow request it ends is counted. */
  private last: SecondBucket;
  private readonly secondLatency = new LatencyCounts();
  private readonly hops = new Map<string, number>();
  private readonly lossesByBackend = new Map<string, number>();
  private readonly lossesBySinceLogin = new Map<string, number>();
  private readonly users: UsersFigures = { total: 0, loggedIn: 0, affected: 0, maxLosses: 0, lossesPerUser: {}, byLoginBackend: {} };
  private readonly stickiness = { requests: 0, sameBackend: 0, vus: 0, fullySticky: 0, minShare: null as number | null };

  /** @param startMs performance.now() at the run's start; timestamps are relative to it. */
  constructor(
    readonly stepMeta: readonly StepMeta[],
    private readonly startMs: number,
  ) {
    this.steps = stepMeta.map(() => new StepStats());
    this.current = new SecondBucket(0);
    this.last = this.current;
    this.timeline.push(this.current);
  }

  /**
   * The bucket of `nowMs`'s second (before the start: second 0). The latest second keeps its latency
   * dense; when a later second begins it is encoded. A record for an earlier second (a timestamp taken a
   * little earlier on another path) still goes to its own second.
   */
  private bucket(nowMs: number): SecondBucket {
    const s = Math.max(0, Math.floor((nowMs - this.startMs) / 1000));
    if (s > this.currentSecond) {
      this.current.hdr = this.secondLatency.encoded();
      this.secondLatency.reset();
      for (let i = this.currentSecond + 1; i <= s; i++) this.timeline.push(new SecondBucket(this.activeVus));
      this.currentSecond = s;
      this.current = this.timeline[s]!;
    }
    const b = s === this.currentSecond ? this.current : this.timeline[s]!;
    this.last = b;
    return b;
  }

  /** Makes sure the timeline reaches `nowMs` (seconds in which nothing ended still exist). */
  touch(nowMs: number): void {
    this.bucket(nowMs);
  }

  private backendIndex(name: string): number {
    if (name === this.lastBackendName) return this.lastBackendId;
    let id = this.backendIds.get(name);
    if (id === undefined) {
      id = this.backendNames.length;
      this.backendNames.push(name);
      this.backendIds.set(name, id);
      this.backendCounts.push(0);
    }
    this.lastBackendName = name;
    this.lastBackendId = id;
    return id;
  }

  /** `delta` VUs became active (+) or idle (-). */
  vuActivity(delta: number, nowMs: number): void {
    this.activeVus += delta;
    const b = this.bucket(nowMs);
    if (this.activeVus > b.activeVus) b.activeVus = this.activeVus;
  }

  /** The backend names of this run come from `source` (the first one found is reported). */
  noteBackendSource(source: BackendSource): void {
    this.backendSource ??= source;
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
    if (b === this.current) this.secondLatency.record(latencyUs);
    else (b.late ??= []).push(latencyUs);
    b.requests++;
    if (failed) {
      st.failed++;
      this.failed++;
      b.failed++;
    }
    if (backend !== null) {
      const id = this.backendIndex(backend);
      this.backendCounts[id]!++;
      const per = (b.backends ??= []);
      per[id] = (per[id] ?? 0) + 1;
    }
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
    b.requests++;
    b.failed++;
    b.errors++;
    this.lastError = `${kind}: ${(err as Error)?.message ?? String(err)}`;
  }

  /** A flow request showed the session was lost (its response was already recorded). */
  recordLoss(step: number, event: LossEvent, nowMs: number): void {
    this.steps[step]!.losses++;
    this.losses++;
    this.bucket(nowMs).losses++;
    const hop = `${event.loginBackend ?? ''}\n${event.backend ?? ''}`;
    this.hops.set(hop, (this.hops.get(hop) ?? 0) + 1);
    if (event.backend !== null) this.lossesByBackend.set(event.backend, (this.lossesByBackend.get(event.backend) ?? 0) + 1);
    if (event.requestsSinceLogin !== undefined) {
      const c = countClass(event.requestsSinceLogin);
      this.lossesBySinceLogin.set(c, (this.lossesBySinceLogin.get(c) ?? 0) + 1);
    }
    if (this.lossEvents.length < MAX_LOSS_EVENTS) this.lossEvents.push(event);
    else this.lossEventsDropped++;
  }

  /** A user lost their session for the first time. */
  recordUserAffected(): void {
    this.usersAffected++;
  }

  /** A flow response replaced the session cookie without sending the user to log in. */
  recordRegeneration(): void {
    this.regenerations++;
    this.last.regenerations++;
  }

  /** A login ended (right after its last response was recorded: it counts in that response's second). */
  recordLogin(ok: boolean, failureReason?: string): void {
    if (ok) {
      this.logins++;
      this.last.logins++;
    } else {
      this.loginFailures++;
      this.last.loginFailures++;
      if (failureReason !== undefined) {
        this.lastLoginFailure = failureReason;
        countReason(this.loginFailureReasons, failureReason);
      }
    }
  }

  /** A flow step got its final response; `kept` unless it showed a session loss. */
  recordFlowRequest(kept: boolean): void {
    this.flowRequests++;
    this.last.flowRequests++;
    if (kept) {
      this.flowRequestsKept++;
      this.last.flowRequestsKept++;
    }
  }

  /** A flow iteration ended: all steps done (`kept`), or cut short by a session loss. */
  recordIteration(kept: boolean): void {
    this.flowIterations++;
    if (kept) this.flowIterationsKept++;
  }

  recordDroppedIteration(nowMs: number, n = 1): void {
    this.droppedIterations += n;
    this.bucket(nowMs).dropped += n;
  }

  /** A virtual user's figures over the whole run (called once per VU as the run ends). */
  recordUser(u: UserFigures): void {
    const users = this.users;
    users.total++;
    if (u.loggedIn) users.loggedIn++;
    if (u.losses > 0) {
      users.affected++;
      if (u.losses > users.maxLosses) users.maxLosses = u.losses;
      const c = countClass(u.losses);
      users.lossesPerUser[c] = (users.lossesPerUser[c] ?? 0) + 1;
    }
    if (u.firstLoginBackend !== null) {
      const by = (users.byLoginBackend[u.firstLoginBackend] ??= { users: 0, affected: 0 });
      by.users++;
      if (u.losses > 0) by.affected++;
    }
    if (u.attributedRequests > 0) {
      const st = this.stickiness;
      st.requests += u.attributedRequests;
      st.sameBackend += u.sameBackend;
      st.vus++;
      if (u.sameBackend === u.attributedRequests) st.fullySticky++;
      const share = u.sameBackend / u.attributedRequests;
      if (st.minShare === null || share < st.minShare) st.minShare = share;
    }
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

  /** Each step's latency histogram so far, encoded (live exporters). */
  encodedSteps(): string[] {
    return this.steps.map((st) => st.latency.encoded());
  }

  /** Transport errors so far, by kind. */
  errorsByKind(): ErrorCounts {
    const out = zeroErrors();
    for (const st of this.steps) for (const k of ERROR_KINDS) out[k] += st.errors[k];
    return out;
  }

  /** Milliseconds since start for an event timestamp. */
  sinceStart(nowMs: number): number {
    return Math.round((nowMs - this.startMs) * 1000) / 1000;
  }

  /** A second's encoded histogram, with any late latencies added. */
  private secondHdr(b: SecondBucket): string {
    if (b === this.current && b.late === null) return this.secondLatency.encoded();
    const h = b === this.current ? this.secondLatency.toHistogram() : b.hdr === '' ? createLatencyHistogram() : mergeEncoded([b.hdr]);
    for (const us of b.late ?? []) h.recordValue(us);
    return h.totalCount === 0 ? '' : encodeHistogram(h);
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
      backends: Object.fromEntries(this.backendNames.map((n, i) => [n, this.backendCounts[i]!])),
      timeline: this.timeline.map((b) => ({
        requests: b.requests,
        failed: b.failed,
        errors: b.errors,
        losses: b.losses,
        logins: b.logins,
        loginFailures: b.loginFailures,
        flowRequests: b.flowRequests,
        flowRequestsKept: b.flowRequestsKept,
        regenerations: b.regenerations,
        dropped: b.dropped,
        activeVus: b.activeVus,
        hdr: this.secondHdr(b),
        backends: b.backends === null ? {} : Object.fromEntries(b.backends.flatMap((n, i) => (n > 0 ? [[this.backendNames[i]!, n]] : []))),
      })),
      lastError: this.lastError,
      regenerations: this.regenerations,
      users: structuredClone(this.users),
      hops: Object.fromEntries(this.hops),
      lossesByBackend: Object.fromEntries(this.lossesByBackend),
      lossesBySinceLogin: Object.fromEntries(this.lossesBySinceLogin),
      stickiness: { ...this.stickiness },
      backendSource: this.backendSource,
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
  const timeline: TimelineSecond[] = [];
  for (const p of parts) {
    p.timeline.forEach((b, i) => {
      const t = (timeline[i] ??= emptySecond());
      t.requests += b.requests;
      t.failed += b.failed;
      t.errors += b.errors;
      t.losses += b.losses;
      t.logins += b.logins;
      t.loginFailures += b.loginFailures;
      t.flowRequests += b.flowRequests;
      t.flowRequestsKept += b.flowRequestsKept;
      t.regenerations += b.regenerations;
      t.dropped += b.dropped;
      t.activeVus += b.activeVus;
      t.hdr = t.hdr === '' ? b.hdr : b.hdr === '' ? t.hdr : encodeHistogram(mergeEncoded([t.hdr, b.hdr]));
      addCounts(t.backends, b.backends);
    });
  }
  for (let i = 0; i < timeline.length; i++) timeline[i] ??= emptySecond();
  const users: UsersFigures = { total: 0, loggedIn: 0, affected: 0, maxLosses: 0, lossesPerUser: {}, byLoginBackend: {} };
  const stickiness = { requests: 0, sameBackend: 0, vus: 0, fullySticky: 0, minShare: null as number | null };
  const hops: Record<string, number> = {};
  const lossesByBackend: Record<string, number> = {};
  const lossesBySinceLogin: Record<string, number> = {};
  for (const p of parts) {
    users.total += p.users.total;
    users.loggedIn += p.users.loggedIn;
    users.affected += p.users.affected;
    users.maxLosses = Math.max(users.maxLosses, p.users.maxLosses);
    addCounts(users.lossesPerUser, p.users.lossesPerUser);
    for (const [b, v] of Object.entries(p.users.byLoginBackend)) {
      const t = (users.byLoginBackend[b] ??= { users: 0, affected: 0 });
      t.users += v.users;
      t.affected += v.affected;
    }
    stickiness.requests += p.stickiness.requests;
    stickiness.sameBackend += p.stickiness.sameBackend;
    stickiness.vus += p.stickiness.vus;
    stickiness.fullySticky += p.stickiness.fullySticky;
    const m = p.stickiness.minShare;
    if (m !== null && (stickiness.minShare === null || m < stickiness.minShare)) stickiness.minShare = m;
    addCounts(hops, p.hops);
    addCounts(lossesByBackend, p.lossesByBackend);
    addCounts(lossesBySinceLogin, p.lossesBySinceLogin);
  }
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
    regenerations: sum((p) => p.regenerations),
    users,
    hops,
    lossesByBackend,
    lossesBySinceLogin,
    stickiness,
    backendSource: parts.map((p) => p.backendSource).find((x) => x !== null) ?? null,
  };
}
