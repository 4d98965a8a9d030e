/**
 * `session-bench matrix <scenario> --case "NAME=COMMAND" ...`: the demo's machinery for the user's own
 * fleet. For each case: run its setup command (`sh -c`, e.g. `kubectl scale ... && kubectl rollout status
 * ...`), wait for things to settle, run the scenario labelled with the case name, save the result; then
 * compare all cases side by side. A failing setup command stops the matrix (exit 3) with its output shown;
 * the results so far are kept and compared.
 */
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { ConfigError, ExitCode } from '../common/errors.js';
import { formatCount, formatMs, formatRatioPct } from '../reporters/format.js';
import { abFigures } from '../reporters/format.js';
import { writeResultFile } from '../reporters/json.js';
import type { ComparedRun } from '../reporters/compare.js';
import type { RunResult } from '../result/schema.js';
import { run, thresholdsFailed } from '../engine/runner.js';
import { targetErrorOf } from '../engine/usability.js';
import { printComparisonSummary } from './conclusions.js';
import { checkResultsDir, defaultResultsDir, displayPath, resultPath } from './results-dir.js';
import { collectRepeated, FlagIssues } from './flags.js';
import type { Io } from './io.js';
import { progressPrinter, resolveRunInput, type RunFlags } from './run.js';

/** Raw options of `matrix`: the load flags of `run` plus its own. */
export interface MatrixFlags extends RunFlags {
  case?: string[];
  settle?: string;
  out?: string;
}

/** One case: a label and the command that puts the system under test into that configuration. */
export interface MatrixCase {
  name: string;
  command: string;
}

/** Default wait between a setup command and its run. */
export const DEFAULT_SETTLE_MS = 5000;

/** Exit code when a setup command fails (the matrix stops): the system under test could not be set up. */
export const SETUP_FAILED_EXIT = ExitCode.targetUnusable;

/**
 * Registers `matrix`. `addLoadFlags` is the CLI's shared load-flag table (passed in rather than imported,
 * so that this module does not import the CLI module that imports it).
 */
export function registerMatrixCommand(
  program: Command,
  io: Io,
  setExit: (code: number) => void,
  addLoadFlags: (cmd: Command) => Command,
): void {
  addLoadFlags(
    program
      .command('matrix')
      .description('run a scenario once per case, each after its setup command (e.g. kubectl scale), then compare the cases')
      .argument('<scenario>', 'scenario file (.yaml, .yml, .json) or a URL for quick mode'),
  )
    .option('--target <url>', "base URL; overrides the scenario's target")
    .option('--case <name=command>', 'a case: its label, "=", and the shell command that sets it up; repeatable, in order', collectRepeated)
    .option('--settle <time>', `wait after each setup command before the run (default ${DEFAULT_SETTLE_MS / 1000}s)`)
    .option('--out <dir>', 'folder for the result JSON files (default ./session-bench-results/matrix-<YYYYMMDD-HHMMSS>)')
    .action(async (scenario: string, flags: MatrixFlags) => {
      setExit(await matrixCommand(io, scenario, flags));
    });
}

/** Parses `--case` values; every bad one is reported (naming `--case` and the value). */
export function parseCases(values: readonly string[] | undefined, f: FlagIssues): MatrixCase[] {
  if (values === undefined || values.length === 0) {
    f.add('--case', 'at least one is required, e.g. --case "1 replica=kubectl scale deploy/app --replicas=1"');
    return [];
  }
  const cases: MatrixCase[] = [];
  const seen = new Set<string>();
  for (const v of values) {
    const eq = v.indexOf('=');
    const name = eq === -1 ? '' : v.slice(0, eq).trim();
    const command = eq === -1 ? '' : v.slice(eq + 1).trim();
    if (name === '' || command === '') {
      f.add('--case', `expected NAME=COMMAND (a label, "=", a shell command), got "${v}"`);
      continue;
    }
    if (seen.has(name)) {
      f.add('--case', `the name "${name}" is used twice; every case needs its own label`);
      continue;
    }
    seen.add(name);
    cases.push({ name, command });
  }
  return cases;
}

/** Result of a setup command. */
export interface SetupOutcome {
  /** Exit code, or null when killed by a signal. */
  code: number | null;
  signal: NodeJS.Signals | null;
  /** stdout and stderr interleaved, at most the last 64 KiB. */
  output: string;
  /** Stopped because `signal` (the abort signal) fired. */
  aborted: boolean;
}

const MAX_OUTPUT = 64 * 1024;

/**
 * Runs `command` through the shell (`/bin/sh -c` on POSIX) with the given environment, capturing its
 * output. Aborting kills its whole process group (SIGTERM, then SIGKILL after 2 s).
 */
export function runSetupCommand(command: string, env: NodeJS.ProcessEnv, signal: AbortSignal): Promise<SetupOutcome> {
  return new Promise((resolvePromise) => {
    const posix = process.platform !== 'win32';
    const child = spawn(command, { shell: true, env, stdio: ['ignore', 'pipe', 'pipe'], detached: posix });
    let output = '';
    const keep = (d: Buffer): void => {
      output += d.toString();
      if (output.length > 2 * MAX_OUTPUT) output = output.slice(-MAX_OUTPUT);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    let aborted = false;
    let killTimer: NodeJS.Timeout | undefined;
    const kill = (sig: NodeJS.Signals): void => {
      try {
        if (posix && child.pid !== undefined) process.kill(-child.pid, sig);
        else child.kill(sig);
      } catch {
        // already gone
      }
    };
    const onAbort = (): void => {
      aborted = true;
      kill('SIGTERM');
      killTimer = setTimeout(() => kill('SIGKILL'), 2000);
      killTimer.unref();
    };
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
    const done = (code: number | null, sig: NodeJS.Signals | null): void => {
      signal.removeEventListener('abort', onAbort);
      clearTimeout(killTimer);
      resolvePromise({ code, signal: sig, output: output.slice(-MAX_OUTPUT), aborted });
    };
    child.once('error', (e) => {
      output += `${e.message}\n`;
      done(127, null);
    });
    child.once('close', (code, sig) => done(code, sig));
  });
}

/** Waits `ms`, or less when `signal` fires; resolves false when aborted. */
function settle(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  if (ms <= 0) return Promise.resolve(true);
  return new Promise((r) => {
    const t = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      r(true);
    }, ms);
    const onAbort = (): void => {
      clearTimeout(t);
      r(false);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** `1 replica: 412.35 req/s, p99 40.1 ms, 0 failed, session retention 100.00% (0 losses) -> results/01-x.json` */
export function caseSummaryLine(result: RunResult, file: string): string {
  const s = result.session;
  const session = s.tracked ? `, session retention ${s.retention === null ? 'n/a' : formatRatioPct(s.retention)} (${formatCount(s.losses)} losses)` : ', sessions not tracked';
  return (
    `${result.label}: ${abFigures(result).rps.toFixed(2)} req/s, p99 ${formatMs(result.latency.p99)} ms, ` +
    `${formatCount(result.requests.failed)} failed${session}${result.interrupted ? ' (interrupted)' : ''} -> ${file}`
  );
}

/** The more serious of two exit codes: interrupted > setup failed / target unusable > threshold failed > ok. */
function worse(a: number, b: number): number {
  const rank = (c: number): number => (c === ExitCode.interrupted ? 4 : c === ExitCode.targetUnusable ? 3 : c === ExitCode.thresholdBreached ? 2 : c === ExitCode.ok ? 0 : 1);
  return rank(b) > rank(a) ? b : a;
}

const indent = (text: string): string =>
  text
    .replace(/\s+$/, '')
    .split('\n')
    .map((l) => `    ${l}`)
    .join('\n');

/**
 * Runs the matrix. Exit codes: 0 done; 1 a `--threshold` failed in some case; 2 bad flags or scenario; 3 a
 * setup command failed (the matrix stopped there) or a run found the target unusable; 130 interrupted. Every case that ran is
 * saved and compared, whatever the exit code.
 */
export async function matrixCommand(io: Io, positional: string, flags: MatrixFlags): Promise<number> {
  const f = new FlagIssues();
  const cases = parseCases(flags.case, f);
  const settleMs = f.duration('--settle', flags.settle) ?? DEFAULT_SETTLE_MS;
  let input: ReturnType<typeof resolveRunInput> | undefined;
  try {
    input = resolveRunInput(positional, flags);
  } catch (e) {
    // Flag problems are reported together with ours; a bad scenario file stands on its own.
    if (e instanceof ConfigError && e.source === 'command line') f.issues.unshift(...e.issues);
    else {
      f.throwIfAny();
      throw e;
    }
  }
  checkResultsDir(f, flags.out, io.cwd);
  f.throwIfAny();
  const { scenario, options } = input!;
  const out = flags.out !== undefined ? resolve(io.cwd, flags.out) : defaultResultsDir('matrix', io.cwd);
  const outShown = displayPath(out, io.cwd);
  const quiet = flags.quiet ?? false;
  const say = (text: string): void => {
    if (!quiet) io.stderr.write(text);
  };

  const runs: ComparedRun[] = [];
  let code: number = ExitCode.ok;
  for (const [i, c] of cases.entries()) {
    if (io.signal.aborted) {
      code = ExitCode.interrupted;
      break;
    }
    const tag = `case ${i + 1}/${cases.length} "${c.name}"`;
    say(`${tag}: setup: ${c.command}\n`);
    const t0 = performance.now();
    const setup = await runSetupCommand(c.command, io.env, io.signal);
    if (setup.aborted) {
      code = ExitCode.interrupted;
      break;
    }
    if (setup.code !== 0) {
      const how = setup.code === null ? `was killed by ${setup.signal}` : `exited with code ${setup.code}`;
      io.stderr.write(
        `session-bench: ${tag}: the setup command ${how}; stopping the matrix (results so far are kept).\n` +
          `  command: ${c.command}\n` +
          `  output:${setup.output.trim() === '' ? ' (none)' : `\n${indent(setup.output)}`}\n`,
      );
      code = worse(code, SETUP_FAILED_EXIT);
      break;
    }
    say(`${tag}: setup done in ${((performance.now() - t0) / 1000).toFixed(1)}s; settling ${settleMs / 1000}s\n`);
    if (!(await settle(settleMs, io.signal))) {
      code = ExitCode.interrupted;
      break;
    }
    const progress = progressPrinter(io, quiet);
    let result: RunResult;
    try {
      result = await run(scenario, { ...options, label: c.name, meta: { case: c.name } }, { signal: io.signal, onProgress: progress.onProgress, onEvent: progress.onEvent });
    } finally {
      progress.done();
    }
    const file = resultPath(out, i, c.name);
    await writeResultFile(file, result);
    runs.push({ file, result });
    io.stdout.write(`${caseSummaryLine(result, displayPath(file, io.cwd))}\n`);
    const unusable = targetErrorOf(result);
    if (unusable) {
      io.stderr.write(`session-bench: ${tag}: ${unusable.message}\n  hint: ${unusable.hint}\n`);
      code = worse(code, ExitCode.targetUnusable);
    }
    if (thresholdsFailed(result)) {
      const failed = (result.thresholds ?? []).filter((t) => !t.ok).map((t) => t.expression);
      io.stderr.write(`session-bench: ${tag}: threshold${failed.length > 1 ? 's' : ''} failed: ${failed.join(', ')}\n`);
      code = worse(code, ExitCode.thresholdBreached);
    }
    if (result.interrupted) {
      code = ExitCode.interrupted;
      break;
    }
  }

  printComparisonSummary(io, runs);
  if (runs.length > 0) io.stdout.write(`\nResults: ${outShown}/ (compare again with: session-bench compare ${outShown}/*.json)\n`);
  return code;
}
