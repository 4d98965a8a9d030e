/**
 * `session-bench compare a.json b.json ...`: reads result files (each validated against the RunResult
 * schema) and prints them side by side, the first file as the baseline.
 */
import { Option, type Command } from 'commander';
import { ExitCode, SessionBenchError } from '../common/errors.js';
import { comparedRunName, formatComparison, type ComparedRun, type ComparisonFormat } from '../reporters/compare.js';
import { formatRegressionChecks } from '../reporters/terminal.js';
import { regressed } from '../metrics/regression.js';
import { collectRepeated, FlagIssues } from './flags.js';
import { checkReportPaths, loadResultAsGiven, regressionLimits, withRegression, writeComparisonHtml } from './reports.js';
import { shouldUseColor } from '../reporters/style.js';
import type { RunResult } from '../result/schema.js';
import type { Io } from './io.js';

/** Output formats of `compare --format`. */
export const COMPARISON_FORMATS: readonly ComparisonFormat[] = ['table', 'markdown', 'json'];

/** Raw options of `compare`. */
export interface CompareFlags {
  format?: ComparisonFormat;
  failOnRegression?: boolean;
  maxRegression?: string[];
  force?: boolean;
  html?: string;
}

/** Registers `compare` on the program. */
export function registerCompareCommand(program: Command, io: Io, setExit: (code: number) => void): void {
  program
    .command('compare')
    .description('compare result files side by side (the first is the baseline): throughput, latency, failures, session retention')
    .argument('<files...>', 'result files written by run --json, demo or matrix')
    .addOption(new Option('--format <format>', 'table, markdown or json').choices([...COMPARISON_FORMATS]).default('table'))
    .option('--fail-on-regression', 'check every run against the first: a figure worse than its limit exits 1')
    .option('--max-regression <limit>', 'limits for --fail-on-regression: 10% (rps, p95, p99), 1pp (error rate, retention, users logged out), or p99=20%; repeatable', collectRepeated)
    .option('--force', 'compare results of different scenarios')
    .option('--html <file>', 'write the runs side by side as a self-contained HTML report')
    .action(async (files: string[], flags: CompareFlags) => {
      setExit(await compareCommand(io, files, flags));
    });
}

/**
 * Loads every file (reporting every invalid one, each named, with exit 2) and prints the comparison.
 * Color only for `table`, and only when stdout wants it.
 */
export async function compareCommand(io: Io, files: readonly string[], flags: CompareFlags): Promise<number> {
  const f = new FlagIssues();
  const limits = regressionLimits(f, flags.maxRegression);
  if (flags.maxRegression !== undefined && !flags.failOnRegression) f.add('--max-regression', 'only with --fail-on-regression');
  checkReportPaths(f, { html: flags.html });
  f.throwIfAny();
  if (files.length === 0) {
    io.stderr.write('session-bench: compare needs at least one result file (two or more to compare)\n');
    return ExitCode.invalidInput;
  }
  const loaded = await Promise.allSettled(files.map((file) => loadResultAsGiven(io, file)));
  let bad = false;
  for (const r of loaded) {
    if (r.status === 'fulfilled') continue;
    bad = true;
    const e = r.reason as unknown;
    const message = e instanceof SessionBenchError ? e.message : String(e);
    io.stderr.write(`session-bench: ${message}\n`);
  }
  if (bad) return ExitCode.invalidInput;
  const runs: ComparedRun[] = loaded.map((r, i) => ({ file: files[i]!, result: (r as PromiseFulfilledResult<RunResult>).value }));
  const first = runs[0]!.result;
  const others = runs.slice(1).filter((r) => r.result.scenario !== first.scenario);
  if (others.length > 0 && !flags.force) {
    for (const o of others) io.stderr.write(`session-bench: ${o.file} is a result of the scenario "${o.result.scenario}", not of "${first.scenario}" (${runs[0]!.file}); compare runs of the same scenario, or pass --force\n`);
    return ExitCode.invalidInput;
  }
  const format = flags.format ?? 'table';
  const color = format === 'table' && shouldUseColor(io.stdout, io.env);
  io.stdout.write(formatComparison(runs, { format, color }));
  let failed = false;
  if (flags.failOnRegression) {
    for (const run of runs.slice(1)) {
      const checked = withRegression(run.result, first, runs[0]!.file, limits);
      failed ||= regressed(checked.regression!.checks);
      if (format === 'json') continue;
      io.stdout.write(`\n${comparedRunName(run)}: ${formatRegressionChecks(checked, { color })}`);
    }
  }
  if (flags.html !== undefined && !(await writeComparisonHtml(io, runs.map((r) => ({ name: comparedRunName(r), result: r.result })), flags.html))) return ExitCode.invalidInput;
  if (failed) {
    io.stderr.write(`session-bench: a run regressed against ${runs[0]!.file}\n`);
    return ExitCode.thresholdBreached;
  }
  return ExitCode.ok;
}
