/**
 * `session-bench compare a.json b.json ...`: reads result files (each validated against the RunResult
 * schema) and prints them side by side, the first file as the baseline. Also the pieces `demo` and `matrix`
 * share to save their runs and print their closing comparison.
 */
import { Option, type Command } from 'commander';
import { join, relative, resolve } from 'node:path';
import { ExitCode, SessionBenchError } from '../errors.js';
import {
  formatComparison,
  formatConclusion,
  loadResultFile,
  type ComparedRun,
  type ComparisonColumn,
  type ComparisonFormat,
} from '../reporters/compare.js';
import { shouldUseColor } from '../reporters/style.js';
import type { RunResult } from '../result.js';
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

/** `2 replicas, sticky + restart` -> `2-replicas-sticky-restart` (file-name safe, never empty). */
export function slugOf(name: string): string {
  const s = name
    .normalize('NFKD')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 60)
    .replace(/-+$/, '');
  return s === '' ? 'run' : s;
}

/** `<dir>/01-1-replica.json`: numbered in run order so `ls` lists them the way they ran. */
export function resultPath(dir: string, index: number, name: string): string {
  return join(dir, `${String(index + 1).padStart(2, '0')}-${slugOf(name)}.json`);
}

/** `./session-bench-results/<kind>-YYYYMMDD-HHMMSS` (local time), resolved against `cwd`. */
export function defaultResultsDir(kind: string, cwd: string, now: Date = new Date()): string {
  const p = (n: number): string => String(n).padStart(2, '0');
  const stamp = `${now.getFullYear()}${p(now.getMonth() + 1)}${p(now.getDate())}-${p(now.getHours())}${p(now.getMinutes())}${p(now.getSeconds())}`;
  return resolve(cwd, 'session-bench-results', `${kind}-${stamp}`);
}

/** A path as the user should read it: relative to `cwd` when inside it. */
export function displayPath(path: string, cwd: string): string {
  const rel = relative(cwd, path);
  return rel === '' ? '.' : rel.startsWith('..') ? path : rel;
}
