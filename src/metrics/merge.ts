/**
 * Merging whole results (several processes or machines: `session-bench merge`, shards of a Kubernetes
 * Job) through the same code path as worker threads: each result is turned back into the exact,
 * mergeable MetricsSnapshot it was made from (counts, encoded histograms per step and per second),
 * the snapshots are merged by {@link mergeSnapshots}, and one result is made again. Percentiles come
 * from added histograms and retention from summed counts, never from averaging. Timelines are aligned
 * on wall-clock seconds: a result that started later is shifted by the whole seconds between starts.
 */
import type { RunEvent, RunResult } from '../result/schema.js';
import { emptySecond, mergeSnapshots, type MetricsSnapshot } from './collector.js';
import { toRunResult } from './summary.js';
import { eventWindows } from './windows.js';

/** Events kept in a merged result; the rest are counted in `eventsDropped`. */
export const MAX_MERGED_EVENTS = 100;

/** The snapshot a result was made from, its times shifted by `shiftMs` (and its timeline by whole seconds). */
export function snapshotOfResult(r: RunResult, shiftMs: number): MetricsSnapshot {
  const shiftSeconds = Math.round(shiftMs / 1000);
  const timeline = [
    ...Array.from({ length: shiftSeconds }, () => emptySecond()),
    ...r.timeline.map((b) => ({
      requests: b.requests,
      failed: b.failed,
      errors: b.errors,
      losses: b.losses,
      logins: b.logins,
      loginFailures: b.loginFailures,
      flowRequests: b.flowRequests,
      flowRequestsKept: b.flowRequestsKept,
      regenerations: b.regenerations,
      dropped: b.droppedIterations,
      activeVus: b.activeVus,
      hdr: b.hdr,
      backends: { ...b.backends },
    })),
  ];
  const a = r.session.attribution;
  const ss = r.session;
  return {
    steps: r.steps.map((st) => ({ name: st.name, phase: st.phase, method: st.method, requests: st.requests, failed: st.failed, losses: st.losses, byStatus: { ...st.byStatus }, errors: { ...st.errors }, hdr: st.latency.hdr })),
    bytesReceived: r.bytes.received,
    logins: ss.logins,
    loginFailures: ss.loginFailures,
    lastLoginFailure: Object.keys(ss.loginFailureReasons)[0] ?? null,
    loginFailureReasons: { ...ss.loginFailureReasons },
    losses: ss.losses,
    flowRequests: ss.flowRequests,
    flowRequestsKept: ss.flowRequestsKept,
    flowIterations: ss.flowIterations,
    flowIterationsKept: ss.flowIterationsKept,
    droppedIterations: r.droppedIterations,
    retries: r.requests.retries,
    aborted: r.requests.aborted,
    stillLoggedIn: ss.stillLoggedIn,
    lossEvents: ss.lossEvents.map((e) => ({ ...e, atMs: Math.round((e.atMs + shiftMs) * 1000) / 1000 })),
    lossEventsDropped: ss.lossEventsDropped,
    backends: { ...r.backends },
    timeline,
    lastError: null,
    regenerations: ss.silentRegenerations,
    users: structuredClone(ss.users),
    hops: Object.fromEntries(a.hops.map((h) => [`${h.login ?? ''}\n${h.lost ?? ''}`, h.losses])),
    lossesByBackend: { ...a.lossesByBackend },
    lossesBySinceLogin: { ...a.lossesByRequestsSinceLogin },
    stickiness:
      a.stickiness === null
        ? { requests: 0, sameBackend: 0, vus: 0, fullySticky: 0, minShare: null }
        : { requests: a.stickiness.requests, sameBackend: a.stickiness.sameBackend, vus: a.stickiness.vus, fullySticky: a.stickiness.fullySticky, minShare: a.stickiness.minShare },
    backendSource: a.backendSource,
  };
}

/**
 * Why these results cannot be merged, or null: `scenario` (another scenario's name: --force may merge it
 * anyway) or `steps` (other steps: never, the steps are merged by position).
 */
export function mergeProblem(results: readonly { file: string; result: RunResult }[]): { kind: 'scenario' | 'steps'; message: string } | null {
  const [first, ...rest] = results;
  if (first === undefined) return null;
  const steps = (r: RunResult): string => r.steps.map((s) => `${s.phase} ${s.name}`).join('|');
  for (const o of rest) {
    if (steps(o.result) !== steps(first.result)) return { kind: 'steps', message: `${o.file} has other steps than ${first.file}: ${o.result.steps.map((s) => s.name).join(', ')}` };
  }
  for (const o of rest) {
    if (o.result.scenario !== first.result.scenario) return { kind: 'scenario', message: `${o.file} is a result of the scenario "${o.result.scenario}", not of "${first.result.scenario}" (${first.file})` };
  }
  return null;
}

export interface MergeOptions {
  label?: string | undefined;
}

/** One result from several (the same scenario's steps, in the same order: see mergeProblem). */
export function mergeResults(results: readonly RunResult[], opts: MergeOptions = {}): RunResult {
  const starts = results.map((r) => Date.parse(r.startedAt));
  const start = Math.min(...starts);
  const end = Math.max(...results.map((r, i) => starts[i]! + r.durationMs));
  const snapshot = mergeSnapshots(results.map((r, i) => snapshotOfResult(r, starts[i]! - start)));
  const first = results[0]!;
  const sum = (f: (r: RunResult) => number): number => results.reduce((a, r) => a + f(r), 0);
  const sumOrNull = (f: (r: RunResult) => number | null): number | null => (results.some((r) => f(r) === null) ? null : sum((r) => f(r)!));
  const merged = toRunResult(snapshot, {
    label: opts.label ?? [...new Set(results.map((r) => r.label).filter((l) => l !== ''))].join(' + '),
    target: first.target,
    scenario: first.scenario,
    startedAt: new Date(start).toISOString(),
    durationMs: end - start,
    interrupted: results.some((r) => r.interrupted),
    stopReason: results.map((r) => r.stopReason).find((x) => x !== null) ?? null,
    unusable: results.map((r) => r.unusable ?? null).find((x) => x !== null) ?? null,
    options: {
      ...first.options,
      concurrency: sum((r) => r.options.concurrency),
      requests: sumOrNull((r) => r.options.requests),
      rate: sumOrNull((r) => r.options.rate),
      maxVus: sumOrNull((r) => r.options.maxVus),
      workers: sum((r) => r.options.workers),
      users: sum((r) => r.options.users),
    },
    meta: { ...first.meta, mergedResults: results.length },
    tracked: results.some((r) => r.session.tracked),
  });
  // Events of every shard, on the merged clock, then their windows on the merged timeline.
  const all: Omit<RunEvent, 'windows'>[] = results
    .flatMap((r, i) => r.events.map((e) => ({ ...e, startedMs: shift(e.startedMs, starts[i]! - start), endedMs: shift(e.endedMs, starts[i]! - start), atMs: e.atMs + (starts[i]! - start) })))
    .sort((a, b) => a.atMs - b.atMs);
  const kept = all.slice(0, MAX_MERGED_EVENTS);
  merged.events = kept.map((e, i) => ({ ...e, windows: eventWindows(merged.timeline, kept, i) }));
  merged.generator = results.every((r) => r.generator !== undefined)
    ? { maxRssMb: Math.round(sum((r) => r.generator!.maxRssMb) * 10) / 10, cpuMs: sum((r) => r.generator!.cpuMs) }
    : undefined;
  if (merged.generator === undefined) delete merged.generator;
  merged.eventsDropped = all.length - kept.length + sum((r) => r.eventsDropped);
  return merged;
}

const shift = (ms: number | null, by: number): number | null => (ms === null ? null : Math.round((ms + by) * 1000) / 1000);
