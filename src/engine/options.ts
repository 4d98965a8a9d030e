/**
 * The options of a run (what `run()` takes), checked against the scenario and filled with defaults. Every
 * problem is reported at once, named by its flag, like the scenario loader does for a file.
 */
import { availableParallelism } from 'node:os';
import { ConfigError, type ConfigIssue } from '../common/errors.js';
import type { Threshold } from '../metrics/thresholds.js';
import type { RunResult } from '../result/schema.js';
import type { Scenario } from '../scenario/types.js';
import { httpUrlProblem } from '../scenario/values.js';
import type { ConnectionMode, HttpClientChoice } from './http/transport.js';
import { connectionLimitProblem } from './limits.js';

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
  /** `undici`: an escape hatch that sends every request through undici instead of the built-in client. */
  httpClient?: HttpClientChoice | undefined;
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

export const DEFAULT_DURATION_MS = 10_000;
export const DEFAULT_TIMEOUT_MS = 10_000;

/** Normalised options: what a run (or one worker's share of it) does. */
export type NormalisedOptions = RunResult['options'] & { target: string; insecure: boolean };

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
  if (!Number.isInteger(o.concurrency) || o.concurrency < 1) problem('--concurrency', `expected a whole number >= 1, got ${o.concurrency}`);
  const requests = o.requests ?? null;
  if (requests !== null && (!Number.isInteger(requests) || requests < 1)) problem('--requests', `expected a whole number >= 1, got ${requests}`);
  const rate = o.rate ?? null;
  if (rate !== null && !(rate > 0 && Number.isFinite(rate))) problem('--rate', `expected a number > 0, got ${rate}`);
  const maxVus = rate === null ? null : Math.max(o.maxVus ?? o.concurrency, o.concurrency);
  const workers = o.workers === 'auto' ? Math.max(1, availableParallelism() - 1) : (o.workers ?? 1);
  if (!Number.isInteger(workers) || workers < 1) problem('--workers', `expected a whole number >= 1 or auto, got ${o.workers}`);
  // Every VU holds a connection (per-vu and new modes; the shared pool is bounded by the same number).
  const connections = maxVus ?? o.concurrency;
  const tooMany = Number.isInteger(connections) && connections >= 1 ? connectionLimitProblem(connections) : null;
  if (tooMany !== null) problem(maxVus === null ? '--concurrency' : '--max-vus', tooMany);
  if (scenario.login.length > 0 && scenario.users.length === 0) {
    problem('users', 'the scenario logs in but has no users; add users: to it or pass --user NAME:PASSWORD or --users FILE');
  }
  if (issues.length > 0) throw new ConfigError('run options', issues);
  return {
    target: target!,
    insecure: o.insecure ?? false,
    concurrency: o.concurrency,
    requests,
    durationMs: o.durationMs ?? (requests === null ? DEFAULT_DURATION_MS : null),
    rampUpMs: o.rampUpMs ?? 0,
    thinkMs: o.thinkMs ?? scenario.thinkMs ?? 0,
    timeoutMs: o.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    connections: o.connections ?? 'per-vu',
    httpClient: o.httpClient ?? 'builtin',
    rate,
    maxVus,
    // More workers than VUs would leave some idle.
    workers: Math.min(workers, maxVus ?? o.concurrency),
    users: scenario.users.length,
  };
}
