/**
 * `session-bench compare a.json b.json ...` and the demo's closing table: one row per run, the first run is
 * the baseline, every other row shows its change against it. Also the plain-language conclusions the demo
 * prints, which are drawn only from the measured numbers.
 */
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import Table from 'cli-table3';
import { ConfigError, UsageError, formatPath, type ConfigIssue } from '../errors.js';
import { SCHEMA_VERSION } from '../result-constants.js';
import type { RunResult } from '../result.js';
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
  | 'flowRetention'
  | 'losses';

interface Metric {
  key: ComparedKey;
  header: string;
  /** Which direction is an improvement; decides the delta's color. */
  better: 'higher' | 'lower';
  value: (r: RunResult) => number | null;
  format: (v: number) => string;
}

const METRICS: readonly Metric[] = [
  {
    key: 'rps',
    header: 'Requests/sec',
    better: 'higher',
    value: (r) => abFigures(r).rps,
    format: (v) => v.toFixed(2),
  },
  {
    key: 'timePerRequestMs',
    header: 'Time/request (ms)',
    better: 'lower',
    value: (r) => abFigures(r).timePerRequestMs,
    format: formatMs,
  },
  { key: 'p50', header: 'p50 (ms)', better: 'lower', value: (r) => r.latency.p50, format: formatMs },
  { key: 'p95', header: 'p95 (ms)', better: 'lower', value: (r) => r.latency.p95, format: formatMs },
  { key: 'p99', header: 'p99 (ms)', better: 'lower', value: (r) => r.latency.p99, format: formatMs },
  {
    key: 'failed',
    header: 'Failed requests',
    better: 'lower',
    value: (r) => r.requests.failed,
    format: formatCount,
  },
  {
    key: 'retention',
    header: 'Session retention',
    better: 'higher',
    value: (r) => (r.session.tracked ? r.session.retention : null),
    format: (v) => formatRatioPct(v),
  },
  {
    key: 'flowRetention',
    header: 'Flow retention',
    better: 'higher',
    value: (r) => (r.session.tracked ? r.session.flowRetention : null),
    format: (v) => formatRatioPct(v),
  },
  {
    key: 'losses',
    header: 'Losses',
    better: 'lower',
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
  const text = m.format(v);
  if (baseline === null) return text;
  const b = m.value(baseline);
  if (b === null) return text;
  const pct = deltaPct(v, b);
  const label = pct === null ? `was ${m.format(b)}` : formatDelta(pct);
  const paint = v === b ? (t: string) => t : (v > b) === (m.better === 'higher') ? s.green : s.red;
  return `${text} ${paint(`(${label})`)}`;
}

/** `+89.4%`, `-47.2%`, `0.0%` (no sign when it rounds to zero). */
function formatDelta(pct: number): string {
  const rounded = Math.round(pct * 10) / 10;
  if (rounded === 0) return '0.0%';
  return `${rounded > 0 ? '+' : ''}${rounded.toFixed(1)}%`;
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
  /** Percent change against the baseline per figure; null when not computable. */
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
        METRICS.map((m) => [m.key, deltaPct(m.value(r), m.value(base))]),
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
        deltas,
      };
    }),
  };
  return `${JSON.stringify(out, null, 2)}\n`;
}

/**
 * Reads and validates a result file written by `--json`.
 *
 * @throws ConfigError naming the file (`source`) and every invalid field; an unreadable file or invalid
 *   JSON is reported with the issue path `(file)`.
 */
export async function loadResultFile(path: string): Promise<RunResult> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new ConfigError(path, [{ path: '(file)', message: `cannot read: ${errorMessage(err)}` }]);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(path, [{ path: '(file)', message: `not valid JSON: ${errorMessage(err)}` }]);
  }
  // A different schema version makes every other issue noise; say only that.
  if (typeof data === 'object' && data !== null && 'schemaVersion' in data) {
    const v = (data as { schemaVersion: unknown }).schemaVersion;
    if (v !== SCHEMA_VERSION) {
      throw new ConfigError(path, [
        {
          path: 'schemaVersion',
          message:
            `expected ${SCHEMA_VERSION}, got ${JSON.stringify(v)} ` +
            '(written by another session-bench version)',
        },
      ]);
    }
  }
  // The schema (and zod) are loaded here, not when a run's report imports this module.
  const { RunResultSchema } = await import('../result.js');
  const parsed = RunResultSchema.safeParse(data);
  if (!parsed.success) {
    const issues: ConfigIssue[] = parsed.error.issues.map((i) => ({
      path: formatPath(i.path),
      message: i.message,
    }));
    throw new ConfigError(path, issues);
  }
  return parsed.data;
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Whether a run may be described as having kept every session: tracked, nothing lost, retention exactly 1. */
export function keptEverySession(r: RunResult): boolean {
  return r.session.tracked && r.session.losses === 0 && r.session.retention === 1;
}

/** `1.9`, `1.06`, `2`: a ratio without claiming more precision than two decimals. */
function formatRatio(x: number): string {
  return String(Number(x.toFixed(2)));
}

/**
 * Plain-language conclusions for the demo, drawn only from the measured numbers: one line per run on
 * whether sessions survived, then one comparing the best-throughput run that lost no session with the
 * baseline (`runs[0]`), and one naming the fastest run when it lost sessions.
 *
 * Never says a run kept its sessions unless it lost none and its retention is exactly 1, and never claims
 * a throughput gain the numbers do not show.
 *
 * Runs with `meta.restart === true` and a numeric `meta.restartAtMs` (ms since the run started, as the demo
 * measures it): a lossy run is said to have had no loss before the restart only when every recorded loss
 * event's `atMs` is >= `restartAtMs` (and the per-second timeline agrees); otherwise the losses before it
 * are counted. A lossless run gets a line of its own with its throughput ("no session lost through a
 * replica restart"), unless it already is the best lossless run.
 */
export function formatConclusion(runs: readonly ComparedRun[]): string[] {
  const lines = runs.map(sessionVerdict);
  if (runs.length < 2) return lines;

  const base = runs[0]!;
  const baseName = comparedRunName(base);
  const baseRps = abFigures(base.result).rps;
  const rpsOf = (run: ComparedRun): number => abFigures(run.result).rps;
  const byRps = (a: ComparedRun, b: ComparedRun): ComparedRun => (rpsOf(b) > rpsOf(a) ? b : a);

  const kept = runs.slice(1).filter((run) => keptEverySession(run.result));
  let bestKept: ComparedRun | undefined;
  if (kept.length === 0) {
    lines.push(
      keptEverySession(base.result)
        ? `No run other than ${baseName} kept every session.`
        : 'No run kept every session.',
    );
  } else {
    bestKept = kept.reduce(byRps);
    const name = comparedRunName(bestKept);
    const rps = rpsOf(bestKept);
    const figures = `${rps.toFixed(2)} vs ${baseRps.toFixed(2)} req/s`;
    if (baseRps === 0) {
      lines.push(`${name}: ${rps.toFixed(2)} req/s with no session lost (${baseName} measured 0 req/s).`);
    } else {
      const ratio = rps / baseRps;
      if (ratio >= 1.05) {
        lines.push(
          `${name}: ${formatRatio(ratio)}x the throughput of ${baseName} (${figures}), with no session lost.`,
        );
      } else if (ratio > 0.95) {
        lines.push(`${name}: about the same throughput as ${baseName} (${figures}), with no session lost.`);
      } else {
        lines.push(
          `${name}: no session lost, but lower throughput than ${baseName}: ${formatRatio(ratio)}x (${figures}).`,
        );
      }
    }
  }

  // A run that kept every session through a measured restart is the answer to the story's problem; say
  // so with its throughput even when another lossless run (one without a restart) was a little faster.
  for (const run of kept) {
    if (run === bestKept || measuredRestartAtMs(run.result) === null || baseRps === 0) continue;
    const rps = rpsOf(run);
    const ratio = rps / baseRps;
    const vs =
      ratio >= 1.05 ? `at ${formatRatio(ratio)}x` : ratio > 0.95 ? 'at about' : `but at ${formatRatio(ratio)}x`;
    lines.push(
      `${comparedRunName(run)}: no session lost through a replica restart, ${vs} the throughput of ${baseName} ` +
        `(${rps.toFixed(2)} vs ${baseRps.toFixed(2)} req/s).`,
    );
  }

  // The story's trap: the fastest configuration can be the one that logs users out.
  const fastest = runs.reduce(byRps);
  if (
    fastest.result.session.tracked &&
    fastest.result.session.losses > 0 &&
    (bestKept === undefined || rpsOf(fastest) > rpsOf(bestKept))
  ) {
    lines.push(
      `The fastest run, ${comparedRunName(fastest)} (${rpsOf(fastest).toFixed(2)} req/s), ` +
        `lost ${sessions(fastest.result.session.losses)}.`,
    );
  }
  return lines;
}

function sessionVerdict(run: ComparedRun): string {
  const r = run.result;
  const ss = r.session;
  const name = comparedRunName(run);
  const restart = r.meta['restart'] === true;
  const failed = r.requests.failed > 0 ? `; ${formatCount(r.requests.failed)} failed requests` : '';

  if (!ss.tracked) return `${name}: sessions not tracked (the scenario does not log in)${failed}.`;
  const restartAtMs = measuredRestartAtMs(r);
  if (keptEverySession(r)) {
    const through = restart ? `, through the restart${restartAtMs === null ? '' : ` at ${formatSeconds(restartAtMs)}`}` : '';
    return (
      `${name}: kept every session (${formatCount(ss.flowRequestsKept)} of ${formatCount(ss.flowRequests)} ` +
      `logged-in requests)${through}${failed}.`
    );
  }
  if (ss.losses > 0) {
    const retention = ss.retention === null ? 'n/a' : formatRatioPct(ss.retention);
    const withRestart = !restart ? '' : restartAtMs === null ? '; the losses came with the restart' : lossTiming(r, restartAtMs);
    return `${name}: lost ${sessions(ss.losses)}; retention ${retention}${withRestart}${crossReplica(r)}${failed}.`;
  }
  if (ss.retention === null) {
    return `${name}: no logged-in requests were measured, so whether sessions survive is unknown${failed}.`;
  }
  // Losses 0 but retention below 1: the counters disagree; report the numbers without a verdict.
  return `${name}: no session loss recorded, but retention is ${formatRatioPct(ss.retention)}${failed}.`;
}

/** `meta.restartAtMs` when the run recorded when its restart happened (ms since the run started), else null. */
function measuredRestartAtMs(r: RunResult): number | null {
  const v = r.meta['restartAtMs'];
  return r.meta['restart'] === true && typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : null;
}

/** `4.0 s`, `0.5 s`. */
function formatSeconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

/**
 * What the loss events say about the restart at `restartAtMs`: "none before it" only when every recorded
 * loss came at or after it. The collector keeps the earliest events when it caps them, so when the kept
 * ones all come after the restart, the dropped (later) ones do too; the per-second timeline must agree.
 */
function lossTiming(r: RunResult, restartAtMs: number): string {
  const events = r.session.lossEvents;
  const at = formatSeconds(restartAtMs);
  if (events.length === 0) return `; the run had a replica restart at ${at}`;
  const before = events.filter((e) => e.atMs < restartAtMs).length;
  const restartSecond = Math.floor(restartAtMs / 1000);
  const timelineBefore = r.timeline.some((b) => b.second < restartSecond && b.losses > 0);
  if (before === 0 && !timelineBefore) {
    const first = Math.min(...events.map((e) => e.atMs));
    const all = r.session.lossEventsDropped === 0 && events.length === r.session.losses ? 'every loss' : 'the losses';
    return `; no loss before the replica restart at ${at}: ${all} came after it (the first ${formatMs(first - restartAtMs)} ms after)`;
  }
  if (before === 0) return `; the run had a replica restart at ${at}, and losses before it`;
  return `; ${formatCount(before)} of ${formatCount(events.length)} recorded losses came before the replica restart at ${at}`;
}

/** `1 session`, `1,030 sessions`. */
function sessions(n: number): string {
  return `${formatCount(n)} session${n === 1 ? '' : 's'}`;
}

/**
 * `; 480 of 500 recorded losses were answered by another replica than the one that served the login`,
 * when the loss events know both backends: the measured sign of per-replica session storage.
 */
function crossReplica(r: RunResult): string {
  const known = r.session.lossEvents.filter((e) => e.backend !== null && e.loginBackend !== null);
  if (known.length === 0) return '';
  const moved = known.filter((e) => e.backend !== e.loginBackend).length;
  return (
    `; ${moved} of ${known.length} recorded losses were answered by another replica ` +
    'than the one that served the login'
  );
}
