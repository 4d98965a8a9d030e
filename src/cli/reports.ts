/**
 * The CI gate's inputs and outputs around a run or a comparison: the baseline (--baseline, checked before
 * the run: readable, a valid result, the same scenario unless --force), the regression limits, and the
 * report files (--html, --junit, --summary-md; the Markdown summary also goes to $GITHUB_STEP_SUMMARY
 * in GitHub Actions). Report paths are checked before the run; a report that cannot be written after
 * it is said, and the run's exit code becomes 2, as for --json.
 */
import { appendFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { ConfigError, SessionBenchError } from '../common/errors.js';
import { checkRegression, parseRegressionLimits, type RegressionLimits } from '../metrics/regression.js';
import { formatHtmlComparison, formatHtmlReport } from '../reporters/html.js';
import { outputPathProblem, writeTextFile } from '../reporters/json.js';
import { formatJunit } from '../reporters/junit.js';
import { formatMarkdownSummary } from '../reporters/markdown.js';
import { loadResultFile } from '../result/load.js';
import type { RunResult } from '../result/schema.js';
import type { FlagIssues } from './flags.js';
import type { Io } from './io.js';

/** Report flags of `run` (and `compare --html`). */
export interface ReportFlags {
  html?: string;
  junit?: string;
  summaryMd?: string;
}

/** Regression flags of `run` and `compare`. */
export interface RegressionFlags {
  baseline?: string;
  maxRegression?: string[];
  force?: boolean;
}

/** Adds a problem for each report path that cannot be written (before the run). */
export function checkReportPaths(f: FlagIssues, flags: ReportFlags): void {
  for (const [flag, path] of [
    ['--html', flags.html],
    ['--junit', flags.junit],
    ['--summary-md', flags.summaryMd],
  ] as const) {
    if (path === undefined) continue;
    const bad = outputPathProblem(path);
    if (bad !== null) f.add(flag, bad);
  }
}

/** Parses --max-regression into limits, adding a problem for each bad one. */
export function regressionLimits(f: FlagIssues, specs: readonly string[] | undefined): RegressionLimits {
  const { limits, problems } = parseRegressionLimits(specs ?? []);
  for (const p of problems) f.add('--max-regression', p);
  return limits;
}

/** Loads a result file given on the command line; its errors name the file as the user typed it. */
export async function loadResultAsGiven(io: Io, file: string): Promise<RunResult> {
  const full = resolve(io.cwd, file);
  try {
    return await loadResultFile(full);
  } catch (e) {
    if (e instanceof ConfigError) throw new ConfigError(file, e.issues);
    throw e;
  }
}

/** Loads a baseline result (exit 2 naming the file when it is not one). */
export async function loadBaseline(io: Io, file: string): Promise<RunResult> {
  try {
    return await loadResultAsGiven(io, file);
  } catch (e) {
    if (e instanceof SessionBenchError) throw new ConfigError('--baseline', [{ path: file, message: e.message }]);
    throw e;
  }
}

/** Exit 2 unless `force`: a baseline of another scenario compares apples with oranges. */
export function checkSameScenario(baseline: RunResult, scenario: string, file: string, force: boolean): void {
  if (force || baseline.scenario === scenario) return;
  throw new ConfigError('--baseline', [
    { path: file, message: `is a result of the scenario "${baseline.scenario}", not of "${scenario}"; compare runs of the same scenario, or pass --force` },
  ]);
}

/** The result with its regression check against `baseline` attached. */
export function withRegression(result: RunResult, baseline: RunResult, file: string, limits: RegressionLimits): RunResult {
  return { ...result, regression: { baseline: file, checks: checkRegression(baseline, result, limits) } };
}

/** Writes the report files of a run; false when one could not be written (said on stderr). */
export async function writeRunReports(io: Io, result: RunResult, flags: ReportFlags): Promise<boolean> {
  let ok = true;
  const write = async (flag: string, path: string | undefined, text: () => string): Promise<void> => {
    if (path === undefined) return;
    try {
      await writeTextFile(resolve(io.cwd, path), text());
      io.stderr.write(`${flag.slice(2)} report written to ${path}\n`);
    } catch (e) {
      ok = false;
      io.stderr.write(`session-bench: cannot write ${flag} ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}\n`);
    }
  };
  await write('--html', flags.html, () => formatHtmlReport(result));
  await write('--junit', flags.junit, () => formatJunit(result));
  await write('--summary-md', flags.summaryMd, () => formatMarkdownSummary(result));
  await appendStepSummary(io, formatMarkdownSummary(result));
  return ok;
}

/** In GitHub Actions, the Markdown summary is appended to the job's summary page. */
export async function appendStepSummary(io: Io, markdown: string): Promise<void> {
  const file = io.env['GITHUB_STEP_SUMMARY'];
  if (!file) return;
  try {
    await appendFile(file, `${markdown}\n`, 'utf8');
  } catch (e) {
    io.stderr.write(`session-bench: cannot append to GITHUB_STEP_SUMMARY (${file}): ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}\n`);
  }
}

/** Writes `compare --html`; false when it could not be written. */
export async function writeComparisonHtml(io: Io, runs: readonly { name: string; result: RunResult }[], path: string): Promise<boolean> {
  try {
    await writeTextFile(resolve(io.cwd, path), formatHtmlComparison(runs));
    io.stderr.write(`html report written to ${path}\n`);
    return true;
  } catch (e) {
    io.stderr.write(`session-bench: cannot write --html ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}\n`);
    return false;
  }
}
