/**
 * Pass/fail criteria for CI gates: `p99<200ms`, `retention>=99%`, `failed<1%`, `losses==0`, `rps>=500`.
 * Parsed once (bad ones are reported as usage errors, all at once) and evaluated against a RunResult.
 */
import type { RunResult } from '../result/schema.js';

type Op = '<' | '<=' | '>' | '>=' | '==' | '!=';
type Kind = 'ms' | 'ratio' | 'count' | 'rate';

interface MetricDef {
  kind: Kind;
  /** The measured value; null when not measured (e.g. retention without a login). */
  read: (r: RunResult) => number | null;
}

const latency = (k: keyof RunResult['latency']): MetricDef => ({ kind: 'ms', read: (r) => r.latency[k] as number });
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
  rps: { kind: 'rate', read: (r) => r.throughput.rps },
  retention: { kind: 'ratio', read: (r) => r.session.retention },
  flow_retention: { kind: 'ratio', read: (r) => r.session.flowRetention },
  failed: { kind: 'count', read: (r) => r.requests.failed },
  errors: { kind: 'count', read: (r) => Object.values(r.requests.errors).reduce((a, b) => a + b, 0) },
  losses: { kind: 'count', read: (r) => r.session.losses },
  login_failures: { kind: 'count', read: (r) => r.session.loginFailures },
  dropped_iterations: { kind: 'count', read: (r) => r.droppedIterations },
};
const ALIASES: Record<string, string> = { flowretention: 'flow_retention', loginfailures: 'login_failures', droppediterations: 'dropped_iterations' };

/** A parsed threshold. */
export interface Threshold {
  readonly expression: string;
  readonly metric: string;
  readonly op: Op;
  /** In the metric's unit: ms, a 0..1 ratio, a count, or — for counts given with % — a share of requests. */
  readonly value: number;
  /** `failed<1%`: compare the count as a share of all requests. */
  readonly asShareOfRequests: boolean;
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

const EXPR = /^\s*([A-Za-z_][\w.]*)\s*(<=|>=|==|!=|<|>)\s*(\d+(?:\.\d+)?)\s*(ms|s|%)?\s*$/;

/** Parses a threshold; returns an error message instead when it is not valid. */
export function parseThreshold(text: string): Threshold | string {
  const m = EXPR.exec(text);
  if (!m) return `expected METRIC OP VALUE such as p99<200ms or retention>=99%, got "${text}"`;
  const raw = m[1]!.toLowerCase();
  const metric = ALIASES[raw] ?? raw;
  const def = METRICS[metric];
  if (!def) return `unknown metric "${m[1]}" in "${text}" (known: ${Object.keys(METRICS).join(', ')})`;
  let value = Number(m[3]);
  const unit = m[4];
  let asShareOfRequests = false;
  if (def.kind === 'ms') {
    if (unit === '%') return `"${text}": a latency takes ms or s, not %`;
    if (unit === 's') value *= 1000;
  } else if (def.kind === 'ratio') {
    if (unit === '%') value /= 100;
    else if (unit !== undefined) return `"${text}": ${metric} is a ratio (0.99) or a percentage (99%)`;
    if (value > 1) return `"${text}": ${metric} is at most 1 (or 100%)`;
  } else if (def.kind === 'count') {
    if (unit === '%') {
      asShareOfRequests = true;
      value /= 100;
    } else if (unit !== undefined) return `"${text}": ${metric} is a count or a percentage of requests`;
  } else if (unit !== undefined) return `"${text}": ${metric} takes a plain number`;
  return { expression: text.trim(), metric, op: m[2] as Op, value, asShareOfRequests };
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

/** Evaluates thresholds against a result. A metric that was not measured fails its threshold. */
export function evaluateThresholds(result: RunResult, thresholds: readonly Threshold[]): ThresholdOutcome[] {
  return thresholds.map((t) => {
    let actual = METRICS[t.metric]!.read(result);
    if (actual !== null && t.asShareOfRequests) actual = result.requests.total === 0 ? null : actual / result.requests.total;
    const kind = METRICS[t.metric]!.kind;
    return { expression: t.expression, ok: actual !== null && compare(actual, t.op, t.value), unit: t.asShareOfRequests ? 'ratio' : kind, actual };
  });
}
