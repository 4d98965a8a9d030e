/**
 * `session-bench compare a.json b.json ...`: reads result files (each validated against the RunResult
 * schema) and prints them side by side, the first file as the baseline.
 */
import { Option, type Command } from 'commander';
import { resolve } from 'node:path';
import { ExitCode, SessionBenchError } from '../common/errors.js';
import { formatComparison, type ComparedRun, type ComparisonFormat } from '../reporters/compare.js';
import { shouldUseColor } from '../reporters/style.js';
import { loadResultFile } from '../result/load.js';
import type { RunResult } from '../result/schema.js';
import type { Io } from './io.js';

/** Output formats of `compare --format`. */
export const COMPARISON_FORMATS: readonly ComparisonFormat[] = ['table', 'markdown', 'json'];

/** Raw options of `compare`. */
export interface CompareFlags {
  format?: ComparisonFormat;
}

/** Registers `compare` on the program. */
export function registerCompareCommand(program: Command, io: Io, setExit: (code: number) => void): void {
  program
    .command('compare')
    .description('compare result files side by side (the first is the baseline): throughput, latency, failures, session retention')
    .argument('<files...>', 'result files written by run --json, demo or matrix')
    .addOption(new Option('--format <format>', 'table, markdown or json').choices([...COMPARISON_FORMATS]).default('table'))
    .action(async (files: string[], flags: CompareFlags) => {
      setExit(await compareCommand(io, files, flags));
    });
}

/**
 * Loads every file (reporting every invalid one, each named, with exit 2) and prints the comparison.
 * Color only for `table`, and only when stdout wants it.
 */
export async function compareCommand(io: Io, files: readonly string[], flags: CompareFlags): Promise<number> {
  if (files.length === 0) {
    io.stderr.write('session-bench: compare needs at least one result file (two or more to compare)\n');
    return ExitCode.invalidInput;
  }
  const loaded = await Promise.allSettled(files.map((f) => loadResultFile(resolve(io.cwd, f))));
  let bad = false;
  for (const [i, r] of loaded.entries()) {
    if (r.status === 'fulfilled') continue;
    bad = true;
    const e = r.reason as unknown;
    // loadResultFile names the absolute path; say it the way the user typed it.
    const message = e instanceof SessionBenchError ? e.message.replace(resolve(io.cwd, files[i]!), files[i]!) : String(e);
    io.stderr.write(`session-bench: ${message}\n`);
  }
  if (bad) return ExitCode.invalidInput;
  const runs: ComparedRun[] = loaded.map((r, i) => ({ file: files[i]!, result: (r as PromiseFulfilledResult<RunResult>).value }));
  const format = flags.format ?? 'table';
  io.stdout.write(formatComparison(runs, { format, color: format === 'table' && shouldUseColor(io.stdout, io.env) }));
  return ExitCode.ok;
}
