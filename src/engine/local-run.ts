/**
 * One thread's share of a run, start to end: its VUs, its executor, its Collector, the duration timer,
 * the grace period for requests in flight at the stop, and the early "target unusable" verdict. The main
 * thread runs it directly (one slice) or each worker thread runs one (workers.ts).
 */
import { Collector } from '../metrics/collector.js';
import type { MetricsSnapshot } from '../metrics/collector.js';
import type { ErrorCounts } from '../result/schema.js';
import type { Scenario } from '../scenario/types.js';
import { Control } from './control.js';
import { runStagedClosedModel, startClosedModel } from './executors/closed.js';
import type { ExecutorContext } from './executors/executor.js';
import { runOpenModel } from './executors/open.js';
import { createSharedAgent, Transport, type TransportOptions } from './http/transport.js';
import type { NormalisedOptions } from './options.js';
import type { RunSlice } from './slices.js';
import { targetBase } from './url.js';
import { unusableReason, type UsabilityCounts } from './usability.js';
import { VirtualUser } from './vu.js';
import { prepareShared } from './vu-shared.js';

/** Live figures a thread reports about once a second. */
export interface LiveFigures extends UsabilityCounts {
  failed: number;
  errors: number;
  losses: number;
  flowRequests: number;
  flowRequestsKept: number;
  activeVus: number;
  droppedIterations: number;
  usersAffected: number;
  regenerations: number;
  /** Live exporters only (see `withSteps`): transport errors by kind, and each step's encoded histogram. */
  errorsByKind?: ErrorCounts | undefined;
  stepHdrs?: string[] | undefined;
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

/** Live figures of a thread, for progress and the unusable check across threads. */
export function liveFigures(c: Collector, withSteps = false): LiveFigures {
  return {
    ...(withSteps ? { errorsByKind: c.errorsByKind(), stepHdrs: c.encodedSteps() } : {}),
    ...usabilityCounts(c),
    failed: c.failed,
    errors: c.errors,
    losses: c.losses,
    flowRequests: c.flowRequests,
    flowRequestsKept: c.flowRequestsKept,
    activeVus: c.activeVus,
    droppedIterations: c.droppedIterations,
    usersAffected: c.usersAffected,
    regenerations: c.regenerations,
    hdr: c.encodedOverall(),
  };
}

function usabilityCounts(c: Collector): UsabilityCounts {
  return {
    requests: c.requests,
    responses: c.responses,
    logins: c.logins,
    loginFailures: c.loginFailures,
    lastLoginFailure: c.lastLoginFailure,
    lastError: c.lastError,
  };
}

/** Runs one thread's share of a run to the end and returns its exact figures. */
export async function runLocal(scenario: Scenario, opts: NormalisedOptions, slice: RunSlice, hooks: LocalRunHooks = {}): Promise<LocalRunOutcome> {
  const base = targetBase(opts.target);
  // Align this thread's clock with the run's start (worker threads have their own performance origin).
  const startMs = performance.now() - (Date.now() - slice.startEpochMs);
  const steps = [...scenario.login, ...scenario.flow];
  const collector = new Collector(steps.map((s) => ({ name: s.name, phase: s.phase, method: s.method })), startMs);
  if (scenario.session.servedByHeader !== null) collector.noteBackendSource({ kind: 'header', name: scenario.session.servedByHeader });
  const control = new Control(slice.requests);
  const shared = prepareShared(scenario, base, collector, control, opts);
  const transportOptions: TransportOptions = { mode: opts.connections, client: opts.httpClient, timeoutMs: opts.timeoutMs, insecure: opts.insecure, concurrency: slice.maxVus ?? slice.concurrency, tlsResumption: opts.tlsResumption };
  // One set of options (and one shared pool) per source address; VU n uses address (n-1) mod count.
  const addresses = opts.sourceAddresses;
  const perAddress: TransportOptions[] = addresses.length === 0 ? [transportOptions] : addresses.map((a) => ({ ...transportOptions, localAddress: a }));
  const agents = perAddress.map((o) => createSharedAgent(o));

  let interrupted = false;
  let unusable: string | null = null;
  const minTries = Math.max(10, slice.concurrency);
  const vus: VirtualUser[] = [];
  const transports: Transport[] = [];
  const timers: NodeJS.Timeout[] = [];
  const newVu = (): VirtualUser => {
    const id = slice.vuIdOffset + vus.length + 1;
    const k = (id - 1) % perAddress.length;
    const transport = new Transport(perAddress[k]!, agents[k]!);
    transports.push(transport);
    const vu = new VirtualUser(id, scenario.users.length > 0 ? scenario.users[(id - 1) % scenario.users.length] : undefined, shared, transport);
    vus.push(vu);
    return vu;
  };

  const checkUnusable = (): void => {
    if (unusable !== null) return;
    unusable = unusableReason(usabilityCounts(collector), minTries);
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
    collector.touch(performance.now());
    checkUnusable();
    hooks.onTick?.(collector);
  }, hooks.intervalMs ?? 1000);
  tickTimer.unref();

  if (opts.durationMs !== null) {
    const remaining = opts.durationMs - (Date.now() - slice.startEpochMs);
    timers.push(setTimeout(() => control.stop(), Math.max(0, remaining)));
  }

  const ctx: ExecutorContext = { control, newVu, collector, timers };
  const running: Promise<unknown>[] =
    slice.rate !== null
      ? [runOpenModel({ rate: slice.rate, stages: opts.stages, share: 1 / slice.threads, concurrency: slice.concurrency, maxVus: slice.maxVus ?? slice.concurrency, startMs }, ctx)]
      : opts.stages.length > 0
        ? [runStagedClosedModel({ stages: opts.stages, startMs, thread: slice.thread, threads: slice.threads }, ctx)]
        : startClosedModel({ concurrency: slice.concurrency, rampUpMs: opts.rampUpMs }, ctx);

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
  collector.touch(performance.now());
  for (const vu of vus) collector.recordUser(vu.figures());
  await Promise.all(transports.map((t) => t.close(true)));
  await Promise.all(agents.map((a) => a?.destroy().catch(() => undefined)));
  hooks.onTick?.(collector);
  return { snapshot: collector.snapshot(), counts: usabilityCounts(collector), interrupted, unusable };
}
