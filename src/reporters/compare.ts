/**
 * `session-bench compare a.json b.json ...` and the demo's closing table: one row per run, the first run is
 * the baseline, every other row shows its change against it. Pure: results in, text out.
 */
import { basename } from 'node:path';
import Table from 'cli-table3';
import { UsageError } from '../common/errors.js';
import type { RunResult } from '../result/schema.js';
import { abFigures, formatCount, formatMs, formatRatioPct, runName } from './format.js';
import { NO_ROW_SEPARATORS, createStyle, type Style } from './style.js';

/** A result and where it came from (the file name names the run when its label is empty). */
export interface ComparedRun {
  file: string;
  result: RunResult;
}

/** Output formats of {@link formatComparison}. */
export type ComparisonFormat = 'table' | 'markdown' | 'json';

/** Options for {@link formatComparison}. */
export interface ComparisonOptions {
  format: ComparisonFormat;
  /** Only used by `table`; markdown and json never contain ANSI codes. */
  color: boolean;
  /**
   * Columns after `Run`, in this order, for `table` and `markdown` (json always has every figure).
   * Default: all of {@link COMPARISON_COLUMNS}.
   */
  columns?: readonly ComparisonColumn[] | undefined;
}

/** A column of the comparison table besides `Run`. */
export type ComparisonColumn = 'replicas' | ComparedKey;

/** Every column, in the default order. */
export const COMPARISON_COLUMNS: readonly ComparisonColumn[] = [
  'replicas',
  'rps',
  'timePerRequestMs',
  'p50',
  'p95',
  'p99',
  'failed',
  'retention',
  'usersAffected',
  'flowRetention',
  'losses',
];

/** Keys of the compared figures, as they appear in the JSON output. */
export type ComparedKey =
  | 'rps'
  | 'timePerRequestMs'
  | 'p50'
  | 'p95'
  | 'p99'
  | 'failed'
  | 'retention'
  | 'usersAffected'
  | 'flowRetention'
  | 'losses';

interface Metric {
  key: ComparedKey;
  header: string;
  /** Which direction is an improvement; decides the delta's color. */
  better: 'higher' | 'lower';
  /**
   * How the change is shown: relative (`+12.3%`), or in percentage points for a figure that is itself a
   * share (retention 54.24% -> 99.99% is `+45.8 pp`, not "+84.3%").
   */
  delta: 'relative' | 'points';
  value: (r: RunResult) => number | null;
  format: (v: number) => string;
  /** The cell's text when it says more than the value (`10 of 20`); default `format(value)`. */
  display?: (r: RunResult) => string;
}

const METRICS: readonly Metric[] = [
  {
    key: 'rps',
    header: 'Requests/sec',
    better: 'higher',
    delta: 'relative',
    value: (r) => abFigures(r).rps,
    format: (v) => v.toFixed(2),
  },
  {
    key: 'timePerRequestMs',
    header: 'Time/request (ms)',
    better: 'lower',
    delta: 'relative',
    value: (r) => abFigures(r).timePerRequestMs,
    format: formatMs,
  },
  { key: 'p50', header: 'p50 (ms)', better: 'lower', delta: 'relative', value: (r) => r.latency.p50, format: formatMs },
  { key: 'p95', header: 'p95 (ms)', better: 'lower', delta: 'relative', value: (r) => r.latency.p95, format: formatMs },
  { key: 'p99', header: 'p99 (ms)', better: 'lower', delta: 'relative', value: (r) => r.latency.p99, format: formatMs },
  {
    key: 'failed',
    header: 'Failed requests',
    better: 'lower',
    delta: 'relative',
    value: (r) => r.requests.failed,
    format: formatCount,
  },
  {
    key: 'retention',
    header: 'Session retention',
    better: 'higher',
    delta: 'points',
    value: (r) => (r.session.tracked ? r.session.retention : null),
    format: (v) => formatRatioPct(v),
  },
  {
    // The share of users that were logged out at least once, shown as "10 of 20" (pp against the baseline).
    key: 'usersAffected',
    header: 'Users logged out',
    better: 'lower',
    delta: 'points',
    value: (r) => (r.session.tracked && r.session.users.total > 0 ? r.session.users.affected / r.session.users.total : null),
    format: (v) => formatRatioPct(v, 1),
    display: (r) => `${formatCount(r.session.users.affected)} of ${formatCount(r.session.users.total)}`,
  },
  {
    key: 'flowRetention',
    header: 'Flow retention',
    better: 'higher',
    delta: 'points',
    value: (r) => (r.session.tracked ? r.session.flowRetention : null),
    format: (v) => formatRatioPct(v),
  },
  {
    key: 'losses',
    header: 'Losses',
    better: 'lower',
    delta: 'relative',
    value: (r) => (r.session.tracked ? r.session.losses : null),
    format: formatCount,
  },
];

/**
 * Relative change against the baseline, in percent. Null when either value is missing, or when the
 * baseline is 0 and the value is not (no finite percentage exists).
 */
export function deltaPct(value: number | null, baseline: number | null): number | null {
  if (value === null || baseline === null) return null;
  if (baseline === 0) return value === 0 ? 0 : null;
  return ((value - baseline) / Math.abs(baseline)) * 100;
}

/** The run's name in reports: its label, else the file's base name. */
export function comparedRunName(run: ComparedRun): string {
  return runName(run.result, basename(run.file));
}

function replicasOf(r: RunResult): string {
  const v = r.meta['replicas'];
  return v === undefined ? '-' : String(v);
}

/**
 * Formats runs side by side; `runs[0]` is the baseline.
 *
 * - `table`: cli-table3, deltas colored green (better) / red (worse) when `color`.
 * - `markdown`: a GitHub table, never colored.
 * - `json`: `{ schemaVersion: 1, baseline, runs: [{ label, file, replicas, rps, ..., deltas }] }`.
 *
 * @throws UsageError when `runs` is empty.
 */
export function formatComparison(runs: readonly ComparedRun[], opts: ComparisonOptions): string {
  if (runs.length === 0) throw new UsageError('nothing to compare: give at least one result file');
  if (opts.format === 'json') return formatComparisonJson(runs);

  const s = createStyle(opts.format === 'table' && opts.color);
  const baseline = runs[0]!.result;
  const columns = opts.columns ?? COMPARISON_COLUMNS;
  const metricOf = (c: ComparedKey): Metric => METRICS.find((m) => m.key === c)!;
  const headers = ['Run', ...columns.map((c) => (c === 'replicas' ? 'Replicas' : metricOf(c).header))];
  const rows = runs.map((run, i) => [
    comparedRunName(run),
    ...columns.map((c) => (c === 'replicas' ? replicasOf(run.result) : formatCell(metricOf(c), run.result, i === 0 ? null : baseline, s))),
  ]);

  if (opts.format === 'markdown') {
    const esc = (c: string): string => c.replace(/\|/g, '\\|');
    const line = (cells: readonly string[]): string => `| ${cells.map(esc).join(' | ')} |`;
    const align = headers.map((_, i) => (i === 0 ? '---' : '---:'));
    return `${[line(headers), `|${align.join('|')}|`, ...rows.map(line)].join('\n')}\n`;
  }

  const table = new Table({
    head: headers.map((h) => s.bold(h)),
    // Colors come from our Style only, so `color: false` output has no ANSI codes.
    style: { head: [], border: [] },
    chars: NO_ROW_SEPARATORS,
    colAligns: headers.map((_, i) => (i === 0 ? 'left' : 'right')),
  });
  for (const row of rows) table.push(row);
  return `${table.toString()}\n`;
}

function formatCell(m: Metric, r: RunResult, baseline: RunResult | null, s: Style): string {
  const v = m.value(r);
  if (v === null) return 'n/a';
  const text = m.display?.(r) ?? m.format(v);
  if (baseline === null) return text;
  const b = m.value(baseline);
  if (b === null) return text;
  const change = deltaOf(m, v, b);
  const label = change === null ? `was ${m.format(b)}` : formatDelta(change, m.delta === 'points' ? ' pp' : '%');
  const paint = v === b ? (t: string) => t : (v > b) === (m.better === 'higher') ? s.green : s.red;
  return `${text} ${paint(`(${label})`)}`;
}

/** A metric's change against the baseline: percent, or percentage points for shares; null when none exists. */
function deltaOf(m: Metric, value: number | null, baseline: number | null): number | null {
  if (m.delta === 'relative') return deltaPct(value, baseline);
  return value === null || baseline === null ? null : (value - baseline) * 100;
}

/** `+89.4%`, `-47.2 pp`, `0.0%` (no sign when it rounds to zero). */
function formatDelta(change: number, unit: string): string {
  const rounded = Math.round(change * 10) / 10;
  if (rounded === 0) return `0.0${unit}`;
  return `${rounded > 0 ? '+' : ''}${rounded.toFixed(1)}${unit}`;
}

/** One run in the `json` comparison output. */
export interface ComparedRunJson {
  label: string;
  file: string;
  replicas: number | string | null;
  rps: number;
  timePerRequestMs: number;
  p50: number;
  p95: number;
  p99: number;
  failed: number;
  retention: number | null;
  flowRetention: number | null;
  losses: number | null;
  /** Users logged out at least once, of all users; null when the scenario does not log in. */
  usersAffected: { affected: number; total: number; share: number | null } | null;
  /** Change against the baseline per figure: percent, but percentage points for retention and flowRetention; null when not computable. */
  deltas: Record<ComparedKey, number | null>;
}

/** The `json` comparison document. */
export interface ComparisonJson {
  schemaVersion: 1;
  baseline: string;
  runs: ComparedRunJson[];
}

function formatComparisonJson(runs: readonly ComparedRun[]): string {
  const base = runs[0]!.result;
  const out: ComparisonJson = {
    schemaVersion: 1,
    baseline: comparedRunName(runs[0]!),
    runs: runs.map((run) => {
      const r = run.result;
      const value = (k: ComparedKey): number | null => METRICS.find((m) => m.key === k)!.value(r);
      const deltas = Object.fromEntries(
        METRICS.map((m) => [m.key, deltaOf(m, m.value(r), m.value(base))]),
      ) as Record<ComparedKey, number | null>;
      const replicas = r.meta['replicas'];
      return {
        label: comparedRunName(run),
        file: run.file,
        replicas: typeof replicas === 'number' || typeof replicas === 'string' ? replicas : null,
        rps: value('rps') ?? 0,
        timePerRequestMs: value('timePerRequestMs') ?? 0,
        p50: r.latency.p50,
        p95: r.latency.p95,
        p99: r.latency.p99,
        failed: r.requests.failed,
        retention: value('retention'),
        flowRetention: value('flowRetention'),
        losses: value('losses'),
        usersAffected: r.session.tracked ? { affected: r.session.users.affected, total: r.session.users.total, share: value('usersAffected') } : null,
        deltas,
      };
    }),
  };
  return `${JSON.stringify(out, null, 2)}\n`;
}
