/**
 * The plain-language conclusions that `demo` and `matrix` print under their closing table, drawn only from
 * the measured numbers, and the printing of that closing summary.
 */
import { comparedRunName, formatComparison, type ComparedRun, type ComparisonColumn } from '../reporters/compare.js';
import { abFigures, formatCount, formatMs, formatRatioPct } from '../reporters/format.js';
import { shouldUseColor } from '../reporters/style.js';
import type { RunResult } from '../result/schema.js';
import type { Io } from './io.js';

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
    const users = ss.users.total > 0 ? `: ${formatCount(ss.users.affected)} of ${formatCount(ss.users.total)} users were logged out` : '';
    return `${name}: lost ${sessions(ss.losses)}${users}; retention ${retention}${withRestart}${crossReplica(r)}${failed}.`;
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
 * `; 480 of 500 losses were answered by another replica than the one that served the login`, from the
 * hop matrix (exact counts) when both backends are known: the measured sign of per-replica sessions.
 */
function crossReplica(r: RunResult): string {
  const known = r.session.attribution.hops.filter((h) => h.login !== null && h.lost !== null);
  const total = known.reduce((a, h) => a + h.losses, 0);
  if (total === 0) return '';
  const moved = known.filter((h) => h.login !== h.lost).reduce((a, h) => a + h.losses, 0);
  return `; ${formatCount(moved)} of ${formatCount(total)} losses were answered by another replica than the one that served the login`;
}

/**
 * Prints the closing comparison of `demo` and `matrix` on stdout: the table, then the plain-language
 * conclusions drawn from the numbers.
 */
export function printComparisonSummary(
  io: Io,
  runs: readonly ComparedRun[],
  opts: { columns?: readonly ComparisonColumn[]; legend?: readonly string[] } = {},
): void {
  if (runs.length === 0) return;
  io.stdout.write(`\n${formatComparison(runs, { format: 'table', color: shouldUseColor(io.stdout, io.env), columns: opts.columns })}`);
  for (const l of opts.legend ?? []) io.stdout.write(`${l}\n`);
  io.stdout.write(`\nWhat the numbers say:\n${formatConclusion(runs).map((l) => `  ${l}\n`).join('')}`);
}
