/**
 * `session-bench demo`: replays the story on this machine. One scenario (scenarios/lab.yaml: form login,
 * then browse), one concurrency, the fleets of demo-rows.ts started one after another with the lab. Every
 * row cross-checks the tool's loss count against the lab's own count of "session not found", then the
 * rows are compared side by side with conclusions drawn from the numbers.
 */
import type { Command } from 'commander';
import { resolve } from 'node:path';
import { ExitCode, SessionBenchError } from '../common/errors.js';
import { targetErrorOf } from '../engine/usability.js';
import { MAX_OWNER_ID } from '../lab/replica-app.js';
import type { ComparedRun } from '../reporters/compare.js';
import { formatCount } from '../reporters/format.js';
import { writeResultFile } from '../reporters/json.js';
import { loadScenario } from '../scenario/load.js';
import { printComparisonSummary } from './conclusions.js';
import { DEMO_COLUMNS, DEMO_DEFAULTS, DEMO_ROWS, labScenarioPath, redisSourceFor, runDemoRow, type DemoRowOutcome, type DemoSettings } from './demo-rows.js';
import { FlagIssues } from './flags.js';
import { progressPrinter } from './run.js';
import type { Io } from './io.js';
import { checkResultsDir, defaultResultsDir, displayPath, resultPath } from './results-dir.js';

/** Raw options of `demo`. */
export interface DemoFlags {
  concurrency?: string;
  duration?: string;
  delay?: string;
  threads?: string;
  out?: string;
  redisUrl?: string;
  quiet?: boolean;
}

/** Registers `demo` on the program. */
export function registerDemoCommand(program: Command, io: Io, setExit: (code: number) => void): void {
  program
    .command('demo')
    .description('replay the story: the same login-and-browse load against 1 replica, 2 round-robin, 2 sticky, 2 sticky + restart, 2 + Redis + restart; then a comparison')
    .option('-c, --concurrency <n>', `virtual users (default ${DEMO_DEFAULTS.concurrency})`)
    .option('-d, --duration <time>', `length of each row (default ${DEMO_DEFAULTS.durationMs / 1000}s)`)
    .option('--delay <time>', `server time per request on each replica (default ${DEMO_DEFAULTS.delayMs}ms)`)
    .option('--threads <n>', `requests each replica processes at once, like Tomcat's maxThreads; 0 = unlimited (default ${DEMO_DEFAULTS.threads})`)
    .option('--out <dir>', 'folder for the result JSON files (default ./session-bench-results/demo-<YYYYMMDD-HHMMSS>)')
    .option('--redis-url <url>', 'Redis for the Redis row (default REDIS_URL, else a redis-server from PATH)')
    .option('-q, --quiet', 'no progress lines on stderr')
    .action(async (flags: DemoFlags) => {
      setExit(await demoCommand(io, flags));
    });
}

function parseDemoFlags(flags: DemoFlags, io: Io): { settings: DemoSettings; out: string } {
  const f = new FlagIssues();
  // scenarios/lab.yaml visits /owners/{{vu}}: the lab has owner pages for that many virtual users.
  const concurrency = f.int('--concurrency', flags.concurrency, 1, MAX_OWNER_ID) ?? DEMO_DEFAULTS.concurrency;
  const durationMs = f.duration('--duration', flags.duration) ?? DEMO_DEFAULTS.durationMs;
  if (durationMs === 0) f.add('--duration', 'must be more than 0');
  const delayMs = f.duration('--delay', flags.delay) ?? DEMO_DEFAULTS.delayMs;
  const threads = f.int('--threads', flags.threads, 0, 100_000) ?? DEMO_DEFAULTS.threads;
  if (flags.redisUrl !== undefined && !/^rediss?:\/\/\S+$/i.test(flags.redisUrl)) {
    f.add('--redis-url', `expected a redis:// or rediss:// URL, got "${flags.redisUrl}"`);
  }
  checkResultsDir(f, flags.out, io.cwd);
  f.throwIfAny();
  return {
    settings: {
      concurrency,
      durationMs,
      delayMs,
      threads,
      redisUrl: flags.redisUrl ?? (io.env['REDIS_URL'] || undefined),
      env: io.env,
    },
    out: flags.out !== undefined ? resolve(io.cwd, flags.out) : defaultResultsDir('demo', io.cwd),
  };
}

/** `8.0s`. */
const secs = (ms: number): string => `${(ms / 1000).toFixed(1)}s`;

/**
 * Runs the rows one after another and prints: a progress line per row (stderr, unless -q); per row, on
 * stdout, whether the lab's count of session misses agrees with the tool's losses; then the comparison
 * table, the conclusions and where the JSON files are. Exit 0; 1 when a count disagrees; 130 on Ctrl-C.
 */
export async function demoCommand(io: Io, flags: DemoFlags): Promise<number> {
  const { settings, out } = parseDemoFlags(flags, io);
  const scenario = loadScenario(labScenarioPath());
  const quiet = flags.quiet ?? false;
  const outShown = displayPath(out, io.cwd);
  const redisSource = redisSourceFor(settings.redisUrl, io.env);

  io.stdout.write(
    `session-bench demo: the same scenario (log in through a form, then browse ${scenario.flow.length} pages) with ` +
      `${settings.concurrency} virtual users for ${secs(settings.durationMs!)} against ${DEMO_ROWS.length} setups of a local app.\n` +
      `Each replica serves ${settings.threads === 0 ? 'any number of' : settings.threads} request${settings.threads === 1 ? '' : 's'} at a time` +
      `${settings.delayMs > 0 ? ` and spends ${settings.delayMs} ms on each` : ''}; sessions live in the replica's memory unless the row says Redis` +
      `${redisSource === null ? '' : ` (${settings.redisUrl ? `Redis at ${settings.redisUrl}` : 'a redis-server from PATH, started for that row'})`}.\n\n` +
      'Session losses (logged-in requests sent back to the login page), counted by the app and by session-bench:\n',
  );

  const liveTerminal = io.stderr.isTTY === true && io.env.TERM !== 'dumb';
  const runs: ComparedRun[] = [];
  let disagreements = 0;
  let interrupted = false;
  let unusable = false;
  let failedCode: number | null = null;
  for (const [i, row] of DEMO_ROWS.entries()) {
    if (io.signal.aborted) {
      interrupted = true;
      break;
    }
    const head = `row ${i + 1}/${DEMO_ROWS.length}: ${row.description} ...`;
    const started = performance.now();
    // Live progress within the row on a terminal (redrawn); in a log, the row's line as it ends.
    const live = !quiet && liveTerminal ? progressPrinter(io, false, `row ${i + 1}/${DEMO_ROWS.length} `) : null;
    if (!quiet && live === null) io.stderr.write(head);
    let outcome: DemoRowOutcome;
    try {
      outcome = await runDemoRow(row, { ...settings, scenario }, { signal: io.signal, onProgress: live?.onProgress, onEvent: live?.onEvent });
    } catch (e) {
      live?.done();
      // One row's failure (e.g. a Redis URL that does not answer) must not hide the others' results.
      if (!quiet) io.stderr.write(`${live !== null ? head : ''} failed\n`);
      const message = e instanceof Error ? e.message : String(e);
      io.stdout.write(`  ${row.name}: failed: ${message}\n`);
      if (e instanceof SessionBenchError) {
        io.stderr.write(`session-bench: ${row.name}: ${message}\n${e.hint ? `  hint: ${e.hint}\n` : ''}`);
        failedCode ??= e.exitCode;
      } else {
        io.stderr.write(`session-bench: ${row.name}: ${e instanceof Error && e.stack ? e.stack : message}\n`);
        failedCode ??= ExitCode.internalError;
      }
      continue;
    }
    live?.done();
    if (!quiet) {
      const restart = outcome.kind === 'ran' && outcome.restartAtMs !== null ? ` (replica-1 restarted at ${secs(outcome.restartAtMs)})` : '';
      const cut = outcome.kind === 'ran' && outcome.result.interrupted ? ' interrupted after' : '';
      io.stderr.write(`${live !== null ? head : ''}${outcome.kind === 'skipped' ? ' skipped\n' : `${restart}${cut} ${secs(performance.now() - started)}\n`}`);
    }
    if (outcome.kind === 'skipped') {
      io.stdout.write(`  ${row.name}: skipped: ${outcome.reason}\n`);
      continue;
    }
    const { result } = outcome;
    const file = resultPath(out, i, row.name);
    await writeResultFile(file, result);
    runs.push({ file, result });
    const lab = outcome.lab.totals.sessionMisses;
    const tool = result.session.losses;
    const partial = result.interrupted ? ' (interrupted: a partial run)' : '';
    if (outcome.agree) {
      io.stdout.write(`  ${row.name}: lab counted ${formatCount(lab)} session misses; session-bench counted ${formatCount(tool)} ✓${partial}\n`);
    } else if (result.interrupted) {
      // Ctrl-C aborts requests in flight: the lab may have answered (and counted) some the tool never read.
      io.stdout.write(
        `  ${row.name}: lab counted ${formatCount(lab)} session misses; session-bench counted ${formatCount(tool)} ` +
          '(interrupted: requests cut off in flight are counted by the lab only)\n',
      );
    } else {
      disagreements++;
      const line = `  ${row.name}: MISMATCH: lab counted ${formatCount(lab)} session misses, but session-bench counted ${formatCount(tool)} losses ✗\n`;
      io.stdout.write(line);
      io.stderr.write(`session-bench: ${line.trim()}\n`);
    }
    if (targetErrorOf(result)) {
      unusable = true;
      io.stderr.write(`session-bench: ${row.name}: ${targetErrorOf(result)!.message}\n`);
    }
    if (result.interrupted) {
      interrupted = true;
      break;
    }
  }

  printComparisonSummary(io, runs, {
    columns: DEMO_COLUMNS,
    legend: [
      `Requests/sec and Time/request are ab's figures (Time/request = ${settings.concurrency} users x run time / requests).`,
      'Session retention: the share of logged-in requests that still found their session. Losses: logged-in',
      'requests sent back to the login page. Users logged out: the virtual users (each one user with its own',
      'cookie jar) that lost their session at least once. In brackets: the change against the first row (in',
      'percentage points, pp, for retention and users).',
    ],
  });
  if (runs.length > 0) {
    io.stdout.write(
      `\nResults: ${outShown}/ (${runs.length} JSON file${runs.length === 1 ? '' : 's'}); ` +
        `compare them again with: session-bench compare ${outShown}/*.json\n`,
    );
  }
  if (disagreements > 0) {
    io.stderr.write(
      `session-bench: ${disagreements} row${disagreements === 1 ? '' : 's'} where the lab's count of session misses and session-bench's count of losses differ; please report this.\n`,
    );
  }
  if (interrupted) return ExitCode.interrupted;
  if (failedCode !== null) return failedCode;
  if (unusable) return ExitCode.targetUnusable;
  return disagreements > 0 ? ExitCode.thresholdBreached : ExitCode.ok;
}
