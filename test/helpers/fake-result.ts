/**
 * Hand-built RunResult fixtures for reporter tests. Latency summaries come from real histograms so the
 * printed percentiles are the ones the runner would produce; every fixture is validated by the schema.
 */
import { createLatencyHistogram, summarize } from '../../src/metrics/histogram.js';
import {
  RunResultSchema,
  type ErrorCounts,
  type LatencySummary,
  type LossEvent,
  type RunResult,
  type StepResult,
} from '../../src/result/schema.js';

/** A latency summary of exactly these values (milliseconds, recorded as integer microseconds). */
export function latencyOf(valuesMs: readonly number[]): LatencySummary {
  const h = createLatencyHistogram();
  for (const ms of valuesMs) h.recordValue(Math.round(ms * 1000));
  return summarize(h);
}

export function noErrors(over: Partial<ErrorCounts> = {}): ErrorCounts {
  return { refused: 0, reset: 0, timeout: 0, tls: 0, dns: 0, invalid: 0, local: 0, other: 0, ...over };
}

export function step(over: Partial<StepResult> & Pick<StepResult, 'name'>): StepResult {
  return {
    phase: 'flow',
    method: 'GET',
    requests: 0,
    ok: 0,
    failed: 0,
    losses: 0,
    byStatus: {},
    errors: noErrors(),
    latency: latencyOf([]),
    ...over,
  };
}

export function lossEvent(over: Partial<LossEvent> = {}): LossEvent {
  return {
    atMs: 1234,
    vu: 3,
    step: 'owners',
    url: 'http://127.0.0.1:8080/owners',
    status: 302,
    reason: 'redirect-to-login',
    backend: 'replica-2',
    loginBackend: 'replica-1',
    ...over,
  };
}

/** Overrides; the nested objects are merged one level deep. */
export type FakeOverrides = Partial<Omit<RunResult, 'session' | 'requests' | 'options'>> & {
  session?: Partial<RunResult['session']>;
  requests?: Partial<RunResult['requests']>;
  options?: Partial<RunResult['options']>;
};

/** A valid RunResult: 1000 requests in 3.012 s at concurrency 10, sessions tracked and all kept. */
export function fakeResult(over: FakeOverrides = {}): RunResult {
  const { session, requests, options, ...rest } = over;
  const result = {
    schemaVersion: 1,
    tool: { name: 'session-bench', version: '0.1.0' },
    label: '',
    target: 'http://127.0.0.1:8080',
    scenario: 'lab login then browse',
    startedAt: '2024-01-01T00:00:00.000Z',
    durationMs: 3012,
    interrupted: false,
    stopReason: null,
    options: {
      concurrency: 10,
      requests: 1000,
      durationMs: null,
      rampUpMs: 0,
      thinkMs: 0,
      timeoutMs: 10_000,
      connections: 'per-vu',
      httpClient: 'builtin',
      rate: null,
      maxVus: null,
      workers: 1,
      users: 0,
      ...options,
    },
    meta: {},
    requests: {
      total: 1000,
      ok: 1000,
      failed: 0,
      non2xx: 0,
      byStatus: { '200': 1000 },
      errors: noErrors(),
      retries: 0,
      aborted: 0,
      ...requests,
    },
    bytes: { received: 123456 },
    throughput: { rps: 1000 / 3.012, bytesPerSec: 123456 / 3.012 },
    latency: latencyOf([1, 2, 3]),
    session: {
      tracked: true,
      retention: 1,
      flowRetention: 1,
      flowRequests: 900,
      flowRequestsKept: 900,
      flowIterations: 100,
      flowIterationsKept: 100,
      logins: 100,
      loginFailures: 0,
      loginFailureReasons: {},
      stillLoggedIn: 0,
      losses: 0,
      lossEvents: [],
      lossEventsDropped: 0,
      ...session,
    },
    droppedIterations: 0,
    backends: {},
    steps: [],
    timeline: [],
    ...rest,
  };
  return RunResultSchema.parse(result);
}
