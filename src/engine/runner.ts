/**
 * run(scenario, options) -> RunResult: the engine's entry point. Normalises the options, runs the slices
 * (on this thread, or on worker threads with --workers), aggregates live progress across threads, merges
 * their exact figures and assembles the result. Nothing here formats output: progress goes to the
 * `onProgress` callback as numbers.
 */
import { mergeSnapshots } from '../metrics/collector.js';
import { mergeEncoded, percentileMs } from '../metrics/histogram.js';
import { ratio, toRunResult } from '../metrics/summary.js';
import { brokenAbortThreshold, evaluateThresholds } from '../metrics/thresholds.js';
import { eventWindows } from '../metrics/windows.js';
import { EventRunner, type EventNotice, type EventRecord } from './events.js';
import type { ProgressSnapshot, RunResult } from '../result/schema.js';
import type { Scenario } from '../scenario/types.js';
import { liveFigures, runLocal, type LiveFigures, type LocalRunOutcome } from './local-run.js';
import { normaliseOptions, type RunOptions } from './options.js';
import { redactDeep, secretsOf, redactResult } from './secrets.js';
import { sliceRun } from './slices.js';
import { unusableReason, type UsabilityCounts } from './usability.js';
import { runInWorkers } from './workers.js';

export interface RunHooks {
  /** Aborting stops the run; the partial result is returned with `interrupted: true`. */
  signal?: AbortSignal | undefined;
  /** An event command started or ended (for progress output). */
  onEvent?: ((notice: EventNotice) => void) | undefined;
  onProgress?: ((p: ProgressSnapshot) => void) | undefined;
  progressIntervalMs?: number | undefined;
  /** Every thread's live figures (with per-step histograms and errors by kind), for a live exporter. */
  onLive?: ((live: readonly LiveFigures[]) => void) | undefined;
}

/** Runs a scenario and returns its result (partial when interrupted; see `stopReason` and `unusable`). */
export async function run(scenario: Scenario, options: RunOptions, hooks: RunHooks = {}): Promise<RunResult> {
  const opts = normaliseOptions(scenario, options);
  const secrets = secretsOf(scenario, opts.target);
  const startedAt = new Date();
  const startEpochMs = startedAt.getTime();
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const tracked = scenario.login.length > 0;

  const thresholds = [...scenario.thresholds, ...(options.thresholds ?? [])];
  const abortable = thresholds.filter((t) => t.abortOnFail);
  // Stopping early (not an interrupt): an event that was to stop the run failed, or an abortOnFail
  // threshold can no longer pass. The first reason is kept.
  const stop = new AbortController();
  let earlyStopReason: string | null = null;
  const stopFor = (reason: string): void => {
    earlyStopReason ??= reason;
    stop.abort();
  };

  let lastRequests = 0;
  let lastMs = t0;
  const progress = (live: readonly LiveFigures[]): void => {
    hooks.onLive?.(live);
    const sum = (f: (l: LiveFigures) => number): number => live.reduce((a, l) => a + f(l), 0);
    if (abortable.length > 0 && !stop.signal.aborted) {
      const broken = brokenAbortThreshold(
        {
          failed: sum((l) => l.failed),
          errors: sum((l) => l.errors),
          losses: sum((l) => l.losses),
          usersAffected: sum((l) => l.usersAffected),
          regenerations: sum((l) => l.regenerations),
          loginFailures: sum((l) => l.loginFailures),
          droppedIterations: sum((l) => l.droppedIterations),
        },
        abortable,
      );
      if (broken !== null) stopFor(`threshold ${broken.expression} can no longer pass (abortOnFail)`);
    }
    if (!hooks.onProgress) return;
    const now = performance.now();
    const requests = sum((l) => l.requests);
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
      usersAffected: sum((l) => l.usersAffected),
      failed: sum((l) => l.failed),
      errors: sum((l) => l.errors),
      activeVus: sum((l) => l.activeVus),
      droppedIterations: sum((l) => l.droppedIterations),
    });
    lastRequests = requests;
    lastMs = now;
  };

  const events = new EventRunner(opts.events, {
    // Live notices carry the command and its output: the run's secrets are replaced there too.
    onNotice: hooks.onEvent ? (n) => hooks.onEvent!({ ...n, record: redactDeep({ ...n.record }, secrets) }) : undefined,
    onStopRequest: stopFor,
    env: { SESSION_BENCH_TARGET: opts.target },
  });
  events.start(t0);

  // An abortOnFail threshold is checked on the live counts four times a second.
  const intervalMs = abortable.length > 0 ? Math.min(hooks.progressIntervalMs ?? 1000, 250) : hooks.progressIntervalMs;
  const slices = sliceRun(opts, startEpochMs);
  let outcomes: LocalRunOutcome[];
  let eventRecords: EventRecord[] = [];
  try {
    if (slices.length === 1) {
      outcomes = [
        await runLocal(scenario, opts, slices[0]!, {
          signal: hooks.signal,
          stopSignal: stop.signal,
          intervalMs,
          onTick: hooks.onProgress || hooks.onLive || abortable.length > 0 ? (c) => progress([liveFigures(c, hooks.onLive !== undefined)]) : undefined,
        }),
      ];
    } else {
      outcomes = await runInWorkers(scenario, opts, slices, { signal: hooks.signal, stopSignal: stop.signal, intervalMs: intervalMs ?? 1000, liveSteps: hooks.onLive !== undefined, onLive: progress });
    }
  } finally {
    // Never leave a command running behind the tool (also when the run failed).
    eventRecords = await events.finish();
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
  const stopReason = unusable !== null ? `target unusable: ${unusable}` : interrupted ? 'interrupted' : earlyStopReason;

  const { target, insecure: _insecure, events: _events, shard, ...recorded } = opts;
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
  result.shard = shard;
  result.events = eventRecords.map((e, i) => ({ ...e, windows: eventWindows(result.timeline, eventRecords, i) }));
  const cpu = process.cpuUsage(cpu0);
  result.generator = { maxRssMb: Math.round(process.resourceUsage().maxRSS / 102.4) / 10, cpuMs: Math.round((cpu.user + cpu.system) / 1000) };
  if (thresholds.length > 0) result.thresholds = evaluateThresholds(result, thresholds);
  return redactResult(result, secrets);
}

/** True when a threshold was given and at least one failed (exit code 1). */
export function thresholdsFailed(result: RunResult): boolean {
  return (result.thresholds ?? []).some((t) => !t.ok);
}

/** True when an event that was to stop the run on failure failed (exit code 1). */
export function stoppingEventFailed(result: RunResult): boolean {
  return result.events.some((e) => e.status === 'failed' && e.stopOnFailure);
}
