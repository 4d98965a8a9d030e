/**
 * The demo's rows: five fleets of the lab, started one after another: 1 replica; 2 replicas round-robin;
 * 2 sticky; 2 sticky with a replica restarted halfway; 2 round-robin with sessions in Redis and a restart
 * halfway. One row = start its lab, run the scenario against it, read the lab's own counts, stop it.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ErrorCode, SessionBenchError, UsageError } from '../common/errors.js';
import { run } from '../engine/runner.js';
import { startLab, type BalancerMode, type LabStats, type StoreKind } from '../lab/lab.js';
import { findOnPath } from '../lab/redis.js';
import { loadScenario } from '../scenario/load.js';
import type { ComparisonColumn } from '../reporters/compare.js';
import type { EventNotice } from '../engine/events.js';
import type { ProgressSnapshot, RunResult } from '../result/schema.js';
import type { EventSpec, Scenario } from '../scenario/types.js';

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
export const DEMO_COLUMNS: readonly ComparisonColumn[] = ['rps', 'timePerRequestMs', 'p99', 'failed', 'retention', 'usersAffected', 'losses'];

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
/** Live progress of a row (the demo's progress line, event notices). */
export interface DemoRowHooks {
  signal?: AbortSignal;
  onProgress?: ((p: ProgressSnapshot) => void) | undefined;
  onEvent?: ((n: EventNotice) => void) | undefined;
}

/**
 * The shell command that asks the lab at `url` for a control action (`restart/1`, `scale/3`): curl when
 * it is on PATH (what a user would type), else the same POST from Node, which is always there.
 */
export function labControlCommand(url: string, action: string, env: NodeJS.ProcessEnv): string {
  const endpoint = `${url}/_lab/${action}`;
  if (findOnPath('curl', env['PATH'])) return `curl -fsS -o /dev/null -X POST ${endpoint}`;
  const script = "fetch(process.argv[1],{method:'POST'}).then(async(r)=>{if(!r.ok){console.error(r.status,await r.text());process.exit(1)}},(e)=>{console.error(e.message);process.exit(1)})";
  return `"${process.execPath}" -e "${script}" ${endpoint}`;
}

export async function runDemoRow(row: DemoRow, settings: DemoSettings, hooks: DemoRowHooks = {}): Promise<DemoRowOutcome> {
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
    // The restart is an event of the run, as `--at 4s="curl -X POST .../_lab/restart/1"` would be: the
    // same mechanism a user points at `kubectl rollout restart`, with its figures before, during and after.
    const events: EventSpec[] = restartAfterMs === null ? [] : [{ atMs: restartAfterMs, command: labControlCommand(lab.url, 'restart/1', settings.env ?? process.env), stopOnFailure: false }];
    let result = await run(
      scenario,
      {
        target: lab.url,
        concurrency: settings.concurrency,
        durationMs: settings.durationMs,
        requests: settings.requests ?? null,
        label: row.name,
        events,
      },
      { signal: hooks.signal, onProgress: hooks.onProgress, onEvent: hooks.onEvent, progressIntervalMs: hooks.onProgress ? 500 : undefined },
    );
    const restart = result.events[0];
    if (restart !== undefined && restart.status === 'failed') {
      throw new Error(`${row.name}: restarting replica-1 failed (${restart.command}): ${restart.output.trim() || `exit ${restart.exitCode}`}`);
    }
    // 1 ms earlier than measured: the threads' clocks are aligned through Date.now(), which has 1 ms steps.
    const restartAtMs = restart?.startedMs == null ? null : Math.max(0, Math.floor(restart.startedMs) - 1);
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
