/**
 * run(scenario, options) -> RunResult. Owns concurrency, ramp-up, the request budget (-n), the duration,
 * the open model (--rate), worker threads (--workers), interruption and the "target unusable" verdict.
 * VUs report into a Collector; the result is built from its snapshot (merged across workers). Nothing
 * here formats output: progress goes to the `onProgress` callback as numbers.
 */
import { setMaxListeners } from 'node:events';
import { availableParallelism } from 'node:os';
import { TargetError, UsageError } from './errors.js';
import { createSharedAgent, Transport, type ConnectionMode, type ExchangeRequest, type TransportOptions } from './http.js';
import { Collector, mergeSnapshots, type MetricsSnapshot } from './metrics/collector.js';
import { mergeEncoded, percentileMs } from './metrics/histogram.js';
import { toRunResult } from './metrics/summary.js';
import { evaluateThresholds, type Threshold } from './metrics/thresholds.js';
import type { ProgressSnapshot, RunResult } from './result.js';
import type { Scenario } from './scenario.js';
import { loginPathsFor, ratio, type TargetBase } from './session.js';
import { resolveStepUrl, VirtualUser, type ResolvedUrl, type RunControl, type VuShared } from './vu.js';
import { runInWorkers } from './workers.js';

export interface RunOptions {
  /** Base URL; overrides the scenario's target. */
  target?: string | undefined;
  /** Virtual users (closed model); with `rate`, the VUs allocated up front. */
  concurrency: number;
  /** Total requests (login requests and followed redirects included); null = no limit. */
  requests?: number | null | undefined;
  /** Run length in ms; null = until the request budget is spent. */
  durationMs?: number | null | undefined;
  rampUpMs?: number | undefined;
  thinkMs?: number | undefined;
  timeoutMs?: number | undefined;
  connections?: ConnectionMode | undefined;
  insecure?: boolean | undefined;
  /** Open model: flow iterations started per second, whatever the responses. */
  rate?: number | null | undefined;
  /** Open model: VUs that may exist at once (default: concurrency). */
  maxVus?: number | null | undefined;
  /** Worker threads sharing the VUs (default 1; 'auto' = cores - 1). */
  workers?: number | 'auto' | undefined;
  label?: string | undefined;
  /** Pass/fail criteria added to the scenario's own. */
  thresholds?: readonly Threshold[] | undefined;
  /** Facts about the system under test, copied into the result (e.g. replicas). */
  meta?: Record<string, string | number | boolean> | undefined;
}

export interface RunHooks {
  /** Aborting stops the run; the partial result is returned with `interrupted: true`. */
  signal?: AbortSignal | undefined;
  onProgress?: ((p: ProgressSnapshot) => void) | undefined;
  progressIntervalMs?: number | undefined;
}

export const DEFAULT_DURATION_MS = 10_000;
export const DEFAULT_TIMEOUT_MS = 10_000;

/** Normalised options: what a run (or one worker's share of it) does. */
export type NormalisedOptions = RunResult['options'] & { target: string; insecure: boolean };

/** Parses the target into origin and base path. Throws UsageError for a bad URL. */
export function targetBase(target: string): TargetBase {
  let u: URL | null = null;
  try {
    u = new URL(target);
  } catch {
    u = null;
  }
  if (u === null || (u.protocol !== 'http:' && u.protocol !== 'https:')) {
    throw new UsageError(`--target: expected an http:// or https:// URL, got "${target}"`);
  }
  return { origin: u.origin, basePath: u.pathname.replace(/\/+$/, '') };
}

/** Validates options against the scenario and fills in defaults. Throws UsageError (exit 2). */
export function normaliseOptions(scenario: Scenario, o: RunOptions): NormalisedOptions {
  const target = o.target ?? scenario.target;
  if (!target) throw new UsageError('no target: give a URL (--target URL) or set target: in the scenario');
  targetBase(target);
  if (!Number.isInteger(o.concurrency) || o.concurrency < 1) {
    throw new UsageError(`--concurrency: expected a whole number >= 1, got ${o.concurrency}`);
  }
  const requests = o.requests ?? null;
  if (requests !== null && (!Number.isInteger(requests) || requests < 1)) {
    throw new UsageError(`--requests: expected a whole number >= 1, got ${requests}`);
  }
  const rate = o.rate ?? null;
  if (rate !== null && !(rate > 0 && Number.isFinite(rate))) throw new UsageError(`--rate: expected a number > 0, got ${rate}`);
  const maxVus = rate === null ? null : Math.max(o.maxVus ?? o.concurrency, o.concurrency);
  const workers = o.workers === 'auto' ? Math.max(1, availableParallelism() - 1) : (o.workers ?? 1);
  if (!Number.isInteger(workers) || workers < 1) throw new UsageError(`--workers: expected a whole number >= 1 or auto, got ${o.workers}`);
  if (scenario.login.length > 0 && scenario.users.length === 0) {
    throw new UsageError('users: the scenario logs in but has no users; add users: to it or pass --user NAME:PASSWORD or --users FILE');
  }
  return {
    target,
    insecure: o.insecure ?? false,
    concurrency: o.concurrency,
    requests,
    durationMs: o.durationMs ?? (requests === null ? DEFAULT_DURATION_MS : null),
    rampUpMs: o.rampUpMs ?? 0,
    thinkMs: o.thinkMs ?? scenario.thinkMs ?? 0,
    timeoutMs: o.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    connections: o.connections ?? 'per-vu',
    rate,
    maxVus,
    // More workers than VUs would leave some idle.
    workers: Math.min(workers, maxVus ?? o.concurrency),
    users: scenario.users.length,
  };
}

/** The budget and stop switch shared by all VUs of one thread. */
class Control implements RunControl {
  stopped = false;
  /** performance.now() when the run stopped. */
  stoppedAtMs = Number.POSITIVE_INFINITY;
  private remaining: number;
  private readonly ac = new AbortController();
  readonly signal = this.ac.signal;
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

/** Figures the unusable verdict is drawn from. */
export interface UsabilityCounts {
  requests: number;
  responses: number;
  logins: number;
  loginFailures: number;
  lastLoginFailure: string | null;
  lastError: string | null;
}

/**
 * Why the target cannot be load-tested, judged from what was measured, or null: no response at all
 * after `minTries` requests, or `minTries` logins and none succeeded.
 */
export function unusableReason(c: UsabilityCounts, minTries: number): string | null {
  if (c.requests >= minTries && c.responses === 0) {
    return `nothing answered: ${c.requests} requests, no response (${c.lastError ?? 'no error recorded'})`;
  }
  if (c.loginFailures >= minTries && c.logins === 0) {
    return `every login failed: ${c.loginFailures} attempts, none succeeded (last: ${c.lastLoginFailure ?? 'unknown'})`;
  }
  return null;
}

/** Precomputes what every VU needs per step, so the request loop only reads. */
export function prepareShared(scenario: Scenario, base: TargetBase, collector: Collector, control: RunControl, o: { thinkMs: number; timeoutMs: number }): VuShared {
  const steps = [...scenario.login, ...scenario.flow];
  const constantUrls: (ResolvedUrl | null)[] = steps.map((s) => (s.url.constant !== null ? resolveStepUrl(s.url.constant, base) : null));
  const captureHidden = steps.map((s, i) => {
    const next = steps[i + 1];
    return next !== undefined && next.phase === s.phase && next.hiddenInputs;
  });
  const exchangeSpecs: ExchangeRequest[] = steps.map((s, i) => ({
    keepBody:
      captureHidden[i]! ||
      s.expect.bodyMatch !== null ||
      s.extract.some((x) => x.kind !== 'header') ||
      (scenario.session.lostBodyMatch !== null && (s.phase === 'flow' || i === scenario.login.length - 1)),
    servedByHeader: scenario.session.servedByHeader,
    captureHeaders: s.extract.flatMap((x) => (x.kind === 'header' ? [x.header] : [])),
  }));
  return {
    scenario,
    base,
    loginPaths: loginPathsFor(scenario.session, base),
    collector,
    control,
    thinkMs: o.thinkMs,
    timeoutMs: o.timeoutMs,
    constantUrls,
    exchangeSpecs,
    captureHidden,
  };
}

/** One thread's share of a run. */
export interface RunSlice {
  /** VU ids start after this (VU id n uses credential (n-1) mod users). */
  vuIdOffset: number;
  concurrency: number;
  maxVus: number | null;
  requests: number | null;
  rate: number | null;
  /** Date.now() at the run's start, so every thread's timestamps share one origin. */
  startEpochMs: number;
}

/** Live figures a thread reports about once a second. */
export interface LiveFigures extends UsabilityCounts {
  failed: number;
  errors: number;
  losses: number;
  flowRequests: number;
  flowRequestsKept: number;
  /** Encoded overall latency histogram (for an exact p99 across threads). */
  hdr: string;
}

export interface LocalRunOutcome {
  snapshot: MetricsSnapshot;
  counts: UsabilityCounts;
  interrupted: boolean;
  unusable: string | null;
}

export interface LocalRunHooks {
  /** Interrupt: stop now, abort requests in flight, mark the result interrupted. */
  signal?: AbortSignal | undefined;
  /** Stop starting requests (another thread judged the target unusable); in-flight ones finish. */
  stopSignal?: AbortSignal | undefined;
  /** Called every `intervalMs` with this thread's figures. */
  onTick?: ((live: Collector) => void) | undefined;
  intervalMs?: number | undefined;
  /** When the thread judges the target unusable (so other threads can stop). */
  onUnusable?: ((reason: string) => void) | undefined;
}

/** Runs one thread's share of a run to the end and returns its exact figures. */
export async function runLocal(scenario: Scenario, opts: NormalisedOptions, slice: RunSlice, hooks: LocalRunHooks = {}): Promise<LocalRunOutcome> {
  const base = targetBase(opts.target);
  // Align this thread's clock with the run's start (worker threads have their own performance origin).
  const startMs = performance.now() - (Date.now() - slice.startEpochMs);
  const steps = [...scenario.login, ...scenario.flow];
  const collector = new Collector(steps.map((s) => ({ name: s.name, phase: s.phase, method: s.method })), startMs);
  const control = new Control(slice.requests);
  const shared = prepareShared(scenario, base, collector, control, opts);
  const transportOptions: TransportOptions = { mode: opts.connections, timeoutMs: opts.timeoutMs, insecure: opts.insecure, concurrency: slice.maxVus ?? slice.concurrency };
  const agent = createSharedAgent(transportOptions);

  let interrupted = false;
  let unusable: string | null = null;
  const minTries = Math.max(10, slice.concurrency);
  const vus: VirtualUser[] = [];
  const transports: Transport[] = [];
  const timers: NodeJS.Timeout[] = [];
  const newVu = (): VirtualUser => {
    const transport = new Transport(transportOptions, agent);
    transports.push(transport);
    const id = slice.vuIdOffset + vus.length + 1;
    const vu = new VirtualUser(id, scenario.users.length > 0 ? scenario.users[(id - 1) % scenario.users.length] : undefined, shared, transport);
    vus.push(vu);
    return vu;
  };

  const counts = (): UsabilityCounts => ({
    requests: collector.requests,
    responses: collector.responses,
    logins: collector.logins,
    loginFailures: collector.loginFailures,
    lastLoginFailure: collector.lastLoginFailure,
    lastError: collector.lastError,
  });
  const checkUnusable = (): void => {
    if (unusable !== null) return;
    unusable = unusableReason(counts(), minTries);
    if (unusable !== null) {
      control.stop();
      hooks.onUnusable?.(unusable);
    }
  };

  const onAbort = (): void => {
    interrupted = true;
    control.stop();
    for (const vu of vus) vu.abort();
  };
  if (hooks.signal?.aborted) onAbort();
  hooks.signal?.addEventListener('abort', onAbort, { once: true });
  const onStop = (): void => control.stop();
  if (hooks.stopSignal?.aborted) onStop();
  hooks.stopSignal?.addEventListener('abort', onStop, { once: true });

  const tickTimer = setInterval(() => {
    checkUnusable();
    hooks.onTick?.(collector);
  }, hooks.intervalMs ?? 1000);
  tickTimer.unref();

  if (opts.durationMs !== null) {
    const remaining = opts.durationMs - (Date.now() - slice.startEpochMs);
    timers.push(setTimeout(() => control.stop(), Math.max(0, remaining)));
  }

  const running: Promise<unknown>[] =
    slice.rate === null ? startClosedModel(slice, opts, control, newVu, timers) : [runOpenModel(slice, startMs, control, collector, newVu)];

  // When the run stops, requests in flight get a grace period (like k6's gracefulStop) so that every
  // answer the server gave is counted; after it they are aborted.
  const grace = new Promise<void>((resolve) => {
    const arm = (): void => {
      const t = setTimeout(() => {
        for (const vu of vus) vu.abort();
        resolve();
      }, opts.timeoutMs + 1000);
      t.unref();
      timers.push(t);
    };
    if (control.stopped) arm();
    else control.signal.addEventListener('abort', arm, { once: true });
  });
  const all = Promise.all(running.map((p) => p.catch(() => undefined)));
  await Promise.race([all, grace.then(() => all)]);

  clearInterval(tickTimer);
  for (const t of timers) clearTimeout(t);
  hooks.signal?.removeEventListener('abort', onAbort);
  hooks.stopSignal?.removeEventListener('abort', onStop);
  checkUnusable();
  await Promise.all(transports.map((t) => t.close(true)));
  await agent?.destroy().catch(() => undefined);
  hooks.onTick?.(collector);
  return { snapshot: collector.snapshot(), counts: counts(), interrupted, unusable };
}

/** Closed model: `concurrency` VUs, each looping as fast as its responses allow, started over the ramp-up. */
function startClosedModel(slice: RunSlice, opts: NormalisedOptions, control: Control, newVu: () => VirtualUser, timers: NodeJS.Timeout[]): Promise<void>[] {
  const running: Promise<void>[] = [];
  const n = slice.concurrency;
  for (let i = 0; i < n; i++) {
    const vu = newVu();
    const delay = n > 1 ? (opts.rampUpMs * i) / n : 0;
    if (delay <= 0) {
      running.push(vu.run());
      continue;
    }
    running.push(
      new Promise<void>((resolve) => {
        const t = setTimeout(() => {
          if (control.stopped) resolve();
          else vu.run().then(resolve, resolve);
        }, delay);
        timers.push(t);
        control.signal.addEventListener('abort', () => {
          clearTimeout(t);
          resolve();
        }, { once: true });
      }),
    );
  }
  return running;
}

/**
 * Open model: an iteration is due every 1/rate seconds whatever the responses; it runs on an idle VU
 * (a new one while fewer than maxVus exist), its first request timed from the due time so that a
 * stalled server shows in the latency (coordinated-omission correction). No VU free: the iteration is
 * dropped and counted.
 */
async function runOpenModel(slice: RunSlice, startMs: number, control: Control, collector: Collector, newVu: () => VirtualUser): Promise<void> {
  const rate = slice.rate!;
  const maxVus = slice.maxVus ?? slice.concurrency;
  const idle: VirtualUser[] = [];
  for (let i = 0; i < slice.concurrency; i++) idle.push(newVu());
  let created = slice.concurrency;
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
        vu = newVu();
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

/** Splits `total` into `parts` whole shares that add up exactly. */
export function splitEvenly(total: number, parts: number): number[] {
  return Array.from({ length: parts }, (_, i) => Math.floor(total / parts) + (i < total % parts ? 1 : 0));
}

/** The slices of a run over `workers` threads: VUs, request budget and rate divided exactly. */
export function sliceRun(opts: NormalisedOptions, startEpochMs: number): RunSlice[] {
  const w = opts.workers;
  const vus = splitEvenly(opts.concurrency, w);
  const maxVus = opts.maxVus === null ? null : splitEvenly(opts.maxVus, w);
  const requests = opts.requests === null ? null : splitEvenly(opts.requests, w);
  let offset = 0;
  return vus.map((c, i) => {
    const s: RunSlice = {
      vuIdOffset: offset,
      concurrency: Math.max(1, c),
      maxVus: maxVus === null ? null : Math.max(1, maxVus[i]!),
      requests: requests === null ? null : requests[i]!,
      rate: opts.rate === null ? null : opts.rate / w,
      startEpochMs,
    };
    offset += maxVus === null ? c : maxVus[i]!;
    return s;
  });
}

/** Live figures of a thread, for progress and the unusable check across threads. */
export function liveFigures(c: Collector): LiveFigures {
  return {
    requests: c.requests,
    responses: c.responses,
    logins: c.logins,
    loginFailures: c.loginFailures,
    lastLoginFailure: c.lastLoginFailure,
    lastError: c.lastError,
    failed: c.failed,
    errors: c.errors,
    losses: c.losses,
    flowRequests: c.flowRequests,
    flowRequestsKept: c.flowRequestsKept,
    hdr: c.encodedOverall(),
  };
}

/** Runs a scenario and returns its result (partial when interrupted; see `stopReason` and `unusable`). */
export async function run(scenario: Scenario, options: RunOptions, hooks: RunHooks = {}): Promise<RunResult> {
  const opts = normaliseOptions(scenario, options);
  const startedAt = new Date();
  const startEpochMs = startedAt.getTime();
  const t0 = performance.now();
  const tracked = scenario.login.length > 0;

  let lastRequests = 0;
  let lastMs = t0;
  const progress = (live: readonly LiveFigures[]): void => {
    if (!hooks.onProgress) return;
    const now = performance.now();
    const requests = live.reduce((a, l) => a + l.requests, 0);
    const sum = (f: (l: LiveFigures) => number): number => live.reduce((a, l) => a + f(l), 0);
    const dt = (now - lastMs) / 1000;
    hooks.onProgress({
      elapsedMs: now - t0,
      totalMs: opts.durationMs,
      requests,
      totalRequests: opts.requests,
      rps: dt > 0 ? (requests - lastRequests) / dt : 0,
      p99Ms: percentileMs(mergeEncoded(live.map((l) => l.hdr)), 99),
      retention: tracked ? ratio(sum((l) => l.flowRequestsKept), sum((l) => l.flowRequests)) : null,
      losses: sum((l) => l.losses),
      failed: sum((l) => l.failed),
      errors: sum((l) => l.errors),
    });
    lastRequests = requests;
    lastMs = now;
  };

  const slices = sliceRun(opts, startEpochMs);
  let outcomes: LocalRunOutcome[];
  if (slices.length === 1) {
    outcomes = [
      await runLocal(scenario, opts, slices[0]!, {
        signal: hooks.signal,
        intervalMs: hooks.progressIntervalMs,
        onTick: hooks.onProgress ? (c) => progress([liveFigures(c)]) : undefined,
      }),
    ];
  } else {
    outcomes = await runInWorkers(scenario, opts, slices, { signal: hooks.signal, intervalMs: hooks.progressIntervalMs ?? 1000, onLive: progress });
  }
  const durationMs = performance.now() - t0;

  const snapshot = mergeSnapshots(outcomes.map((o) => o.snapshot));
  const counts: UsabilityCounts = {
    requests: outcomes.reduce((a, o) => a + o.counts.requests, 0),
    responses: outcomes.reduce((a, o) => a + o.counts.responses, 0),
    logins: snapshot.logins,
    loginFailures: snapshot.loginFailures,
    lastLoginFailure: snapshot.lastLoginFailure,
    lastError: snapshot.lastError,
  };
  // Judged on the whole run: any thread's early verdict, or the totals at the end.
  const unusable = outcomes.find((o) => o.unusable !== null)?.unusable ?? unusableReason(counts, 1);
  const interrupted = outcomes.some((o) => o.interrupted) || (hooks.signal?.aborted ?? false);
  const stopReason = unusable !== null ? `target unusable: ${unusable}` : interrupted ? 'interrupted' : null;

  const { target, insecure: _insecure, ...recorded } = opts;
  const result = toRunResult(snapshot, {
    label: options.label ?? '',
    target,
    scenario: scenario.name,
    startedAt: startedAt.toISOString(),
    durationMs,
    interrupted,
    stopReason,
    unusable,
    options: recorded,
    meta: options.meta ?? {},
    tracked,
  });
  const thresholds = [...scenario.thresholds, ...(options.thresholds ?? [])];
  if (thresholds.length > 0) result.thresholds = evaluateThresholds(result, thresholds);
  return result;
}

/** True when a threshold was given and at least one failed (exit code 1). */
export function thresholdsFailed(result: RunResult): boolean {
  return (result.thresholds ?? []).some((t) => !t.ok);
}

/** The TargetError for a result judged unusable, or null. */
export function targetErrorOf(result: RunResult): TargetError | null {
  if (!result.unusable) return null;
  return new TargetError(
    `the target is unusable: ${result.unusable}`,
    'check that the app is up at the target URL, the login path and the credentials',
  );
}
