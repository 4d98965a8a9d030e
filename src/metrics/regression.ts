/**
 * The baseline regression check of a CI gate: this run against the last good one. Throughput and the
 * p95 / p99 latency are compared relatively (10% slower fails by default); error rate, retention and the
 * share of users logged out are shares, compared in percentage points. Each figure may have its own
 * limit. Pure: two results in, the checks out.
 */
import type { RunResult } from '../result/schema.js';

export const REGRESSION_FIGURES = ['rps', 'p95', 'p99', 'error_rate', 'retention', 'users_affected'] as const;
export type RegressionFigure = (typeof REGRESSION_FIGURES)[number];

interface FigureDef {
  /** How a change is measured: relative (percent of the baseline) or in percentage points. */
  unit: 'percent' | 'pp';
  better: 'higher' | 'lower';
  /** The figure; null when the run did not measure it. */
  read: (r: RunResult) => number | null;
}

const FIGURES: Record<RegressionFigure, FigureDef> = {
  rps: { unit: 'percent', better: 'higher', read: (r) => r.throughput.rps },
  p95: { unit: 'percent', better: 'lower', read: (r) => (r.latency.count === 0 ? null : r.latency.p95) },
  p99: { unit: 'percent', better: 'lower', read: (r) => (r.latency.count === 0 ? null : r.latency.p99) },
  error_rate: { unit: 'pp', better: 'lower', read: (r) => (r.requests.total === 0 ? null : r.requests.failed / r.requests.total) },
  retention: { unit: 'pp', better: 'higher', read: (r) => (r.session.tracked ? r.session.retention : null) },
  users_affected: { unit: 'pp', better: 'lower', read: (r) => (r.session.tracked && r.session.users.total > 0 ? r.session.users.affected / r.session.users.total : null) },
};

/** Default limits: how much worse each figure may get (percent, or percentage points). */
export const DEFAULT_LIMITS: Readonly<Record<RegressionFigure, number>> = Object.freeze({
  rps: 10,
  p95: 10,
  p99: 10,
  error_rate: 1,
  retention: 0.1,
  // Any more users logged out than the baseline is a regression.
  users_affected: 0,
});

export type RegressionLimits = Record<RegressionFigure, number>;

/** One figure compared with the baseline. */
export interface RegressionCheck {
  figure: RegressionFigure;
  unit: 'percent' | 'pp';
  baseline: number | null;
  actual: number | null;
  /** actual - baseline: percent of the baseline, or percentage points; null when not computable. */
  change: number | null;
  /** How much worse it may get, in `unit`. */
  limit: number;
  ok: boolean;
  /** Why it failed, or what was skipped: `not measured`, `20.0% slower, limit 10%`. */
  note: string;
}

/**
 * `10%` (every relative figure), `1pp` (every figure in points), `p99=20%`, `retention=0.5pp`: the
 * limits after applying `specs` to the defaults, or the problems found.
 */
export function parseRegressionLimits(specs: readonly string[]): { limits: RegressionLimits; problems: string[] } {
  const limits: RegressionLimits = { ...DEFAULT_LIMITS };
  const problems: string[] = [];
  for (const spec of specs) {
    const m = /^\s*(?:([a-z_0-9]+)\s*=\s*)?(\d+(?:\.\d+)?)\s*(%|pp)\s*$/i.exec(spec);
    if (!m) {
      problems.push(`expected a limit such as 10%, 1pp, p99=20% or retention=0.5pp, got "${spec}" (figures: ${REGRESSION_FIGURES.join(', ')})`);
      continue;
    }
    const unit = m[3]!.toLowerCase() === '%' ? 'percent' : 'pp';
    const value = Number(m[2]);
    if (m[1] === undefined) {
      for (const f of REGRESSION_FIGURES) if (FIGURES[f].unit === unit) limits[f] = value;
      continue;
    }
    const figure = m[1].toLowerCase() as RegressionFigure;
    const def = FIGURES[figure];
    if (def === undefined) {
      problems.push(`unknown figure "${m[1]}" in "${spec}" (figures: ${REGRESSION_FIGURES.join(', ')})`);
      continue;
    }
    if (def.unit !== unit) {
      problems.push(`"${spec}": ${figure} is compared ${def.unit === 'pp' ? 'in percentage points: write it as' : 'relatively: write it as'} ${figure}=${m[2]}${def.unit === 'pp' ? 'pp' : '%'}`);
      continue;
    }
    limits[figure] = value;
  }
  return { limits, problems };
}

const fmt = (x: number, unit: 'percent' | 'pp'): string => `${x.toFixed(1)}${unit === 'pp' ? ' pp' : '%'}`;

/** Compares `current` with `baseline`, figure by figure. */
export function checkRegression(baseline: RunResult, current: RunResult, limits: RegressionLimits = DEFAULT_LIMITS): RegressionCheck[] {
  return REGRESSION_FIGURES.map((figure) => {
    const def = FIGURES[figure];
    const b = def.read(baseline);
    const a = def.read(current);
    const limit = limits[figure];
    const base = { figure, unit: def.unit, baseline: b, actual: a, limit };
    if (b === null && a === null) return { ...base, change: null, ok: true, note: 'not measured in either run' };
    if (a === null) return { ...base, change: null, ok: false, note: 'not measured in this run' };
    if (b === null) return { ...base, change: null, ok: true, note: 'not measured in the baseline' };
    let change: number | null;
    if (def.unit === 'pp') change = (a - b) * 100;
    else change = b === 0 ? (a === 0 ? 0 : null) : ((a - b) / Math.abs(b)) * 100;
    if (change === null) return { ...base, change, ok: def.better === 'higher', note: 'the baseline was 0' };
    // How much worse, in the figure's unit (an improvement is negative).
    const worse = def.better === 'higher' ? -change : change;
    const ok = worse <= limit + 1e-9;
    const word = def.better === 'higher' ? (worse > 0 ? 'lower' : 'higher') : worse > 0 ? 'higher' : 'lower';
    const note = Math.abs(change) < 0.05 ? 'unchanged' : `${fmt(Math.abs(change), def.unit)} ${word}${ok ? '' : `, more than the limit of ${fmt(limit, def.unit)}`}`;
    return { ...base, change, ok, note };
  });
}

/** True when a check failed. */
export const regressed = (checks: readonly RegressionCheck[]): boolean => checks.some((c) => !c.ok);
