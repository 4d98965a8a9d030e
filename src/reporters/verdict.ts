/**
 * The verdict lines every CI report shares (terminal, Markdown, JUnit, HTML): each threshold and each
 * regression check, what was measured and why it failed, in the same words everywhere.
 */
import type { RunResult } from '../result/schema.js';
import { formatMs, formatRatioPct } from './format.js';

type ThresholdRow = NonNullable<RunResult['thresholds']>[number];
type RegressionRow = NonNullable<RunResult['regression']>['checks'][number];

/** The measured value of a threshold in its unit; `not measured` when there was none. */
export function thresholdActualText(t: ThresholdRow): string {
  if (t.actual === null) return 'not measured';
  switch (t.unit) {
    case 'ms':
      return `${formatMs(t.actual)} ms`;
    case 'ratio':
      return formatRatioPct(t.actual);
    case 'rate':
      return `${t.actual.toFixed(2)}/s`;
    case 'count':
      return String(t.actual);
  }
}

/** A regression figure's value: `12.3 ms`, `99.50%`, `1,234.56/s`. */
export function regressionValueText(c: Pick<RegressionRow, 'figure'>, v: number | null): string {
  if (v === null) return '-';
  if (c.figure === 'rps') return `${v.toFixed(2)}/s`;
  if (c.figure === 'p95' || c.figure === 'p99') return `${formatMs(v)} ms`;
  return formatRatioPct(v);
}

/** `p99`, `error rate`, `users logged out`. */
export function regressionFigureName(c: Pick<RegressionRow, 'figure'>): string {
  return { rps: 'requests/s', p95: 'p95', p99: 'p99', error_rate: 'error rate', retention: 'session retention', users_affected: 'users logged out' }[c.figure];
}

/** `limit 10%`, `limit 0.1 pp`. */
export function regressionLimitText(c: Pick<RegressionRow, 'limit' | 'unit'>): string {
  return `${c.limit}${c.unit === 'pp' ? ' pp' : '%'} worse`;
}
