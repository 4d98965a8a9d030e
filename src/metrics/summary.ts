/**
 * Builds a RunResult (the persisted, reporter-facing form) from a MetricsSnapshot. Latency figures come
 * from the merged HDR histograms; retention ratios from exact counts.
 */
import { ERROR_KINDS, SCHEMA_VERSION } from '../result/constants.js';
import type { ErrorCounts, RunResult } from '../result/schema.js';
import { VERSION } from '../common/version.js';
import { decodeHistogram, mergeEncoded, percentileMs, summarize } from './histogram.js';
import type { MetricsSnapshot } from './collector.js';

export interface ResultInfo {
  label: string;
  target: string;
  scenario: string;
  startedAt: string;
  durationMs: number;
  interrupted: boolean;
  stopReason: string | null;
  unusable: string | null;
  options: RunResult['options'];
  meta: Record<string, string | number | boolean>;
  /** Whether the scenario logs in (session figures are meaningful). */
  tracked: boolean;
}

export function toRunResult(s: MetricsSnapshot, info: ResultInfo): RunResult {
  const byStatus: Record<string, number> = {};
  const errors = Object.fromEntries(ERROR_KINDS.map((k) => [k, 0])) as ErrorCounts;
  let total = 0;
  let failed = 0;
  let non2xx = 0;
  for (const st of s.steps) {
    total += st.requests;
    failed += st.failed;
    for (const [code, n] of Object.entries(st.byStatus)) {
      byStatus[code] = (byStatus[code] ?? 0) + n;
      if (Number(code) < 200 || Number(code) >= 300) non2xx += n;
    }
    for (const k of ERROR_KINDS) errors[k] += st.errors[k];
  }
  const seconds = info.durationMs / 1000;
  const { options } = info;
  return {
    schemaVersion: SCHEMA_VERSION,
    tool: { name: 'session-bench', version: VERSION },
    label: info.label,
    target: info.target,
    scenario: info.scenario,
    startedAt: info.startedAt,
    durationMs: Math.round(info.durationMs * 1000) / 1000,
    interrupted: info.interrupted,
    stopReason: info.stopReason,
    unusable: info.unusable,
    options: {
      concurrency: options.concurrency,
      requests: options.requests,
      durationMs: options.durationMs,
      rampUpMs: options.rampUpMs,
      thinkMs: options.thinkMs,
      timeoutMs: options.timeoutMs,
      connections: options.connections,
      httpClient: options.httpClient,
      rate: options.rate,
      maxVus: options.maxVus,
      workers: options.workers,
      users: options.users,
      stages: options.stages,
      sourceAddresses: options.sourceAddresses,
      tlsResumption: options.tlsResumption,
    },
    meta: info.meta,
    requests: { total, ok: total - failed, failed, non2xx, byStatus, errors, retries: s.retries, aborted: s.aborted },
    bytes: { received: s.bytesReceived },
    throughput: {
      rps: seconds > 0 ? round2(total / seconds) : 0,
      bytesPerSec: seconds > 0 ? round2(s.bytesReceived / seconds) : 0,
    },
    latency: summarize(mergeEncoded(s.steps.map((st) => st.hdr))),
    session: {
      tracked: info.tracked,
      retention: info.tracked ? ratio(s.flowRequestsKept, s.flowRequests) : null,
      flowRetention: info.tracked ? ratio(s.flowIterationsKept, s.flowIterations) : null,
      flowRequests: s.flowRequests,
      flowRequestsKept: s.flowRequestsKept,
      flowIterations: s.flowIterations,
      flowIterationsKept: s.flowIterationsKept,
      logins: s.logins,
      loginFailures: s.loginFailures,
      loginFailureReasons: s.loginFailureReasons,
      stillLoggedIn: s.stillLoggedIn,
      losses: s.losses,
      lossEvents: s.lossEvents,
      lossEventsDropped: s.lossEventsDropped,
      silentRegenerations: s.regenerations,
      users: s.users,
      attribution: {
        // Only when some answer named its backend.
        backendSource: Object.keys(s.backends).length > 0 ? s.backendSource : null,
        hops: hopList(s.hops),
        lossesByBackend: s.lossesByBackend,
        lossesByRequestsSinceLogin: s.lossesBySinceLogin,
        stickiness:
          s.stickiness.vus === 0
            ? null
            : { ...s.stickiness, share: ratio(s.stickiness.sameBackend, s.stickiness.requests) },
      },
    },
    droppedIterations: s.droppedIterations,
    backends: s.backends,
    steps: s.steps.map((st) => ({
      name: st.name,
      phase: st.phase,
      method: st.method,
      requests: st.requests,
      ok: st.requests - st.failed,
      failed: st.failed,
      losses: st.losses,
      byStatus: st.byStatus,
      errors: st.errors,
      latency: summarize(decodeHistogram(st.hdr)),
    })),
    timeline: s.timeline.map((b, second) => {
      const h = b.hdr === '' ? null : decodeHistogram(b.hdr);
      return {
        second,
        requests: b.requests,
        failed: b.failed,
        losses: b.losses,
        errors: b.errors,
        logins: b.logins,
        loginFailures: b.loginFailures,
        flowRequests: b.flowRequests,
        flowRequestsKept: b.flowRequestsKept,
        regenerations: b.regenerations,
        droppedIterations: b.dropped,
        activeVus: b.activeVus,
        p50: h === null ? null : percentileMs(h, 50),
        p99: h === null ? null : percentileMs(h, 99),
        hdr: b.hdr,
        backends: b.backends,
      };
    }),
    events: [],
    eventsDropped: 0,
    shard: null,
  };
}

/** Hops sorted by losses, most first. */
function hopList(hops: Record<string, number>): RunResult['session']['attribution']['hops'] {
  return Object.entries(hops)
    .map(([key, losses]) => {
      const [login, lost] = key.split('\n') as [string, string];
      return { login: login === '' ? null : login, lost: lost === '' ? null : lost, losses };
    })
    .sort((a, b) => b.losses - a.losses || String(a.login).localeCompare(String(b.login)) || String(a.lost).localeCompare(String(b.lost)));
}

const round2 = (x: number): number => Math.round(x * 100) / 100;

/** A retention figure from counts; null when nothing was measured. */
export function ratio(kept: number, total: number): number | null {
  return total === 0 ? null : kept / total;
}
