/**
 * `session-bench demo`: replays the story on this machine. One scenario (scenarios/lab.yaml: form login,
 * then browse), one concurrency, five fleets started one after another with the lab: 1 replica; 2 replicas
 * round-robin; 2 sticky; 2 sticky with a replica restarted halfway; 2 round-robin with sessions in Redis and
 * a restart halfway. Every row cross-checks the tool's loss count against the lab's own count of "session
 * not found", then the rows are compared side by side with conclusions drawn from the numbers.
 */
import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ErrorCode, ExitCode, SessionBenchError, UsageError } from '../common/errors.js';
import { startLab, type BalancerMode, type LabStats, type StoreKind } from '../lab/lab.js';
import { findOnPath } from '../lab/redis.js';
import { MAX_OWNER_ID } from '../lab/replica-app.js';
import { formatCount } from '../reporters/format.js';
import { writeResultFile } from '../reporters/json.js';
import type { ComparedRun, ComparisonColumn } from '../reporters/compare.js';
import type { RunResult } from '../result/schema.js';
import { run } from '../engine/runner.js';
import { targetErrorOf } from '../engine/usability.js';
import { loadScenario } from '../scenario/load.js';
import { type Scenario } from '../scenario/types.js';
import { printComparisonSummary } from './conclusions.js';
import { defaultResultsDir, displayPath, resultPath } from './results-dir.js';
import { FlagIssues } from './flags.js';
import type { Io } from './io.js';

/** One configuration the demo measures. */
export interface DemoRow {
  /** The run's label: its name in the table and the conclusions. */
  name: string;
  /** Spelled out in progress lines (`2 replicas, round-robin, memory`). */
  description: string;
  replicas: number;
  balancer: BalancerMode;
  store: StoreKind;
  /** Restart replica-1 halfway through the run (a pod restart). */
  restart: boolean;
}

/** The story's five configurations, in the order the demo runs them. */
export const DEMO_ROWS: readonly DemoRow[] = Object.freeze([
  { name: '1 replica', description: '1 replica, memory sessions', replicas: 1, balancer: 'round-robin', store: 'memory', restart: false },
  { name: '2 replicas, round-robin', description: '2 replicas, round-robin, memory sessions', replicas: 2, balancer: 'round-robin', store: 'memory', restart: false },
  { name: '2 replicas, sticky', description: '2 replicas, sticky, memory sessions', replicas: 2, balancer: 'sticky', store: 'memory', restart: false },
  {
    name: '2 replicas, sticky, restart',
    description: '2 replicas, sticky, memory sessions, replica-1 restarted halfway',
    replicas: 2,
    balancer: 'sticky',
    store: 'memory',
    restart: true,
  },
  {
    name: '2 replicas, Redis, restart',
    description: '2 replicas, round-robin, sessions in Redis, replica-1 restarted halfway',
    replicas: 2,
    balancer: 'round-robin',
    store: 'redis',
    restart: true,
  },
] satisfies DemoRow[]);

/** Defaults chosen so that on a 2-core machine 2 replicas give about twice the throughput of 1, in < 60 s. */
export const DEMO_DEFAULTS = { concurrency: 20, durationMs: 8000, delayMs: 20, threads: 4 } as const;

/** How every row is run. */
export interface DemoSettings {
  concurrency: number;
  /** Run length per row; null = until `requests` are spent (then a restart row needs `restartAfterMs`). */
  durationMs: number | null;
  /** Request budget per row (tests); null/absent = no budget. */
  requests?: number | null;
  /** Added server time per request on every replica. */
  delayMs: number;
  /** Requests each replica processes at once (0 = unlimited). */
  threads: number;
  /** Redis for the redis row, already resolved from `--redis-url` or `REDIS_URL`. */
  redisUrl?: string | undefined;
  /** Environment to look for `redis-server` on PATH; default `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** When the restart happens, in ms after the run starts; default half the duration. */
  restartAfterMs?: number;
  /** The scenario; default scenarios/lab.yaml from the package. */
  scenario?: Scenario;
}

/** What one row produced. */
export type DemoRowOutcome =
  | {
      kind: 'ran';
      row: DemoRow;
      result: RunResult;
      /** The lab's counts for the run (fresh lab, so exactly this run's). */
      lab: LabStats;
      /** `result.session.losses === lab.totals.sessionMisses`. */
      agree: boolean;
      /** When replica-1's restart began, in ms since the run started; null when there was none. */
      restartAtMs: number | null;
      /** Where the redis row's Redis came from. */
      redisSource: string | null;
    }
  | { kind: 'skipped'; row: DemoRow; reason: string };

/** The demo table's columns: the story's figures (ab's plus retention), narrow enough for a terminal. */
export const DEMO_COLUMNS: readonly ComparisonColumn[] = ['rps', 'timePerRequestMs', 'p99', 'failed', 'retention', 'losses'];

/** The skip line's reason when the Redis row cannot get a Redis. */
export const NO_REDIS_SKIP = 'no Redis (apt-get install redis-server, or --redis-url / REDIS_URL)';

/**
 * Where the redis row would get Redis: the given URL, else a `redis-server` on PATH (started for the row),
 * else null.
 */
export function redisSourceFor(redisUrl: string | undefined, env: NodeJS.ProcessEnv): string | null {
  if (redisUrl) return redisUrl;
  return findOnPath('redis-server', env['PATH']) ? 'a redis-server from PATH, started for this row' : null;
}

/**
 * The package's scenarios/lab.yaml, found relative to this module (src/commands/ in tests, dist/commands/
 * when built or installed: both are two levels below the package root, which ships `scenarios/`).
 */
export function labScenarioPath(moduleUrl: string = import.meta.url): string {
  const p = fileURLToPath(new URL('../../scenarios/lab.yaml', moduleUrl));
  if (!existsSync(p)) throw new Error(`${p} not found: the package's scenarios/ folder is missing`);
  return p;
}

/**
 * Runs one demo row: a fresh lab, the scenario against it (label = row name, meta = the configuration and
 * the measured restart time), replica-1 restarted after `restartAfterMs` on restart rows, then the lab's
 * counts. The lab is always closed. The redis row is skipped (not failed) when no Redis can be had.
 */
export async function runDemoRow(row: DemoRow, settings: DemoSettings, hooks: { signal?: AbortSignal } = {}): Promise<DemoRowOutcome> {
  let redisSource: string | null = null;
  if (row.store === 'redis') {
    redisSource = redisSourceFor(settings.redisUrl, settings.env ?? process.env);
    if (redisSource === null) return { kind: 'skipped', row, reason: NO_REDIS_SKIP };
  }
  const restartAfterMs = row.restart ? (settings.restartAfterMs ?? (settings.durationMs !== null ? settings.durationMs / 2 : null)) : null;
  if (row.restart && restartAfterMs === null) throw new UsageError(`${row.name}: a restart row needs a duration or restartAfterMs`);
  const scenario = settings.scenario ?? loadScenario(labScenarioPath());

  let lab;
  try {
    lab = await startLab({
      replicas: row.replicas,
      balancer: row.balancer,
      store: row.store,
      delayMs: settings.delayMs,
      threads: settings.threads,
      ...(row.store === 'redis' && settings.redisUrl ? { redisUrl: settings.redisUrl } : {}),
    });
  } catch (e) {
    if (row.store === 'redis' && e instanceof UsageError && e.code === ErrorCode.redisNotFound) return { kind: 'skipped', row, reason: NO_REDIS_SKIP };
    if (row.store === 'redis' && settings.redisUrl && !(e instanceof SessionBenchError)) {
      throw new UsageError(
        `cannot use Redis at ${settings.redisUrl}: ${e instanceof Error ? e.message : String(e)}`,
        'check --redis-url / REDIS_URL, or leave both unset to let the demo start a redis-server from PATH',
      );
    }
    throw e;
  }
  try {
    let restartAtMs: number | null = null;
    let restarting: Promise<void> | undefined;
    let timer: NodeJS.Timeout | undefined;
    // Taken right before run() starts its clock (synchronously, in the same call), so both share an origin.
    const t0 = performance.now();
    const running = run(
      scenario,
      {
        target: lab.url,
        concurrency: settings.concurrency,
        durationMs: settings.durationMs,
        requests: settings.requests ?? null,
        label: row.name,
      },
      { signal: hooks.signal },
    );
    if (restartAfterMs !== null) {
      timer = setTimeout(() => {
        // 1 ms earlier than measured: the run's clock is aligned through Date.now(), which has 1 ms steps.
        restartAtMs = Math.max(0, Math.floor(performance.now() - t0) - 1);
        restarting = lab.restart(1);
        // Awaited below; never an unhandled rejection meanwhile.
        restarting.catch(() => {});
      }, restartAfterMs);
    }
    let result: RunResult;
    try {
      result = await running;
    } finally {
      clearTimeout(timer);
    }
    if (restarting) {
      try {
        await restarting;
      } catch (e) {
        throw new Error(`${row.name}: restarting replica-1 failed: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    const restarted = restartAtMs !== null;
    result = {
      ...result,
      meta: {
        replicas: row.replicas,
        balancer: row.balancer,
        store: row.store,
        restart: restarted,
        ...(restarted ? { restartAtMs: restartAtMs! } : {}),
        labDelayMs: settings.delayMs,
        labThreads: settings.threads,
      },
    };
    const stats = lab.stats();
    return {
      kind: 'ran',
      row,
      result,
      lab: stats,
      agree: result.session.losses === stats.totals.sessionMisses,
      restartAtMs,
      redisSource,
    };
  } finally {
    await lab.close();
  }
}

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
    if (!quiet) io.stderr.write(head);
    let outcome: DemoRowOutcome;
    try {
      outcome = await runDemoRow(row, { ...settings, scenario }, { signal: io.signal });
    } catch (e) {
      // One row's failure (e.g. a Redis URL that does not answer) must not hide the others' results.
      if (!quiet) io.stderr.write(' failed\n');
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
    if (!quiet) {
      const restart = outcome.kind === 'ran' && outcome.restartAtMs !== null ? ` (replica-1 restarted at ${secs(outcome.restartAtMs)})` : '';
      const cut = outcome.kind === 'ran' && outcome.result.interrupted ? ' interrupted after' : '';
      io.stderr.write(outcome.kind === 'skipped' ? ' skipped\n' : `${restart}${cut} ${secs(performance.now() - started)}\n`);
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
      'requests sent back to the login page. In brackets: the change against the first row.',
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
