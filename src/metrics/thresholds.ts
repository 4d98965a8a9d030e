/**
 * Pass/fail criteria for CI gates: `p99<200ms`, `retention>=99%`, `failed<1%`, `losses==0`, `rps>=500`,
 * per step (`p99{step:"GET /owners"}<300ms`) or per backend (`losses{backend:"replica-2"}==0`).
 * Parsed once (bad ones are reported as usage errors, all at once, with the valid metrics) and evaluated
 * against a RunResult. A figure that was not measured fails its threshold.
 */
import type { RunResult, StepResult } from '../result/schema.js';

type Op = '<' | '<=' | '>' | '>=' | '==' | '!=';
type Kind = 'ms' | 'ratio' | 'count' | 'rate';

/** What a threshold is about: the whole run, one step, or one backend. */
export type ThresholdScope = { kind: 'run' } | { kind: 'step'; name: string } | { kind: 'backend'; name: string };

interface MetricDef {
  kind: Kind;
  /** The measured value for the scope; null when not measured (no response, no login, unknown name). */
  run?: (r: RunResult) => number | null;
  step?: (st: StepResult, r: RunResult) => number | null;
  backend?: (r: RunResult, name: string) => number | null;
  /** `%` on a count: the share of this (the run's or step's requests, the backend's users). */
  shareOf?: { run?: (r: RunResult) => number; step?: (st: StepResult) => number; backend?: (r: RunResult, name: string) => number };
  /** A count that can only grow during a run (abortOnFail can act on it as soon as it is exceeded). */
  grows?: boolean;
}

const latencyOf = (l: RunResult['latency'], k: keyof RunResult['latency']): number | null => (l.count === 0 ? null : (l[k] as number));
const latency = (k: keyof RunResult['latency']): MetricDef => ({ kind: 'ms', run: (r) => latencyOf(r.latency, k), step: (st) => latencyOf(st.latency, k) });
const errorsOf = (e: RunResult['requests']['errors']): number => Object.values(e).reduce((a, b) => a + b, 0);
const requestsOf = {
  run: (r: RunResult) => r.requests.total,
  step: (st: StepResult) => st.requests,
};
const usersAt = (r: RunResult, b: string): RunResult['session']['users']['byLoginBackend'][string] | undefined => r.session.users.byLoginBackend[b];

const METRICS: Record<string, MetricDef> = {
  mean: latency('mean'),
  min: latency('min'),
  max: latency('max'),
  p50: latency('p50'),
  p66: latency('p66'),
  p75: latency('p75'),
  p80: latency('p80'),
  p90: latency('p90'),
  p95: latency('p95'),
  p98: latency('p98'),
  p99: latency('p99'),
  'p99.9': latency('p999'),
  p999: latency('p999'),
  rps: { kind: 'rate', run: (r) => r.throughput.rps, step: (st, r) => (r.durationMs > 0 ? st.requests / (r.durationMs / 1000) : null) },
  retention: { kind: 'ratio', run: (r) => r.session.retention },
  flow_retention: { kind: 'ratio', run: (r) => r.session.flowRetention },
  requests: { kind: 'count', run: (r) => r.requests.total, step: (st) => st.requests, backend: (r, b) => r.backends[b] ?? null },
  failed: { kind: 'count', grows: true, run: (r) => r.requests.failed, step: (st) => st.failed, shareOf: requestsOf },
  errors: { kind: 'count', grows: true, run: (r) => errorsOf(r.requests.errors), step: (st) => errorsOf(st.errors), shareOf: requestsOf },
  losses: {
    kind: 'count',
    grows: true,
    run: (r) => (r.session.tracked ? r.session.losses : null),
    step: (st, r) => (r.session.tracked ? st.losses : null),
    backend: (r, b) => (r.backends[b] === undefined ? null : (r.session.attribution.lossesByBackend[b] ?? 0)),
    shareOf: { run: (r) => r.session.flowRequests, step: (st) => st.requests },
  },
  users_affected: {
    kind: 'count',
    grows: true,
    run: (r) => (r.session.tracked && r.session.users.total > 0 ? r.session.users.affected : null),
    backend: (r, b) => usersAt(r, b)?.affected ?? null,
    shareOf: { run: (r) => r.session.users.total, backend: (r, b) => usersAt(r, b)?.users ?? 0 },
  },
  regenerations: { kind: 'count', grows: true, run: (r) => (r.session.tracked ? r.session.silentRegenerations : null) },
  login_failures: { kind: 'count', grows: true, run: (r) => (r.session.tracked ? r.session.loginFailures : null) },
  dropped_iterations: { kind: 'count', grows: true, run: (r) => (r.options.rate === null ? null : r.droppedIterations) },
};
const ALIASES: Record<string, string> = {
  flowretention: 'flow_retention',
  loginfailures: 'login_failures',
  droppediterations: 'dropped_iterations',
  usersaffected: 'users_affected',
  'p(99)': 'p99',
};

/** The metrics, for messages: `p99 (ms; per step)`. */
export function knownMetrics(): string {
  return Object.entries(METRICS)
    .filter(([name]) => name !== 'p999')
    .map(([name, d]) => `${name}${d.step || d.backend ? `{${[d.step ? 'step' : '', d.backend ? 'backend' : ''].filter(Boolean).join('|')}}` : ''}`)
    .join(', ');
}

/** A parsed threshold. */
export interface Threshold {
  readonly expression: string;
  readonly metric: string;
  readonly scope: ThresholdScope;
  readonly op: Op;
  /** In the metric's unit: ms, a 0..1 ratio, a count, or — for counts given with % — a share. */
  readonly value: number;
  /** `failed<1%`: compare the count as a share (of requests; of users for users_affected). */
  readonly asShare: boolean;
  /** Stop the run as soon as this threshold can no longer pass (a growing count over its bound). */
  readonly abortOnFail: boolean;
}

/** The outcome of one threshold. */
export interface ThresholdOutcome {
  expression: string;
  ok: boolean;
  /** Unit of `actual`: ms, a 0..1 ratio (also for `failed<1%`), a count, or per second. */
  unit: 'ms' | 'ratio' | 'count' | 'rate';
  /** Measured value in the threshold's unit; null when not measured (counted as a failure). */
  actual: number | null;
}

const EXPR = /^\s*([A-Za-z_][\w.()]*)\s*(?:\{\s*([a-z]+)\s*:\s*(?:"([^"]*)"|'([^']*)'|([^}"']*?))\s*\})?\s*(<=|>=|==|!=|<|>)\s*(\d+(?:\.\d+)?)\s*(ms|s|%)?\s*$/;

/** Parses a threshold; returns an error message instead when it is not valid. */
export function parseThreshold(text: string, abortOnFail = false): Threshold | string {
  const m = EXPR.exec(text);
  if (!m) return `expected METRIC OP VALUE such as p99<200ms, retention>=99% or p99{step:"GET /owners"}<300ms, got "${text}" (metrics: ${knownMetrics()})`;
  const raw = m[1]!.toLowerCase();
  const metric = ALIASES[raw] ?? raw;
  const def = METRICS[metric];
  if (!def) return `unknown metric "${m[1]}" in "${text}" (metrics: ${knownMetrics()})`;
  let scope: ThresholdScope = { kind: 'run' };
  if (m[2] !== undefined) {
    const name = (m[3] ?? m[4] ?? m[5] ?? '').trim();
    if (m[2] !== 'step' && m[2] !== 'backend') return `"${text}": a threshold is per step or per backend: {step:"GET /owners"} or {backend:"replica-1"}, not {${m[2]}:...}`;
    if (name === '') return `"${text}": name the ${m[2]}, e.g. {${m[2]}:"${m[2] === 'step' ? 'GET /owners' : 'replica-1'}"}`;
    if (!def[m[2] as 'step' | 'backend']) {
      const able = Object.entries(METRICS).filter(([n, d]) => d[m[2] as 'step' | 'backend'] && n !== 'p999').map(([n]) => n);
      return `"${text}": ${metric} has no per-${m[2]} figure (per ${m[2]}: ${able.join(', ')})`;
    }
    scope = { kind: m[2] as 'step' | 'backend', name };
  } else if (!def.run) return `"${text}": ${metric} needs a scope`;
  let value = Number(m[7]);
  const unit = m[8];
  let asShare = false;
  if (def.kind === 'ms') {
    if (unit === '%') return `"${text}": a latency takes ms or s, not %`;
    if (unit === 's') value *= 1000;
  } else if (def.kind === 'ratio') {
    if (unit === '%') value /= 100;
    else if (unit !== undefined) return `"${text}": ${metric} is a ratio (0.99) or a percentage (99%)`;
    if (value > 1) return `"${text}": ${metric} is at most 1 (or 100%)`;
  } else if (def.kind === 'count') {
    if (unit === '%') {
      const share = def.shareOf?.[scope.kind === 'run' ? 'run' : scope.kind];
      if (!share) return `"${text}": ${metric}${scope.kind === 'run' ? '' : ` per ${scope.kind}`} is a count, not a percentage`;
      asShare = true;
      value /= 100;
    } else if (unit !== undefined) return `"${text}": ${metric} is a count or a percentage`;
  } else if (unit !== undefined) return `"${text}": ${metric} takes a plain number`;
  const op = m[6] as Op;
  if (abortOnFail && !canAbort(def, scope, op, asShare)) {
    return `"${text}": abortOnFail needs a count of the whole run that can only grow, bounded from above (losses, failed, errors, users_affected, regenerations, login_failures, dropped_iterations with <, <= or ==): ${metric} could still pass later`;
  }
  return { expression: text.trim(), metric, scope, op, value, asShare, abortOnFail };
}

function canAbort(def: MetricDef, scope: ThresholdScope, op: Op, asShare: boolean): boolean {
  return def.grows === true && scope.kind === 'run' && !asShare && (op === '<' || op === '<=' || op === '==');
}

/** True when this threshold can be stopped on (abortOnFail without the flag's scope checks). */
export function isAbortable(t: Threshold): boolean {
  const def = METRICS[t.metric]!;
  return canAbort(def, t.scope, t.op, t.asShare);
}

const compare = (a: number, op: Op, b: number): boolean => {
  switch (op) {
    case '<':
      return a < b;
    case '<=':
      return a <= b;
    case '>':
      return a > b;
    case '>=':
      return a >= b;
    case '==':
      return a === b;
    case '!=':
      return a !== b;
  }
};

/** The measured value of a threshold's figure, in its unit; null when not measured. */
export function thresholdActual(result: RunResult, t: Threshold): number | null {
  const def = METRICS[t.metric]!;
  let actual: number | null;
  let base: number | null = null;
  if (t.scope.kind === 'run') {
    actual = def.run!(result);
    if (t.asShare) base = def.shareOf!.run!(result);
  } else if (t.scope.kind === 'step') {
    const name = t.scope.name;
    const st = result.steps.find((s) => s.name === name);
    actual = st === undefined ? null : def.step!(st, result);
    if (t.asShare) base = st === undefined ? 0 : def.shareOf!.step!(st);
  } else {
    actual = def.backend!(result, t.scope.name);
    if (t.asShare) base = def.shareOf!.backend!(result, t.scope.name);
  }
  if (actual !== null && t.asShare) actual = base === null || base === 0 ? null : actual / base;
  return actual;
}

/** Evaluates thresholds against a result. A metric that was not measured fails its threshold. */
export function evaluateThresholds(result: RunResult, thresholds: readonly Threshold[]): ThresholdOutcome[] {
  return thresholds.map((t) => {
    const actual = thresholdActual(result, t);
    const kind = METRICS[t.metric]!.kind;
    return { expression: t.expression, ok: actual !== null && compare(actual, t.op, t.value), unit: t.asShare ? 'ratio' : kind, actual };
  });
}

/** Live counts of a run, for abortOnFail. */
export interface LiveCounts {
  failed: number;
  errors: number;
  losses: number;
  usersAffected: number;
  regenerations: number;
  loginFailures: number;
  droppedIterations: number;
}

const LIVE: Partial<Record<string, keyof LiveCounts>> = {
  failed: 'failed',
  errors: 'errors',
  losses: 'losses',
  users_affected: 'usersAffected',
  regenerations: 'regenerations',
  login_failures: 'loginFailures',
  dropped_iterations: 'droppedIterations',
};

/** The first abortOnFail threshold that the live counts already break (it cannot pass any more), or null. */
export function brokenAbortThreshold(live: LiveCounts, thresholds: readonly Threshold[]): Threshold | null {
  for (const t of thresholds) {
    if (!t.abortOnFail) continue;
    const key = LIVE[t.metric];
    if (key !== undefined && !compare(live[key], t.op === '==' ? '<=' : t.op, t.value)) return t;
  }
  return null;
}

/** Step names a threshold names that the scenario does not have (checked before a run). */
export function unknownSteps(thresholds: readonly Threshold[], stepNames: readonly string[]): string[] {
  const names = new Set(stepNames);
  return thresholds.flatMap((t) => (t.scope.kind === 'step' && !names.has(t.scope.name) ? [t.expression] : []));
}
