/**
 * `session-bench run [scenario|URL]`: parses flags into a Scenario and RunOptions, runs, prints the
 * report on stdout and progress on stderr, writes the JSON result, and returns the exit code.
 */
import { ExitCode } from '../common/errors.js';
import type { ConnectionMode } from '../engine/http/transport.js';
import { formatProgressLine } from '../reporters/progress.js';
import { outputPathProblem, saveResultFile } from '../reporters/json.js';
import { shouldUseColor } from '../reporters/style.js';
import { formatRunReport } from '../reporters/terminal.js';
import type { ProgressSnapshot, RunResult } from '../result/schema.js';
import { run, thresholdsFailed } from '../engine/runner.js';
import { targetErrorOf } from '../engine/usability.js';
import { type RunOptions } from '../engine/options.js';
import { buildQuickScenario } from '../scenario/quick.js';
import { compileScenario, parseThresholds } from '../scenario/compile.js';
import { loadScenario } from '../scenario/load.js';
import { RELOGIN_POLICIES, type Scenario } from '../scenario/types.js';
import { parseUserFlag, readUsersFile, type Credential } from '../scenario/users.js';
import { FlagIssues } from './flags.js';
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
}

export const CONNECTION_MODES: readonly ConnectionMode[] = ['per-vu', 'shared', 'new'];
export const DEFAULT_CONCURRENCY = 10;

/** `--rate 200`, `200/s`, `12000/m`: iterations per second. */
function parseRate(f: FlagIssues, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(?:\/\s*(s|sec|second|m|min|minute))?\s*$/i.exec(value);
  const n = m ? Number(m[1]) / (m[2] && m[2].toLowerCase().startsWith('m') ? 60 : 1) : NaN;
  if (!(n > 0)) {
    f.add('--rate', `expected iterations per second such as 200 or 200/s, got "${value}"`);
    return undefined;
  }
  return n;
}

const isUrl = (s: string): boolean => /^https?:\/\//i.test(s);

/** Turns flags into a scenario and run options; every problem is reported at once (exit 2). */
export function resolveRunInput(positional: string | undefined, flags: RunFlags): { scenario: Scenario; options: RunOptions } {
  const f = new FlagIssues();
  const concurrency = f.int('--concurrency', flags.concurrency, 1, 1_000_000) ?? DEFAULT_CONCURRENCY;
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
  const rate = parseRate(f, flags.rate);
  const maxVus = f.int('--max-vus', flags.maxVus, 1, 1_000_000);
  if (maxVus !== undefined && rate === undefined) f.add('--max-vus', 'only with --rate (the open model)');
  const workers = flags.workers === 'auto' ? 'auto' : f.int('--workers', flags.workers, 1, 256);
  const thresholds = parseThresholds(flags.threshold ?? [], '--threshold', f.issues);
  if (flags.json !== undefined) {
    const bad = outputPathProblem(flags.json);
    if (bad !== null) f.add('--json', bad);
  }
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
  f.throwIfAny();
  return {
    scenario: scenario!,
    options: {
      target,
      concurrency,
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

/** Prints progress on stderr: redrawn once a second on a TTY, a plain line every 5 s otherwise. */
export function progressPrinter(io: Io, quiet: boolean): { onProgress?: (p: ProgressSnapshot) => void; done(): void } {
  if (quiet) return { done() {} };
  // Redraw in place only on a real terminal; pipes, CI logs and TERM=dumb get plain lines.
  const tty = io.stderr.isTTY === true && io.env.TERM !== 'dumb';
  const color = shouldUseColor(io.stderr, io.env);
  let lastPlain = 0;
  let drew = false;
  return {
    onProgress(p) {
      const line = formatProgressLine(p, { color });
      if (tty) {
        io.stderr.write(`\r\x1b[2K${line}`);
        drew = true;
      } else if (p.elapsedMs - lastPlain >= 5000) {
        lastPlain = p.elapsedMs;
        io.stderr.write(`${line}\n`);
      }
    },
    done() {
      if (drew) io.stderr.write('\r\x1b[2K');
    },
  };
}

/** Prints the report, writes the JSON, and maps the outcome to an exit code. */
export async function finishRun(io: Io, result: RunResult, jsonPath: string | undefined): Promise<number> {
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
  const targetError = targetErrorOf(result);
  if (targetError) {
    io.stderr.write(`session-bench: ${targetError.message}\n  hint: ${targetError.hint}\n`);
    return ExitCode.targetUnusable;
  }
  if (result.interrupted) return ExitCode.interrupted;
  if (thresholdsFailed(result)) {
    const failed = result.thresholds!.filter((t) => !t.ok).map((t) => t.expression);
    io.stderr.write(`session-bench: threshold${failed.length > 1 ? 's' : ''} failed: ${failed.join(', ')}\n`);
    return ExitCode.thresholdBreached;
  }
  return saveFailed ? ExitCode.invalidInput : ExitCode.ok;
}

export async function runCommand(io: Io, positional: string | undefined, flags: RunFlags): Promise<number> {
  const { scenario, options } = resolveRunInput(positional, flags);
  const progress = progressPrinter(io, flags.quiet ?? false);
  let result: RunResult;
  try {
    result = await run(scenario, options, { signal: io.signal, onProgress: progress.onProgress });
  } finally {
    progress.done();
  }
  return finishRun(io, result, flags.json);
}
