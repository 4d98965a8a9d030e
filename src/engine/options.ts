/**
 * The options of a run (what `run()` takes), checked against the scenario and filled with defaults. Every
 * problem is reported at once, named by its flag, like the scenario loader does for a file.
 */
import { availableParallelism } from 'node:os';
import { ConfigError, type ConfigIssue } from '../common/errors.js';
import { unknownSteps, type Threshold } from '../metrics/thresholds.js';
import type { RunResult } from '../result/schema.js';
import type { EventSpec, Scenario, Stage } from '../scenario/types.js';
import { httpUrlProblem } from '../scenario/values.js';
import type { ConnectionMode, HttpClientChoice } from './http/transport.js';
import { connectionLimitProblem, maxConnections } from './limits.js';

export interface RunOptions {
  /** Base URL; overrides the scenario's target. */
  target?: string | undefined;
  /** Virtual users (closed model); with `rate`, the VUs allocated up front. Default: the scenario's, else 10. */
  concurrency?: number | undefined;
  /** Total requests (login requests and followed redirects included); null = no limit. */
  requests?: number | null | undefined;
  /** Run length in ms; null = until the request budget is spent. */
  durationMs?: number | null | undefined;
  rampUpMs?: number | undefined;
  thinkMs?: number | undefined;
  timeoutMs?: number | undefined;
  connections?: ConnectionMode | undefined;
  /** `undici`: an escape hatch that sends every request through undici instead of the built-in client. */
  httpClient?: HttpClientChoice | undefined;
  insecure?: boolean | undefined;
  /** Open model: flow iterations started per second, whatever the responses. */
  rate?: number | null | undefined;
  /** Open model: VUs that may exist at once (default: enough to absorb a stall of a few seconds at the peak rate). */
  maxVus?: number | null | undefined;
  /** Load shape (replaces the scenario's): ramp to each target in turn; VUs, or iterations/s with `rate`. */
  stages?: readonly Stage[] | undefined;
  /** Commands run at a moment of the run (added to the scenario's). */
  events?: readonly EventSpec[] | undefined;
  /**
   * This generator's share of a sharded test (`--shard i/N`, 0-based i): its VU numbers (and so its users)
   * come after those of shards 0..i-1, so that N generators behave like one run of N times the VUs.
   */
  shard?: { index: number; count: number } | undefined;
  /** Local addresses to spread the VUs' connections over (VU n uses address (n-1) mod count). */
  sourceAddresses?: readonly string[] | undefined;
  /** Resume TLS sessions on reconnects (default true). */
  tlsResumption?: boolean | undefined;
  /** Worker threads sharing the VUs (default 1; 'auto' = cores - 1). */
  workers?: number | 'auto' | undefined;
  label?: string | undefined;
  /** Pass/fail criteria added to the scenario's own. */
  thresholds?: readonly Threshold[] | undefined;
  /** Facts about the system under test, copied into the result (e.g. replicas). */
  meta?: Record<string, string | number | boolean> | undefined;
}

export const DEFAULT_CONCURRENCY = 10;
export const DEFAULT_DURATION_MS = 10_000;
/**
 * The open model's default VU pool holds this many seconds of the peak rate: a server that stalls for a
 * few seconds keeps that many iterations in flight, and they should be measured (as slow), not dropped.
 */
export const OPEN_MODEL_STALL_SECONDS = 5;
export const DEFAULT_TIMEOUT_MS = 10_000;

/** Normalised options: what a run (or one worker's share of it) does. */
export type NormalisedOptions = RunResult['options'] & { target: string; insecure: boolean; events: readonly EventSpec[]; shard: { index: number; count: number } | null };

/** Validates options against the scenario and fills in defaults. Throws ConfigError (exit 2) listing every problem. */
export function normaliseOptions(scenario: Scenario, o: RunOptions): NormalisedOptions {
  const issues: ConfigIssue[] = [];
  const problem = (path: string, message: string): void => void issues.push({ path, message });
  const target = o.target ?? scenario.target;
  if (!target) problem('--target', 'no target: give a URL (--target URL) or set target: in the scenario');
  else {
    const bad = httpUrlProblem(target);
    if (bad !== null) problem('--target', bad);
  }
  const load = scenario.load;
  const stages = o.stages ?? load.stages;
  const rate = o.rate ?? load.rate ?? null;
  if (rate !== null && !(rate > 0 && Number.isFinite(rate))) problem('--rate', `expected a number > 0, got ${rate}`);
  for (const st of stages) {
    if (!(st.target >= 0 && Number.isFinite(st.target)) || (rate === null && !Number.isInteger(st.target))) {
      problem('--stage', `a target is ${rate === null ? 'a whole number of VUs' : 'a rate'} >= 0, got ${st.target}`);
    }
  }
  const peakStage = stages.reduce((m, st) => Math.max(m, st.target), 0);
  if (stages.length > 0 && rate === null && peakStage < 1) problem('--stage', 'every stage targets 0 VUs: nothing would run');
  if (stages.length > 0 && o.durationMs != null) problem('--duration', "stages set the run's length (the sum of their durations): give one or the other");
  if (stages.length > 0 && o.rampUpMs != null && o.rampUpMs > 0) problem('--ramp-up', 'stages shape the ramp-up themselves: give one or the other');
  if (stages.length > 0 && rate === null && o.concurrency !== undefined) problem('--concurrency', "with stages, the VU counts are the stages' targets (they start from 0)");
  // Closed model with stages: as many VUs as the highest stage.
  const concurrency = stages.length > 0 && rate === null ? peakStage : (o.concurrency ?? load.concurrency ?? DEFAULT_CONCURRENCY);
  if (!Number.isInteger(concurrency) || concurrency < 1) problem('--concurrency', `expected a whole number >= 1, got ${concurrency}`);
  const requests = o.requests ?? null;
  if (requests !== null && (!Number.isInteger(requests) || requests < 1)) problem('--requests', `expected a whole number >= 1, got ${requests}`);
  const peakRate = rate === null ? null : Math.max(rate, peakStage);
  const givenMaxVus = o.maxVus ?? load.maxVus;
  // The default pool is created lazily (a VU exists once an iteration needs it), so it costs nothing
  // until the server stalls; it is capped by what this machine's limits allow.
  const maxVus =
    peakRate === null ? null : Math.max(givenMaxVus ?? Math.min(Math.ceil(peakRate * OPEN_MODEL_STALL_SECONDS), maxConnections() ?? Number.POSITIVE_INFINITY), concurrency);
  const workers = o.workers === 'auto' ? Math.max(1, availableParallelism() - 1) : (o.workers ?? 1);
  if (!Number.isInteger(workers) || workers < 1) problem('--workers', `expected a whole number >= 1 or auto, got ${o.workers}`);
  // Every VU holds a connection (per-vu and new modes; the shared pool is bounded by the same number).
  const connections = maxVus ?? concurrency;
  const sourceAddresses = [...(o.sourceAddresses ?? [])];
  const tooMany = Number.isInteger(connections) && connections >= 1 ? connectionLimitProblem(connections, Math.max(1, sourceAddresses.length)) : null;
  if (tooMany !== null) problem(maxVus === null ? '--concurrency' : '--max-vus', tooMany);
  const durationMs = stages.length > 0 ? stages.reduce((a, st) => a + st.durationMs, 0) : (o.durationMs ?? load.durationMs ?? (requests === null ? DEFAULT_DURATION_MS : null));
  if (stages.length > 0 && durationMs === 0) problem('--stage', 'the stages last 0s in all');
  const events = [...load.events, ...(o.events ?? [])].sort((a, b) => a.atMs - b.atMs);
  const shard = o.shard ?? null;
  if (shard !== null && !(Number.isInteger(shard.count) && shard.count >= 1 && Number.isInteger(shard.index) && shard.index >= 0 && shard.index < shard.count)) {
    problem('--shard', `expected I/N with 0 <= I < N (such as 0/3, 1/3, 2/3), got ${shard.index}/${shard.count}`);
  }
  for (const e of events) {
    if (durationMs !== null && e.atMs >= durationMs) {
      problem('--at', `${e.atMs / 1000}s="${e.command}" is not within the run (it lasts ${durationMs / 1000}s)`);
    }
  }
  const steps = [...scenario.login, ...scenario.flow].map((s) => s.name);
  for (const expression of unknownSteps([...scenario.thresholds, ...(o.thresholds ?? [])], steps)) {
    problem('--threshold', `"${expression}" names a step the scenario does not have (steps: ${steps.map((n) => `"${n}"`).join(', ')})`);
  }
  if (scenario.login.length > 0 && scenario.users.length === 0) {
    problem('users', 'the scenario logs in but has no users; add users: to it or pass --user NAME:PASSWORD or --users FILE');
  }
  if (issues.length > 0) throw new ConfigError('run options', issues);
  return {
    target: target!,
    insecure: o.insecure ?? false,
    events,
    shard,
    concurrency,
    requests,
    durationMs,
    rampUpMs: o.rampUpMs ?? load.rampUpMs ?? 0,
    thinkMs: o.thinkMs ?? scenario.thinkMs ?? 0,
    timeoutMs: o.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    connections: o.connections ?? 'per-vu',
    httpClient: o.httpClient ?? 'builtin',
    rate,
    maxVus,
    // More workers than VUs would leave some idle.
    workers: Math.min(workers, maxVus ?? concurrency),
    users: scenario.users.length,
    stages: stages.map((st) => ({ durationMs: st.durationMs, target: st.target })),
    sourceAddresses,
    tlsResumption: o.tlsResumption ?? true,
  };
}
