/**
 * `session-bench init URL`: discovers how the app logs in and how it says a session is gone (see
 * discover/discover.ts), prints each finding with how sure it is and why, and writes a commented scenario
 * that `run` takes unchanged. The password given with --user is written to the file (mode 0600) and never
 * printed.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { ExitCode } from '../common/errors.js';
import { discover, MAX_PROBE_REQUESTS, type Discovery } from '../discover/discover.js';
import type { Finding } from '../discover/findings.js';
import { outputPathProblem, writeTextFile } from '../reporters/json.js';
import { createStyle, shouldUseColor, type Style } from '../reporters/style.js';
import { parseUserFlag } from '../scenario/users.js';
import { scenarioYaml } from '../scenario/write.js';
import { REDACTED } from '../engine/secrets.js';
import { collectRepeated, FlagIssues } from './flags.js';
import type { Io } from './io.js';

export interface InitFlags {
  user?: string;
  out?: string;
  dryRun?: boolean;
  force?: boolean;
  page?: string[];
  login?: string;
  insecure?: boolean;
  timeout?: string;
  quiet?: boolean;
}

export const DEFAULT_SCENARIO_FILE = 'scenario.yaml';

export function registerInitCommand(program: Command, io: Io, setExit: (code: number) => void): void {
  program
    .command('init')
    .description("probe your app (a few dozen requests at most) and write a scenario: its login, its session cookie, how it says a session is gone, its pages")
    .argument('<url>', 'a page of the app, its login page, or a JSON login endpoint')
    .option('--user <name:password>', 'an account to log in with (needed to find the session and the lost-session signal)')
    .option('--out <file>', `where to write the scenario (default ${DEFAULT_SCENARIO_FILE})`)
    .option('--dry-run', 'print the scenario instead of writing it (the password shown as ***)')
    .option('--force', 'overwrite --out if it exists')
    .option('--page <path>', 'a page a logged-in user visits, repeatable: the first is checked for the lost-session signal (default: the landing page and its links)', collectRepeated)
    .option('--login <path>', 'the login page or JSON login endpoint, when the URL does not lead to it')
    .option('--insecure', 'accept any TLS certificate')
    .option('--timeout <time>', 'bound on each request (default 10s)')
    .option('-q, --quiet', 'do not list the requests on stderr')
    .action(async (url: string, flags: InitFlags) => {
      setExit(await initCommand(io, url, flags));
    });
}

export async function initCommand(io: Io, url: string, flags: InitFlags): Promise<number> {
  const f = new FlagIssues();
  f.url('URL', url);
  const user = flags.user !== undefined ? parseUserFlag(flags.user, f.issues) ?? null : null;
  const timeoutMs = f.duration('--timeout', flags.timeout) ?? 10_000;
  const out = resolve(io.cwd, flags.out ?? DEFAULT_SCENARIO_FILE);
  if (!flags.dryRun) {
    const bad = outputPathProblem(out);
    if (bad !== null) f.add('--out', bad);
    else if (existsSync(out) && !flags.force) f.add('--out', `${flags.out ?? DEFAULT_SCENARIO_FILE} exists; give another --out, or --force to overwrite it`);
  }
  if (flags.login !== undefined && !/^(https?:\/\/|\/)/i.test(flags.login)) f.add('--login', `expected a path starting with / or a URL, got "${flags.login}"`);
  for (const p of flags.page ?? []) if (!/^(https?:\/\/|\/)/i.test(p)) f.add('--page', `expected a path starting with / or a URL, got "${p}"`);
  f.throwIfAny();

  const style = createStyle(shouldUseColor(io.stdout, io.env));
  const errStyle = createStyle(shouldUseColor(io.stderr, io.env));
  if (!flags.quiet) io.stderr.write(errStyle.dim(`Probing ${url} (at most ${MAX_PROBE_REQUESTS} requests)\n`));
  const found = await discover({
    url,
    user,
    pages: flags.page ?? [],
    loginUrl: flags.login ?? null,
    insecure: flags.insecure ?? false,
    timeoutMs,
    onRequest: flags.quiet ? undefined : (method, path, outcome) => io.stderr.write(errStyle.dim(`  ${method} ${path} → ${outcome}\n`)),
  });
  io.stdout.write(formatFindings(found, style));

  const shownName = flags.out ?? DEFAULT_SCENARIO_FILE;
  // A scenario does not say --insecure: a self-signed app needs it on each command.
  const insecure = flags.insecure ? ' --insecure' : '';
  const header = [
    `Written by session-bench init ${url} (${found.requests} requests), ${new Date().toISOString().slice(0, 10)}.`,
    'Each comment says what init found and how sure it was; lines marked CHANGE are yours to check.',
    `Next: session-bench check ${shownName}${insecure}    (one user, one pass, every step shown)`,
    `Then: session-bench run ${shownName} -c 20 -d 1m${insecure}`,
  ];
  if (flags.dryRun) {
    const users = found.scenario.users;
    const shown = Array.isArray(users) ? { ...found.scenario, users: users.map((u) => ('password' in u ? { ...u, password: REDACTED } : u)) } : found.scenario;
    io.stdout.write(`\n${scenarioYaml(shown, header, found.comments)}`);
  } else {
    await writeTextFile(out, scenarioYaml(found.scenario, header, found.comments), 0o600);
    io.stdout.write(`\nWrote ${shownName}. Next:\n  session-bench check ${shownName}${insecure}\n  session-bench run ${shownName} -c 20 -d 1m${insecure}\n`);
  }
  if (found.loginWorks === false) {
    io.stderr.write('session-bench: the login failed with these credentials: fix users: (or --user) before a run\n');
    return ExitCode.targetUnusable;
  }
  return ExitCode.ok;
}

const MARK: Record<Finding['confidence'], (s: Style) => string> = {
  high: (s) => s.green('high'),
  medium: (s) => s.yellow('medium'),
  low: (s) => s.yellow('low'),
  'not found': (s) => s.red('not found'),
};

/** The findings, one block each: what, how sure, why, and the line to edit when it is not sure. */
export function formatFindings(d: Discovery, s: Style): string {
  const width = Math.max(...d.findings.map((x) => x.item.length));
  const lines = [s.bold('What init found'), ''];
  for (const x of d.findings) {
    lines.push(`  ${x.item.padEnd(width)}  ${x.value ?? '-'}  [${MARK[x.confidence](s)}]`);
    lines.push(`  ${' '.repeat(width)}  ${s.dim(x.why)}`);
    if (x.edit !== undefined && x.confidence !== 'high') lines.push(`  ${' '.repeat(width)}  ${s.cyan(`edit: ${x.edit}`)}`);
  }
  return `${lines.join('\n')}\n`;
}
