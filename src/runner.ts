/**
 * run(scenario, options) -> RunResult. Owns concurrency, ramp-up, the request budget (-n), the duration,
 * interruption and the "target unusable" verdict. VUs report into one Collector; the result is built from
 * its snapshot. Nothing here formats output: progress goes to the `onProgress` callback as numbers.
 */
import { ExitCode, TargetError, UsageError } from './errors.js';
import { createSharedAgent, Transport, type ConnectionMode, type TransportOptions } from './http.js';
import { Collector, type MetricsSnapshot } from './metrics/collector.js';
import { toRunResult } from './metrics/summary.js';
import type { ProgressSnapshot, RunResult } from './result.js';
import type { Scenario } from './scenario.js';
import { loginPathsFor, ratio, type TargetBase } from './session.js';
import { resolveStepUrl, VirtualUser, type ResolvedUrl, type RunControl, type VuShared } from './vu.js';
import type { ExchangeRequest } from './http.js';

export interface RunOptions {
  /** Base URL; overrides the scenario's target. */
  target?: string | undefined;
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
  label?: string | undefined;
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

/** Parses the target into origin and base path. Throws UsageError for a bad URL. */
export function targetBase(target: string): TargetBase {
  let u: URL;
  try {
    u = new URL(target);
  } catch {
    throw new UsageError(`--target: expected an http:// or https:// URL, got "${target}"`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    throw new UsageError(`--target: expected an http:// or https:// URL, got "${target}"`);
  }
  return { origin: u.origin, basePath: u.pathname.replace(/\/+$/, '') };
}

/** Normalised options, as recorded in the result. */
export function normaliseOptions(scenario: Scenario, o: RunOptions): RunResult['options'] & { target: string } {
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
  const durationMs = o.durationMs ?? (requests === null ? DEFAULT_DURATION_MS : null);
  if (scenario.login.length > 0 && scenario.users.length === 0) {
    throw new UsageError('users: the scenario logs in but has no users; add users: to it or pass --user NAME:PASSWORD or --users FILE');
  }
  return {
    target,
    concurrency: o.concurrency,
    requests,
    durationMs,
    rampUpMs: o.rampUpMs ?? 0,
    thinkMs: o.thinkMs ?? scenario.thinkMs ?? 0,
    timeoutMs: o.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    connections: o.connections ?? 'per-vu',
    rate: null,
    maxVus: null,
    workers: 1,
    users: scenario.users.length,
  };
}

/** The budget and stop switch shared by all VUs. */
class Control implements RunControl {
  stopped = false;
  private remaining: number;
  private readonly ac = new AbortController();
  readonly signal = this.ac.signal;
  constructor(requests: number | null) {
    this.remaining = requests ?? Number.POSITIVE_INFINITY;
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
    this.ac.abort();
  }
}

/**
 * Why the target cannot be load-tested, judged from what was measured, or null. Requests: with no
 * response at all after a fair number of tries; logins: none succeeded.
 */
export function unusableReason(c: Pick<MetricsSnapshot, 'logins' | 'loginFailures' | 'lastLoginFailure' | 'lastError'> & { requests: number; responses: number }, minTries: number): string | null {
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

/** Runs a scenario and returns its result (partial when interrupted; see `stopReason`). */
export async function run(scenario: Scenario, options: RunOptions, hooks: RunHooks = {}): Promise<RunResult> {
  const opts = normaliseOptions(scenario, options);
  const base = targetBase(opts.target);
  const startedAt = new Date();
  const startMs = performance.now();
  const steps = [...scenario.login, ...scenario.flow];
  const collector = new Collector(steps.map((s) => ({ name: s.name, phase: s.phase, method: s.method })), startMs);
  const control = new Control(opts.requests);
  const shared = prepareShared(scenario, base, collector, control, opts);
  const transportOptions: TransportOptions = { mode: opts.connections, timeoutMs: opts.timeoutMs, insecure: options.insecure ?? false, concurrency: opts.concurrency };
  const agent = createSharedAgent(transportOptions);

  let interrupted = false;
  let stopReason: string | null = null;
  let unusable: string | null = null;
  const minTries = Math.max(10, opts.concurrency);
  const vus: VirtualUser[] = [];
  const transports: Transport[] = [];
  const timers: NodeJS.Timeout[] = [];

  const checkUnusable = (): void => {
    if (unusable !== null) return;
    unusable = unusableReason({ ...collector, requests: collector.requests, responses: collector.responses }, minTries);
    if (unusable !== null) {
      stopReason = `target unusable: ${unusable}`;
      control.stop();
    }
  };

  const onAbort = (): void => {
    interrupted = true;
    stopReason ??= 'interrupted';
    control.stop();
    for (const vu of vus) vu.abort();
  };
  if (hooks.signal?.aborted) onAbort();
  hooks.signal?.addEventListener('abort', onAbort, { once: true });

  // Progress and the unusable check on a timer, off the request path.
  let lastProgressRequests = 0;
  let lastProgressMs = startMs;
  const tick = (): void => {
    checkUnusable();
    if (!hooks.onProgress) return;
    const now = performance.now();
    const dt = (now - lastProgressMs) / 1000;
    hooks.onProgress({
      elapsedMs: now - startMs,
      totalMs: opts.durationMs,
      requests: collector.requests,
      totalRequests: opts.requests,
      rps: dt > 0 ? (collector.requests - lastProgressRequests) / dt : 0,
      p99Ms: collector.p99Ms(),
      retention: scenario.login.length > 0 ? ratio(collector.flowRequestsKept, collector.flowRequests) : null,
      losses: collector.losses,
      failed: collector.failed,
      errors: collector.errors,
    });
    lastProgressRequests = collector.requests;
    lastProgressMs = now;
  };
  const progressTimer = setInterval(tick, hooks.progressIntervalMs ?? 1000);
  progressTimer.unref();

  if (opts.durationMs !== null) {
    const t = setTimeout(() => {
      stopReason ??= null;
      control.stop();
    }, opts.durationMs);
    timers.push(t);
  }

  const running: Promise<void>[] = [];
  for (let i = 0; i < opts.concurrency; i++) {
    const transport = new Transport(transportOptions, agent);
    transports.push(transport);
    const vu = new VirtualUser(i + 1, scenario.users.length > 0 ? scenario.users[i % scenario.users.length] : undefined, shared, transport);
    vus.push(vu);
    const delay = opts.concurrency > 1 ? (opts.rampUpMs * i) / opts.concurrency : 0;
    if (delay <= 0) running.push(vu.run());
    else {
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
  }

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
  const endMs = performance.now();

  clearInterval(progressTimer);
  for (const t of timers) clearTimeout(t);
  hooks.signal?.removeEventListener('abort', onAbort);
  checkUnusable();
  await Promise.all(transports.map((t) => t.close(true)));
  await agent?.destroy().catch(() => undefined);

  if (unusable === null && collector.requests > 0 && collector.responses === 0) {
    unusable = unusableReason({ ...collector, requests: collector.requests, responses: 0 }, 1);
  }
  if (unusable === null && scenario.login.length > 0 && collector.logins === 0 && collector.loginFailures > 0) {
    unusable = unusableReason({ ...collector, requests: collector.requests, responses: collector.responses }, 1);
  }
  if (unusable !== null) stopReason = `target unusable: ${unusable}`;

  return toRunResult(collector.snapshot(), {
    label: options.label ?? '',
    target: opts.target,
    scenario: scenario.name,
    startedAt: startedAt.toISOString(),
    durationMs: endMs - startMs,
    interrupted,
    stopReason,
    unusable,
    options: { ...opts, target: undefined } as unknown as RunResult['options'],
    meta: options.meta ?? {},
    tracked: scenario.login.length > 0,
  });
}

/** The TargetError for a result judged unusable, or null. */
export function targetErrorOf(result: RunResult): TargetError | null {
  if (!result.unusable) return null;
  return new TargetError(
    `the target is unusable: ${result.unusable}`,
    'check that the app is up at the target URL, the login path and the credentials',
  );
}

export { ExitCode };
