/**
 * `session-bench check scenario.yaml` (and `run --validate`): does this scenario work against the app?
 * One user logs in once and walks the flow once (engine/walk.ts); each step's status, redirects and
 * cookies are printed, then whether the loss rule fires once the session is taken away. Exit 0 when the
 * login works, every flow step keeps the session and the loss rule fires; 1 when a step fails or the rule
 * does not fire; 3 when the login fails.
 */
import type { Command } from 'commander';
import { ExitCode } from '../common/errors.js';
import { secretsOf, REDACTED } from '../engine/secrets.js';
import type { HopTrace } from '../engine/vu-shared.js';
import { walkOnce, type StepWalk, type Walk } from '../engine/walk.js';
import { createStyle, shouldUseColor, type Style } from '../reporters/style.js';
import type { Scenario } from '../scenario/types.js';
import type { Io } from './io.js';
import { resolveRunInput, type RunFlags } from './run.js';
import { collectRepeated } from './flags.js';

export function registerCheckCommand(program: Command, io: Io, setExit: (code: number) => void): void {
  program
    .command('check')
    .description('one user logs in once and walks the flow once: every step, its cookies, and whether the loss rule fires without the session')
    .argument('<scenario>', 'scenario file (.yaml, .yml, .json)')
    .option('--target <url>', "base URL; overrides the scenario's target")
    .option('--user <name:password>', 'credentials; replace the scenario users', collectRepeated)
    .option('--users <file>', 'CSV file with a header row username,password; its first user is used')
    .option('--served-by <header>', 'response header that names the backend')
    .option('--timeout <time>', 'bound on each request (default 10s)')
    .option('--insecure', 'accept any TLS certificate')
    .action(async (scenario: string, flags: RunFlags) => {
      setExit(await checkCommand(io, scenario, flags));
    });
}

export async function checkCommand(io: Io, positional: string | undefined, flags: RunFlags): Promise<number> {
  const { scenario, options } = resolveRunInput(positional, { ...flags, validate: undefined });
  const walk = await walkOnce(scenario, options);
  const secrets = secretsOf(scenario, walk.target);
  const redact = (text: string): string => secrets.reduce((t, s) => t.split(s).join(REDACTED), text);
  const { text, code } = formatWalk(walk, scenario, createStyle(shouldUseColor(io.stdout, io.env)));
  io.stdout.write(redact(text));
  return code;
}

const MAX_COOKIES_SHOWN = 6;

function hopLine(h: HopTrace, s: Style): string {
  const status = h.status === 0 ? s.red('no answer') : h.status >= 400 ? s.red(String(h.status)) : String(h.status);
  const to = h.location !== null ? ` → ${h.location}` : '';
  const cookies = h.cookies.length > 0 ? `  set ${h.cookies.slice(0, MAX_COOKIES_SHOWN).join(', ')}${h.cookies.length > MAX_COOKIES_SHOWN ? ', ...' : ''}` : '';
  const backend = h.backend !== null ? s.dim(`  [${h.backend}]`) : '';
  return `${h.method} ${h.url}  ${status}${to}${cookies}${backend}`;
}

function verdictOf(h: HopTrace, s: Style): string {
  switch (h.outcome) {
    case 'ok':
      return s.green('ok');
    case 'still logged in':
      return s.green('ok (already logged in)');
    case 'lost':
      return s.red(`SESSION LOST (${h.reason ?? 'loss rule'})`);
    case 'failed':
    case 'no response':
      return s.red(`FAILED: ${h.reason ?? ''}`);
    case 'redirect':
      return s.dim('followed');
    case 'stopped':
      return s.yellow('stopped');
  }
}

function stepLines(phase: string, w: StepWalk, s: Style): string[] {
  if (w.hops.length === 0) return [`  ${phase}  ${w.step.name}  ${s.red('not sent')}`];
  return w.hops.map((h, i) => `  ${i === 0 ? phase : ' '.repeat(phase.length)}  ${i === 0 ? '' : '↳ '}${hopLine(h, s)}  ${verdictOf(h, s)}`);
}

const RULE_NAMES: Record<string, string> = {
  'redirect-to-login': 'a redirect to session.loginPath',
  status: 'session.lostStatus',
  'body-match': 'session.lostBodyMatch',
};

/** The walk, step by step, and the verdict with its exit code. */
export function formatWalk(w: Walk, scenario: Scenario, s: Style): { text: string; code: number } {
  const lines = [s.bold(`Checking ${scenario.name} against ${w.target}${w.username !== null ? ` as ${w.username}` : ''} (one user, one pass)`), ''];
  for (const step of w.login) lines.push(...stepLines('login', step, s));
  const last = (x: StepWalk): HopTrace | undefined => x.hops[x.hops.length - 1];
  if (!w.loggedIn) {
    const why = w.login.map(last).find((h) => h !== undefined && h.outcome !== 'ok' && h.outcome !== 'redirect');
    lines.push('', s.red(`The login failed${why?.reason ? `: ${why.reason}` : ''}.`), 'Check users: (or --user), the login steps, and their expect:. A run would count every request as a failed login.');
    return { text: `${lines.join('\n')}\n`, code: ExitCode.targetUnusable };
  }
  for (const step of w.flow ?? []) lines.push(...stepLines('flow ', step, s));
  const problems: string[] = [];
  const flow = w.flow ?? [];
  const lostAt = flow.find((x) => last(x)?.outcome === 'lost');
  const failed = flow.filter((x) => ['failed', 'no response'].includes(last(x)?.outcome ?? ''));
  if (lostAt !== undefined) {
    const h = last(lostAt)!;
    problems.push(`${lostAt.step.name} was judged a lost session right after the login (${RULE_NAMES[h.reason ?? ''] ?? h.reason}): either the app does lose it (several replicas without shared sessions?), or the rule also matches a logged-in page; check session:`);
  }
  for (const x of failed) problems.push(`${x.step.name} failed: ${last(x)?.reason ?? ''}`);
  lines.push('');
  if (w.lossCheck !== null) {
    const h = last(w.lossCheck.walk);
    const what = `Without the session (${w.lossCheck.dropped.join(', ') || 'nothing to drop'}), ${w.lossCheck.walk.step.name}`;
    if (h !== undefined && h.outcome === 'lost') lines.push(`${what} → ${h.status}${h.location !== null ? ` ${h.location}` : ''}: the loss rule fires (${RULE_NAMES[h.reason ?? ''] ?? h.reason}) ${s.green('ok')}`);
    else {
      lines.push(`${what} → ${h === undefined ? 'not sent' : hopLine(h, s)}: ${s.red('the loss rule does not fire')}`);
      problems.push('a lost session would be counted as kept: set session.loginPath, lostStatus or lostBodyMatch to what the app answers without a session (session-bench init URL finds it)');
    }
  } else if (lostAt === undefined) lines.push(s.yellow('No login steps: there is no session to lose, so the loss rule cannot be checked.'));
  if (problems.length > 0) {
    lines.push('', s.red('The scenario does not work yet:'), ...problems.map((p) => `  - ${p}`));
    return { text: `${lines.join('\n')}\n`, code: ExitCode.thresholdBreached };
  }
  lines.push('', s.green(`The scenario works: logged in, ${flow.length} flow step${flow.length === 1 ? '' : 's'} kept the session${w.lossCheck !== null ? ', and a lost session is detected' : ''}.`));
  return { text: `${lines.join('\n')}\n`, code: ExitCode.ok };
}
