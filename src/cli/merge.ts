/**
 * `session-bench merge a.json b.json ... --json all.json`: one result from the results of several
 * generators (shards of a Kubernetes Indexed Job, several machines), through the same merge as worker
 * threads (metrics/merge.ts). Thresholds and the baseline check apply to the merged result, so the
 * verdict is the whole test's, not any one generator's. Results of different scenarios are refused
 * (exit 2) unless --force; results of different steps, or the same shard twice, always are.
 */
import type { Command } from 'commander';
import { ConfigError, SessionBenchError } from '../common/errors.js';
import { mergeProblem, mergeResults } from '../metrics/merge.js';
import { evaluateThresholds } from '../metrics/thresholds.js';
import { outputPathProblem } from '../reporters/json.js';
import type { RunResult } from '../result/schema.js';
import { parseThresholds } from '../scenario/compile.js';
import { collectRepeated, FlagIssues } from './flags.js';
import type { Io } from './io.js';
import { checkReportPaths, checkSameScenario, loadBaseline, loadResultAsGiven, regressionLimits, withRegression, type ReportFlags } from './reports.js';
import { finishRun } from './run.js';

export interface MergeFlags extends ReportFlags {
  json?: string;
  label?: string;
  threshold?: string[];
  baseline?: string;
  maxRegression?: string[];
  force?: boolean;
}

export function registerMergeCommand(program: Command, io: Io, setExit: (code: number) => void): void {
  program
    .command('merge')
    .description('merge the results of several generators (shards, machines) into one: counts summed, histograms added, timelines aligned')
    .argument('<files...>', 'result files written by run --json')
    .option('--json <file>', 'write the merged result as versioned JSON')
    .option('--label <text>', 'name of the merged run')
    .option('--threshold <expr>', 'pass/fail criterion on the merged result, repeatable (exit 1 when one fails)', collectRepeated)
    .option('--baseline <file>', 'a result of the same scenario to compare the merged result with (exit 1 on a regression)')
    .option('--max-regression <limit>', 'with --baseline: 10%, 1pp, p99=20%, retention=0.5pp; repeatable', collectRepeated)
    .option('--force', 'merge results of different scenarios (their steps must still match)')
    .option('--html <file>', 'write the merged result as an HTML report')
    .option('--junit <file>', 'write JUnit XML of the thresholds and regression checks')
    .option('--summary-md <file>', 'write a Markdown summary (also appended to $GITHUB_STEP_SUMMARY)')
    .action(async (files: string[], flags: MergeFlags) => {
      setExit(await mergeCommand(io, files, flags));
    });
}

export async function mergeCommand(io: Io, files: readonly string[], flags: MergeFlags): Promise<number> {
  const f = new FlagIssues();
  const thresholds = parseThresholds(flags.threshold ?? [], '--threshold', f.issues);
  const limits = regressionLimits(f, flags.maxRegression);
  if (flags.maxRegression !== undefined && flags.baseline === undefined) f.add('--max-regression', 'only with --baseline FILE');
  if (flags.json !== undefined) {
    const bad = outputPathProblem(flags.json);
    if (bad !== null) f.add('--json', bad);
  }
  checkReportPaths(f, flags);
  f.throwIfAny();
  const loaded = await Promise.allSettled(files.map((file) => loadResultAsGiven(io, file)));
  const issues = loaded.flatMap((r, i) => (r.status === 'rejected' ? [{ path: files[i]!, message: r.reason instanceof SessionBenchError ? r.reason.message : String(r.reason) }] : []));
  if (issues.length > 0) throw new ConfigError('merge', issues);
  const runs = loaded.map((r, i) => ({ file: files[i]!, result: (r as PromiseFulfilledResult<RunResult>).value }));
  const problem = mergeProblem(runs);
  if (problem !== null && !(problem.kind === 'scenario' && flags.force)) {
    throw new ConfigError('merge', [{ path: '(files)', message: `${problem.message}${problem.kind === 'scenario' ? '; merge results of one scenario, or pass --force' : ''}` }]);
  }
  const shards = runs.filter((r) => r.result.shard !== null);
  const seen = new Map<number, string>();
  for (const r of shards) {
    const s = r.result.shard!;
    if (seen.has(s.index)) throw new ConfigError('merge', [{ path: r.file, message: `is shard ${s.index}/${s.count}, like ${seen.get(s.index)}: the same shard twice would count its users twice` }]);
    seen.set(s.index, r.file);
  }
  const counts = new Set(shards.map((r) => r.result.shard!.count));
  if (counts.size > 1) throw new ConfigError('merge', [{ path: '(files)', message: `shards of different tests: ${[...counts].map((n) => `/${n}`).join(' and ')}` }]);
  if (shards.length > 0 && shards.length < shards[0]!.result.shard!.count) {
    io.stderr.write(`session-bench: merging ${shards.length} of ${shards[0]!.result.shard!.count} shards (the others are missing)\n`);
  }
  const baseline = flags.baseline === undefined ? null : await loadBaseline(io, flags.baseline);
  if (baseline !== null) checkSameScenario(baseline, runs[0]!.result.scenario, flags.baseline!, flags.force ?? false);

  let merged = mergeResults(runs.map((r) => r.result), { label: flags.label });
  if (thresholds.length > 0) merged.thresholds = evaluateThresholds(merged, thresholds);
  if (baseline !== null) merged = withRegression(merged, baseline, flags.baseline!, limits);
  io.stderr.write(`Merged ${runs.length} results (${merged.requests.total.toLocaleString('en-US')} requests)\n`);
  return finishRun(io, merged, flags.json, flags);
}
