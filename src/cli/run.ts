/**
 * `session-bench run [scenario|URL]`: parses flags into a Scenario and RunOptions, runs, prints the
 * report on stdout and progress on stderr, writes the JSON result, and returns the exit code.
 */
import { ExitCode } from '../common/errors.js';
import type { ConnectionMode } from '../engine/http/transport.js';
import { formatEventNotice, formatProgressLine } from '../reporters/progress.js';
import { outputPathProblem, saveResultFile } from '../reporters/json.js';
import { shouldUseColor } from '../reporters/style.js';
import { formatRunReport } from '../reporters/terminal.js';
import type { ProgressSnapshot, RunResult } from '../result/schema.js';
import type { EventNotice } from '../engine/events.js';
import { describeExit } from '../result/event-exit.js';
import { run, stoppingEventFailed, thresholdsFailed } from '../engine/runner.js';
import { targetErrorOf } from '../engine/usability.js';
import { DEFAULT_CONCURRENCY, type RunOptions } from '../engine/options.js';
import { buildQuickScenario } from '../scenario/quick.js';
import { compileScenario, parseThresholds } from '../scenario/compile.js';
import { isAbortable } from '../metrics/thresholds.js';
import { loadScenario } from '../scenario/load.js';
import { RELOGIN_POLICIES, type EventSpec, type Scenario, type Stage } from '../scenario/types.js';
import { parseEventFlag, parseRate, parseStage, rateProblem } from '../scenario/values.js';
import { parseUserFlag, readUsersFile, type Credential } from '../scenario/users.js';
import { FlagIssues } from './flags.js';
import { parseSourceAddresses } from '../engine/limits.js';
import { PrometheusExporter } from './prometheus.js';
import { checkReportPaths, checkSameScenario, loadBaseline, regressionLimits, withRegression, writeRunReports, type ReportFlags } from './reports.js';
import { regressed, type RegressionLimits } from '../metrics/regression.js';
import type { Io } from './io.js';

/** Raw option values as commander hands them over (strings; repeatables as arrays). */
export interface RunFlags {
  target?: string;
  concurrency?: string;
  requests?: string;
  duration?: string;
  rampUp?: string;
  think?: string;
  timeout?: string;
  connections?: string;
  httpClient?: string;
  user?: string[];
  users?: string;
  loginForm?: string;
  loginAction?: string;
  usernameField?: string;
  passwordField?: string;
  nav?: string[];
  servedBy?: string;
  relogin?: string;
  keepCookie?: string[];
  label?: string;
  json?: string;
  rate?: string;
  threshold?: string[];
  maxVus?: string;
  workers?: string;
  insecure?: boolean;
  quiet?: boolean;
  at?: string[];
  stage?: string[];
  stopOnEventFailure?: boolean;
  abortOnFail?: boolean;
  baseline?: string;
  maxRegression?: string[];
  force?: boolean;
  html?: string;
  junit?: string;
  summaryMd?: string;
  shard?: string;
  startAt?: string;
  prometheusPort?: string;
  prometheusLinger?: string;
  sourceAddresses?: string;
  /** commander's --no-tls-resumption. */
  tlsResumption?: boolean;
  /** `run --validate`: one user, one pass, every step shown (see check.ts), instead of a load run. */
  validate?: boolean;
}

export const CONNECTION_MODES: readonly ConnectionMode[] = ['per-vu', 'shared', 'new'];
export { DEFAULT_CONCURRENCY };

/** `--rate 200`, `200/s`, `12000/m`: iterations per second. */
function parseRateFlag(f: FlagIssues, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = parseRate(value);
  if (n === undefined) f.add('--rate', rateProblem(value)!);
  return n;
}

/** `--stage 30s:20`, repeatable. */
function parseStages(f: FlagIssues, values: readonly string[] | undefined): Stage[] | undefined {
  if (values === undefined) return undefined;
  const out: Stage[] = [];
  for (const v of values) {
    const st = parseStage(v);
    if (typeof st === 'string') f.add('--stage', st);
    else out.push(st);
  }
  return out;
}

/** `--at 20s="kubectl rollout restart deploy/app"`, repeatable. */
function parseEvents(f: FlagIssues, values: readonly string[] | undefined, stopOnFailure: boolean): EventSpec[] {
  const out: EventSpec[] = [];
  for (const v of values ?? []) {
    const e = parseEventFlag(v);
    if (typeof e === 'string') f.add('--at', e);
    else out.push({ ...e, stopOnFailure });
  }
  if (stopOnFailure && out.length === 0) f.add('--stop-on-event-failure', 'only with --at');
  return out;
}

const isUrl = (s: string): boolean => /^https?:\/\//i.test(s);

/** Turns flags into a scenario and run options; every problem is reported at once (exit 2). */
/** `2/3`: shard 2 of 0..2. */
function parseShard(f: FlagIssues, value: string | undefined): { index: number; count: number } | undefined {
  if (value === undefined) return undefined;
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(value);
  const index = m ? Number(m[1]) : NaN;
  const count = m ? Number(m[2]) : NaN;
  if (!(count >= 1 && index >= 0 && index < count)) {
    f.add('--shard', `expected I/N with 0 <= I < N, such as 0/3 ($JOB_COMPLETION_INDEX/3 in a Kubernetes Indexed Job), got "${value}"`);
    return undefined;
  }
  return { index, count };
}

/** `2026-12-01T12:00:00Z` or epoch seconds / milliseconds: when to start (a barrier for shards). */
export function parseStartAt(f: FlagIssues, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const v = value.trim();
  let ms = /^\d{9,10}(?:\.\d+)?$/.test(v) ? Number(v) * 1000 : /^\d{12,13}$/.test(v) ? Number(v) : /^\d{4}-\d{2}-\d{2}T/.test(v) ? Date.parse(v) : NaN;
  if (!Number.isFinite(ms)) {
    f.add('--start-at', `expected a time such as 2026-12-01T12:00:00Z or epoch seconds (date +%s), got "${value}"`);
    return undefined;
  }
  ms = Math.round(ms);
  return ms;
}

export function resolveRunInput(positional: string | undefined, flags: RunFlags): { scenario: Scenario; options: RunOptions; limits: RegressionLimits; startAtMs: number | undefined; prometheus: { port: number; lingerMs: number } | undefined } {
  const f = new FlagIssues();
  const concurrency = f.int('--concurrency', flags.concurrency, 1, 1_000_000);
  const requests = f.int('--requests', flags.requests);
  const durationMs = f.duration('--duration', flags.duration);
  if (durationMs === 0) f.add('--duration', 'must be more than 0');
  const rampUpMs = f.duration('--ramp-up', flags.rampUp);
  const thinkMs = f.duration('--think', flags.think);
  const timeoutMs = f.duration('--timeout', flags.timeout);
  if (timeoutMs === 0) f.add('--timeout', 'must be more than 0');
  const connections = f.oneOf('--connections', flags.connections, CONNECTION_MODES);
  const httpClient = f.oneOf('--http-client', flags.httpClient, ['builtin', 'undici'] as const);
  const relogin = f.oneOf('--relogin', flags.relogin, RELOGIN_POLICIES);
  const target = f.url('--target', flags.target);
  const rate = parseRateFlag(f, flags.rate);
  const maxVus = f.int('--max-vus', flags.maxVus, 1, 1_000_000);
  const stages = parseStages(f, flags.stage);
  const events = parseEvents(f, flags.at, flags.stopOnEventFailure ?? false);
  const workers = flags.workers === 'auto' ? 'auto' : f.int('--workers', flags.workers, 1, 256);
  let thresholds = parseThresholds(flags.threshold ?? [], '--threshold', f.issues);
  if (flags.abortOnFail) {
    if (!thresholds.some(isAbortable)) {
      f.add('--abort-on-fail', 'no --threshold can stop the run early: it takes a count of the run that only grows, bounded from above, such as losses==0, failed<100 or users_affected<=2');
    }
    thresholds = thresholds.map((t) => (isAbortable(t) ? { ...t, abortOnFail: true } : t));
  }
  if (flags.json !== undefined) {
    const bad = outputPathProblem(flags.json);
    if (bad !== null) f.add('--json', bad);
  }
  checkReportPaths(f, flags);
  const shard = parseShard(f, flags.shard);
  let sourceAddresses: string[] | undefined;
  if (flags.sourceAddresses !== undefined) {
    const parsed = parseSourceAddresses(flags.sourceAddresses);
    if (typeof parsed === 'string') f.add('--source-addresses', parsed);
    else sourceAddresses = parsed;
  }
  const startAtMs = parseStartAt(f, flags.startAt);
  const prometheusPort = f.int('--prometheus-port', flags.prometheusPort, 0, 65535);
  const lingerMs = f.duration('--prometheus-linger', flags.prometheusLinger);
  if (lingerMs !== undefined && prometheusPort === undefined) f.add('--prometheus-linger', 'only with --prometheus-port');
  const limits = regressionLimits(f, flags.maxRegression);
  if (flags.maxRegression !== undefined && flags.baseline === undefined) f.add('--max-regression', 'only with --baseline FILE');
  if (flags.force && flags.baseline === undefined) f.add('--force', 'only with --baseline FILE');
  const users: Credential[] = [];
  for (const u of flags.user ?? []) {
    const c = parseUserFlag(u, f.issues);
    if (c) users.push(c);
  }
  if (flags.users !== undefined) users.push(...readUsersFile(flags.users, '--users', f.issues));

  const quickFlags = ['loginForm', 'loginAction', 'usernameField', 'passwordField', 'nav'] as const;
  let scenario: Scenario | undefined;
  if (positional === undefined) {
    f.add('(arguments)', 'give a scenario file or a URL, e.g. session-bench run http://127.0.0.1:8080/ -n 1000 -c 10');
  } else if (isUrl(positional)) {
    f.url('URL', positional);
    if (f.issues.length === 0) {
      const file = buildQuickScenario({
        url: target ?? positional,
        loginForm: flags.loginForm,
        loginAction: flags.loginAction,
        usernameField: flags.usernameField,
        passwordField: flags.passwordField,
        nav: flags.nav,
        servedByHeader: flags.servedBy,
      });
      if (flags.loginForm && users.length === 0) f.add('--user', 'quick mode with --login-form needs credentials: --user NAME:PASSWORD or --users FILE');
      if (!flags.loginForm && (flags.loginAction || flags.usernameField || flags.passwordField)) {
        f.add('--login-form', 'the login flags need --login-form PATH');
      }
      f.throwIfAny();
      // Built from flags, so of the file schema's shape by construction: compiled without the schema
      // pass (zod is not loaded for a quick run; see common/zod.ts).
      scenario = compileScenario(file, process.cwd(), 'command line', { users });
    }
  } else {
    for (const q of quickFlags) {
      if (flags[q] !== undefined) f.add(`--${q.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`, 'only for quick mode (a URL instead of a scenario file)');
    }
    f.throwIfAny();
    scenario = loadScenario(positional, { users });
    if (flags.servedBy) scenario = { ...scenario, session: { ...scenario.session, servedByHeader: flags.servedBy.toLowerCase() } };
  }
  if (scenario !== undefined && (relogin !== undefined || flags.keepCookie !== undefined)) {
    const session = scenario.session;
    scenario = {
      ...scenario,
      session: { ...session, relogin: relogin ?? session.relogin, keepCookies: new Set([...session.keepCookies, ...(flags.keepCookie ?? [])]) },
    };
  }
  if (maxVus !== undefined && rate === undefined && scenario?.load.rate == null) f.add('--max-vus', 'only with --rate (the open model)');
  f.throwIfAny();
  return {
    scenario: scenario!,
    limits,
    startAtMs,
    prometheus: prometheusPort === undefined ? undefined : { port: prometheusPort, lingerMs: lingerMs ?? 0 },
    options: {
      shard,
      sourceAddresses,
      tlsResumption: flags.tlsResumption ?? true,
      target,
      concurrency,
      stages,
      events,
      requests: requests ?? null,
      durationMs: durationMs ?? null,
      rampUpMs,
      thinkMs,
      timeoutMs,
      connections,
      httpClient,
      insecure: flags.insecure ?? false,
      rate: rate ?? null,
      maxVus: maxVus ?? null,
      workers,
      thresholds,
      label: flags.label,
    },
  };
}

/** Progress output of a run: live figures and event notices (see {@link progressPrinter}). */
export interface ProgressPrinter {
  onProgress?: (p: ProgressSnapshot) => void;
  onEvent: (n: EventNotice) => void;
  done(): void;
}

/**
 * Prints progress on stderr: redrawn once a second on a TTY, a plain line every 5 s otherwise; an event
 * line when an --at command starts and ends (even with -q: an operation on the system under test is
 * never silent). `prefix` starts every live line (the demo's row).
 */
export function progressPrinter(io: Io, quiet: boolean, prefix = ''): ProgressPrinter {
  // Redraw in place only on a real terminal; pipes, CI logs and TERM=dumb get plain lines.
  const tty = io.stderr.isTTY === true && io.env.TERM !== 'dumb';
  const color = shouldUseColor(io.stderr, io.env);
  let lastPlain = 0;
  let current = '';
  const onEvent = (n: EventNotice): void => {
    const line = formatEventNotice(n);
    io.stderr.write(tty && current !== '' ? `\r\x1b[2K${line}\n${current}` : `${line}\n`);
  };
  if (quiet) return { onEvent, done() {} };
  return {
    onEvent,
    onProgress(p) {
      const line = `${prefix}${formatProgressLine(p, { color })}`;
      if (tty) {
        current = line;
        io.stderr.write(`\r\x1b[2K${line}`);
      } else if (p.elapsedMs - lastPlain >= 5000) {
        lastPlain = p.elapsedMs;
        io.stderr.write(`${line}\n`);
      }
    },
    done() {
      if (current !== '') io.stderr.write('\r\x1b[2K');
      current = '';
    },
  };
}

/** Prints the report, writes the JSON, and maps the outcome to an exit code. */
export async function finishRun(io: Io, result: RunResult, jsonPath: string | undefined, reports: ReportFlags = {}): Promise<number> {
  io.stdout.write(formatRunReport(result, { color: shouldUseColor(io.stdout, io.env) }));
  let saveFailed = false;
  if (jsonPath) {
    const saved = await saveResultFile(jsonPath, result);
    if (saved.failure === null) io.stderr.write(`Result written to ${jsonPath}\n`);
    else {
      saveFailed = true;
      io.stderr.write(`session-bench: cannot write --json ${jsonPath} (${saved.failure}); the result was saved to ${saved.path} instead\n`);
    }
  }
  if (!(await writeRunReports(io, result, reports))) saveFailed = true;
  const targetError = targetErrorOf(result);
  if (targetError) {
    io.stderr.write(`session-bench: ${targetError.message}\n  hint: ${targetError.hint}\n`);
    return ExitCode.targetUnusable;
  }
  if (result.interrupted) return ExitCode.interrupted;
  const failedEvents = result.events.filter((e) => e.status === 'failed');
  for (const e of failedEvents) io.stderr.write(`session-bench: event at ${e.atMs / 1000}s failed (${describeExit(e)}): ${e.command}\n`);
  if (stoppingEventFailed(result)) return ExitCode.thresholdBreached;
  if (thresholdsFailed(result)) {
    const failed = result.thresholds!.filter((t) => !t.ok).map((t) => t.expression);
    io.stderr.write(`session-bench: threshold${failed.length > 1 ? 's' : ''} failed: ${failed.join(', ')}\n`);
    return ExitCode.thresholdBreached;
  }
  if (result.regression !== undefined && regressed(result.regression.checks)) {
    const failed = result.regression.checks.filter((c) => !c.ok).map((c) => `${c.figure} (${c.note})`);
    io.stderr.write(`session-bench: regression against ${result.regression.baseline}: ${failed.join(', ')}\n`);
    return ExitCode.thresholdBreached;
  }
  return saveFailed ? ExitCode.invalidInput : ExitCode.ok;
}

export async function runCommand(io: Io, positional: string | undefined, flags: RunFlags): Promise<number> {
  const { scenario, options, limits, startAtMs, prometheus } = resolveRunInput(positional, flags);
  // The baseline is read and checked before the run: a wrong file must not cost a whole run.
  const baseline = flags.baseline === undefined ? null : await loadBaseline(io, flags.baseline);
  if (baseline !== null) checkSameScenario(baseline, scenario.name, flags.baseline!, flags.force ?? false);
  const exporter = prometheus === undefined ? null : new PrometheusExporter(scenario.name, [...scenario.login, ...scenario.flow].map((s) => s.name));
  try {
    if (exporter !== null) io.stderr.write(`Prometheus metrics at ${await exporter.listen(prometheus!.port)}\n`);
    if (startAtMs !== undefined && !(await waitUntil(io, startAtMs, options.shard))) return ExitCode.interrupted;
    const progress = progressPrinter(io, flags.quiet ?? false);
    let result: RunResult;
    try {
      result = await run(scenario, options, { signal: io.signal, onProgress: progress.onProgress, onEvent: progress.onEvent, onLive: exporter ? (l) => exporter.update(l) : undefined });
    } finally {
      progress.done();
    }
    if (baseline !== null) result = withRegression(result, baseline, flags.baseline!, limits);
    exporter?.final(result);
    const code = await finishRun(io, result, flags.json, flags);
    if (exporter !== null && prometheus!.lingerMs > 0 && !io.signal.aborted) {
      // One more scrape interval, so that Prometheus reads the final figures before the process goes.
      io.stderr.write(`Prometheus metrics stay up for ${prometheus!.lingerMs / 1000}s\n`);
      await sleep(prometheus!.lingerMs, io.signal);
    }
    return code;
  } finally {
    await exporter?.close();
  }
}

/** Waits until `atMs` (the shards' start barrier); false when interrupted meanwhile. */
async function waitUntil(io: Io, atMs: number, shard: { index: number; count: number } | undefined): Promise<boolean> {
  const wait = atMs - Date.now();
  const who = shard === undefined ? '' : ` (shard ${shard.index}/${shard.count})`;
  if (wait <= 0) {
    if (wait < -1000) io.stderr.write(`session-bench: --start-at ${new Date(atMs).toISOString()} was ${(-wait / 1000).toFixed(1)}s ago; starting now${who}\n`);
    return true;
  }
  io.stderr.write(`session-bench: waiting ${(wait / 1000).toFixed(1)}s until ${new Date(atMs).toISOString()}${who}\n`);
  await sleep(wait, io.signal);
  return !io.signal.aborted;
}

/** Resolves after `ms`, or at once when `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
