/**
 * `session-bench lab`: starts the local fleet (replicas of a petclinic-like app behind a round-robin or
 * sticky balancer), prints its URL and control endpoints, streams the replicas' log lines (`replica-2 WARN
 * Session not found for request GET /owners`) to stdout, and runs until Ctrl-C / SIGTERM.
 */
import { Option, type Command } from 'commander';
import { ErrorCode, ExitCode, SessionBenchError, UsageError } from '../common/errors.js';
import { MAX_REPLICAS, startLab, type BalancerMode, type Lab, type StoreKind } from '../lab/lab.js';
import { FlagIssues } from './flags.js';
import type { Io } from './io.js';

/** Raw options of `lab`. */
export interface LabFlags {
  replicas?: string;
  balancer?: BalancerMode;
  store?: StoreKind;
  redisUrl?: string;
  port?: string;
  delay?: string;
  threads?: string;
  quiet?: boolean;
  logRequests?: boolean;
}

/** The lab's default port: the `target` of scenarios/lab.yaml. */
export const DEFAULT_LAB_PORT = 8080;

/** Registers `lab` on the program. */
export function registerLabCommand(program: Command, io: Io, setExit: (code: number) => void): void {
  program
    .command('lab')
    .description('start a local fleet of a petclinic-like app (form login, sessions) behind a load balancer; runs until Ctrl-C')
    .option('--replicas <n>', `replicas, 1 to ${MAX_REPLICAS} (default 2)`)
    .addOption(new Option('--balancer <mode>', 'round-robin, or sticky (an affinity cookie, like an ALB lb_cookie)').choices(['round-robin', 'sticky']).default('round-robin'))
    .addOption(new Option('--store <store>', "where sessions live: each replica's memory, or a shared Redis").choices(['memory', 'redis']).default('memory'))
    .option('--redis-url <url>', 'Redis for --store redis (default REDIS_URL, else a redis-server from PATH, started and stopped with the lab)')
    .option('--port <port>', `balancer port; 0 = any free port (default ${DEFAULT_LAB_PORT})`)
    .option('--delay <time>', 'added server time per request, to model a heavier app (default 0ms)')
    .option('--threads <n>', "requests each replica processes at once, like Tomcat's maxThreads; 0 = unlimited (default 0)")
    .option('-q, --quiet', 'print only control actions (restart, scale) and errors')
    .option('--log-requests', 'print every proxied request and every replica log line (thousands a second under load)')
    .action(async (flags: LabFlags) => {
      setExit(await labCommand(io, flags));
    });
}

/** Starts the lab, prints how to use it, streams its logs and waits for Ctrl-C / SIGTERM; exit 0. */
export async function labCommand(io: Io, flags: LabFlags): Promise<number> {
  const f = new FlagIssues();
  const replicas = f.int('--replicas', flags.replicas, 1, MAX_REPLICAS) ?? 2;
  const port = flags.port === undefined ? DEFAULT_LAB_PORT : f.int('--port', flags.port, 0, 65535);
  const delayMs = f.duration('--delay', flags.delay) ?? 0;
  const threads = f.int('--threads', flags.threads, 0, 100_000) ?? 0;
  const store = flags.store ?? 'memory';
  const balancer = flags.balancer ?? 'round-robin';
  if (flags.redisUrl !== undefined && !/^rediss?:\/\/\S+$/i.test(flags.redisUrl)) {
    f.add('--redis-url', `expected a redis:// or rediss:// URL, got "${flags.redisUrl}"`);
  }
  if (flags.redisUrl !== undefined && store !== 'redis') f.add('--redis-url', 'only used with --store redis');
  if (flags.quiet && flags.logRequests) f.add('--log-requests', 'not with -q');
  f.throwIfAny();

  const envRedis = io.env['REDIS_URL'] || undefined;
  const redisUrl = flags.redisUrl ?? envRedis;
  const redisFrom = flags.redisUrl !== undefined ? '--redis-url' : envRedis !== undefined ? 'REDIS_URL' : null;
  if (io.signal.aborted) return ExitCode.ok;

  const log = labLogFilter(flags.quiet ? 'quiet' : flags.logRequests ? 'all' : 'warnings', batchedWriter(io.stdout));
  const flushTimer = setInterval(() => log.flush(), 1000);
  flushTimer.unref();
  let lab: Lab;
  try {
    lab = await startLab({
      replicas,
      balancer,
      store,
      port: port!,
      delayMs,
      threads,
      ...(store === 'redis' && redisUrl !== undefined ? { redisUrl } : {}),
      log,
      logRequests: flags.logRequests ?? false,
    });
  } catch (e) {
    if (e instanceof UsageError && e.code === ErrorCode.portInUse) {
      throw new UsageError(e.message, `use another port (--port 8081), or --port 0 for any free port`);
    }
    if (store === 'redis' && redisFrom !== null && !(e instanceof SessionBenchError)) {
      throw new UsageError(
        `cannot use Redis at ${redisUrl} (from ${redisFrom}): ${e instanceof Error ? e.message : String(e)}`,
        'check that Redis answers there, or leave --redis-url and REDIS_URL unset to start a redis-server from PATH',
      );
    }
    throw e;
  }

  const url = lab.url;
  const storeText =
    store === 'memory'
      ? "each replica's memory (lost when it restarts; not shared between replicas)"
      : `Redis at ${lab.options.redisUrl} (${redisFrom !== null ? `from ${redisFrom}` : 'a redis-server from PATH, started for this lab and stopped with it'}), shared by every replica`;
  const capacity = threads === 0 ? 'no thread limit' : `${threads} request${threads === 1 ? '' : 's'} at a time per replica`;
  io.stdout.write(
    [
      `session-bench lab: ${replicas} replica${replicas === 1 ? '' : 's'} behind a ${balancer} balancer, ${capacity}${delayMs > 0 ? `, ${delayMs} ms per request` : ''}`,
      `  URL:       ${url}`,
      `  Sessions:  ${storeText}`,
      '  Accounts:  admin/admin, and user<N>/pass<N> for N = 1..100000',
      `  Load it:   session-bench run scenarios/lab.yaml --target ${url} -c 20 -d 30s`,
      '  Control (same port):',
      `    curl -X POST ${url}/_lab/restart/1    restart replica-1 like a pod restart (drain, kill, start again)`,
      `    curl -X POST ${url}/_lab/scale/3      scale to 3 replicas like an autoscaler (down removes the highest-numbered)`,
      `    curl ${url}/_lab/stats                requests and session misses per replica, as JSON`,
      `    curl -X POST ${url}/_lab/reset-stats  zero the counts`,
      `Press Ctrl-C to stop. ${flags.quiet ? 'Control actions and errors' : flags.logRequests ? 'Every request and replica log line' : 'Warnings (session misses, failed logins), errors and control actions; --log-requests for every request'}:`,
      '',
    ].join('\n'),
  );

  await new Promise<void>((resolve) => {
    if (io.signal.aborted) resolve();
    else io.signal.addEventListener('abort', () => resolve(), { once: true });
  });
  await lab.close();
  clearInterval(flushTimer);
  log.flush();
  io.stdout.write(`session-bench lab: stopped (${lab.stats().totals.requests} requests, ${lab.stats().totals.sessionMisses} session misses)\n`);
  return ExitCode.ok;
}

/** One write per event-loop turn: under load the replicas log thousands of lines a second. */
function batchedWriter(out: NodeJS.WritableStream): (line: string) => void {
  let pending: string[] = [];
  return (line) => {
    if (pending.push(line) === 1) {
      setImmediate(() => {
        const lines = pending;
        pending = [];
        out.write(`${lines.join('\n')}\n`);
      });
    }
  };
}

/** Most warning lines printed per second by default; the rest are counted in one line. */
export const WARNINGS_PER_SECOND = 20;

/**
 * What `lab` prints of its log: `all` (--log-requests), `warnings` (default: control actions, warnings
 * such as session misses and failed logins, errors; at most WARNINGS_PER_SECOND warnings a second, the
 * rest counted), `quiet` (-q: control actions and errors).
 */
export function labLogFilter(mode: 'all' | 'warnings' | 'quiet', write: (line: string) => void, now: () => number = Date.now): LabLog {
  if (mode === 'all') return Object.assign((line: string) => write(line), { flush() {} });
  let second = 0;
  let shown = 0;
  let held = 0;
  const flush = (): void => {
    if (held > 0) write(`lab       WARN  ... and ${held.toLocaleString('en-US')} more warnings in that second (--log-requests prints them all)`);
    held = 0;
  };
  const log = (line: string): void => {
    const m = /^(\S+)\s+(INFO|WARN|ERROR)\b/.exec(line);
    const source = m?.[1] ?? '';
    const level = m?.[2] ?? 'INFO';
    const control = source === 'lab' && level === 'INFO';
    if (level === 'ERROR' || control || (level === 'INFO' && / Started on port /.test(line))) {
      write(line);
      return;
    }
    if (mode === 'quiet' || level !== 'WARN') return;
    const s = Math.floor(now() / 1000);
    if (s !== second) {
      flush();
      second = s;
      shown = 0;
    }
    if (shown < WARNINGS_PER_SECOND) {
      shown++;
      write(line);
    } else held++;
  };
  return Object.assign(log, {
    flush() {
      if (Math.floor(now() / 1000) !== second) flush();
    },
  });
}

/** A log line sink that may hold a count of suppressed lines until `flush()`. */
export type LabLog = ((line: string) => void) & { flush(): void };
