/**
 * The command-line program: the only module that reads argv, and maps errors to exit codes. Commands
 * live in src/commands/; each returns an exit code.
 */
import { Command, CommanderError, Option } from 'commander';
import { ExitCode, SessionBenchError } from '../common/errors.js';
import { processIo, type Io } from './io.js';
import { CONNECTION_MODES, DEFAULT_CONCURRENCY, runCommand, type RunFlags } from './run.js';
import { VERSION } from '../common/version.js';
import { registerLabCommand } from './lab.js';
import { registerDemoCommand } from './demo.js';
import { registerCompareCommand } from './compare.js';
import { registerMatrixCommand } from './matrix.js';
import { registerMergeCommand } from './merge.js';
import { registerInitCommand } from './init.js';
import { checkCommand, registerCheckCommand } from './check.js';
import { collectRepeated } from './flags.js';

/** Adds the flags shared by `run` and the commands that run scenarios (demo, matrix). */
export function addLoadFlags(cmd: Command): Command {
  return cmd
    .option('-c, --concurrency <n>', `virtual users (default ${DEFAULT_CONCURRENCY})`)
    .option('-n, --requests <n>', 'total requests, login requests and redirects included')
    .option('-d, --duration <time>', 'run length with a unit, e.g. 30s, 2m (default 10s when -n is not given)')
    .option('--ramp-up <time>', 'start virtual users evenly over this time (default 0)')
    .option('--think <time>', 'pause between flow steps, e.g. 500ms (default 0)')
    .option('--timeout <time>', 'bound on each whole request: connect, headers and body (default 10s)')
    .addOption(new Option('--connections <mode>', 'per-vu (browser-like keep-alive), shared (one pool), new (a connection per request, like ab)').choices([...CONNECTION_MODES]).default(undefined))
    .addOption(new Option('--http-client <client>', 'builtin (the fast HTTP/1.1 client) or undici (an escape hatch for a target the built-in client handles worse)').choices(['builtin', 'undici']).default(undefined))
    .option('--user <name:password>', 'credentials, repeatable; replace the scenario users', collectRepeated)
    .option('--users <file>', 'CSV file with a header row username,password; replaces the scenario users')
    .option('--served-by <header>', 'response header that names the backend (e.g. x-served-by)')
    .addOption(new Option('--relogin <policy>', 'cookies kept when a VU logs in again after a loss: clear-session (drop what the login set, keep affinity cookies; default), keep, fresh').choices(['clear-session', 'keep', 'fresh']).default(undefined))
    .option('--keep-cookie <name>', "a cookie a re-login never drops (a load balancer's affinity cookie), repeatable", collectRepeated)
    .option('--rate <n>', 'open model: flow iterations started per second (e.g. 200 or 200/s), whatever the responses')
    .option('--max-vus <n>', 'open model: most virtual users at once (default: enough for a 5 s stall at the peak rate)')
    .option('--stage <time:target>', 'load shape, repeatable: ramp to TARGET VUs (iterations/s with --rate) over TIME, e.g. --stage 30s:20 --stage 1m:20 --stage 10s:0', collectRepeated)
    .option('--at <offset=command>', 'run a shell command at this moment of the run, repeatable: --at 20s="kubectl rollout restart deploy/app"', collectRepeated)
    .option('--stop-on-event-failure', 'stop the run (exit 1) when an --at command fails (default: report it and go on)')
    .option('--workers <n>', 'worker threads sharing the virtual users, or auto (= cores - 1); default 1')
    .option('--threshold <expr>', 'pass/fail criterion, repeatable: p99<200ms, retention>=99%, failed<1%, losses==0 (exit 1 when one fails)', collectRepeated)
    .option('--abort-on-fail', 'stop the run as soon as a --threshold on a growing count (losses==0, failed<100) can no longer pass')
    .option('--insecure', 'accept any TLS certificate')
    .option('--no-tls-resumption', 'a full TLS handshake on every new connection (default: resume the session, as browsers do)')
    .option('--source-addresses <list>', 'spread the connections over these local addresses: 127.0.0.1-127.0.0.8, or a list (more than ~28k connections to one target)')
    .option('-q, --quiet', 'no progress output');
}

export function buildProgram(io: Io, setExit: (code: number) => void): Command {
  const program = new Command('session-bench')
    .description('Load tester that logs in like a user and measures whether sessions survive when an app runs on several replicas')
    .version(VERSION)
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
    });

  addLoadFlags(
    program
      .command('run')
      .description('run a scenario file, or a URL in quick mode (ab-style)')
      .argument('[scenario]', 'scenario file (.yaml, .yml, .json) or a URL for quick mode'),
  )
    .option('--target <url>', "base URL; overrides the scenario's target")
    .option('--login-form <path>', 'quick mode: log in through the form at this path first')
    .option('--login-action <path>', 'quick mode: where the form is posted (default: the form path)')
    .option('--username-field <name>', 'quick mode: username field name (default username)')
    .option('--password-field <name>', 'quick mode: password field name (default password)')
    .option('--nav <path>', 'quick mode: page to visit after login, repeatable (in order)', collectRepeated)
    .option('--label <text>', 'name of this run in reports and comparisons')
    .option('--json <file>', 'write the result as versioned JSON (atomically)')
    .option('--baseline <file>', 'a result of the same scenario to compare with: a regression beyond its limit exits 1')
    .option('--max-regression <limit>', 'how much worse a figure may get than the baseline: 10% (rps, p95, p99), 1pp (error rate, retention, users logged out), or per figure p99=20%, retention=0.5pp; repeatable', collectRepeated)
    .option('--force', 'compare with a baseline of another scenario')
    .option('--html <file>', 'write a self-contained HTML report (charts over time, events, attribution, thresholds)')
    .option('--junit <file>', 'write JUnit XML: one test case per threshold and per regression check')
    .option('--summary-md <file>', 'write a Markdown summary (also appended to $GITHUB_STEP_SUMMARY when it is set)')
    .option('--shard <i/n>', "this generator's share of a test run by n generators (0-based i): its VUs and users come after the others'")
    .option('--start-at <time>', 'wait until this time before starting (2026-12-01T12:00:00Z or epoch seconds): a start barrier for shards')
    .option('--prometheus-port <port>', 'serve live metrics for Prometheus on this port (/metrics; 0 = any free port)')
    .option('--prometheus-linger <time>', 'keep serving the final metrics this long after the run (default 0s)')
    .option('--validate', 'do not load: one user logs in once and walks the flow once, every step shown (as session-bench check)')
    .action(async (scenario: string | undefined, flags: RunFlags) => {
      setExit(flags.validate ? await checkCommand(io, scenario, flags) : await runCommand(io, scenario, flags));
    });

  registerInitCommand(program, io, setExit);
  registerCheckCommand(program, io, setExit);
  registerDemoCommand(program, io, setExit);
  registerLabCommand(program, io, setExit);
  registerCompareCommand(program, io, setExit);
  registerMergeCommand(program, io, setExit);
  registerMatrixCommand(program, io, setExit, addLoadFlags);

  return program;
}

/** Runs the CLI; resolves to the exit code. Never throws for user mistakes. */
export async function main(argv: readonly string[]): Promise<number> {
  const ac = new AbortController();
  let signals = 0;
  const onSignal = (sig: NodeJS.Signals): void => {
    signals++;
    if (signals > 1) process.exit(sig === 'SIGINT' ? ExitCode.interrupted : ExitCode.terminated);
    process.stderr.write(`\nsession-bench: ${sig} received, stopping and writing partial results (again to quit now)\n`);
    ac.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // `session-bench ... | head`: the reader went away. Stop the work (labs are closed on the way out)
  // instead of dying on an unhandled EPIPE.
  const onPipeError = (err: NodeJS.ErrnoException): void => {
    if (err.code === 'EPIPE') ac.abort();
  };
  process.stdout.on('error', onPipeError);
  process.stderr.on('error', onPipeError);
  const io = processIo(ac.signal);
  let code: number = ExitCode.ok;
  try {
    const program = buildProgram(io, (c) => {
      code = c;
    });
    await program.parseAsync([...argv]);
  } catch (err) {
    code = handleError(io, err);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.stdout.off('error', onPipeError);
    process.stderr.off('error', onPipeError);
  }
  return code;
}

function handleError(io: Io, err: unknown): number {
  if (err instanceof CommanderError) {
    // Help and version exit 0; commander already printed its message for usage errors.
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return ExitCode.ok;
    return ExitCode.invalidInput;
  }
  if (err instanceof SessionBenchError) {
    io.stderr.write(`session-bench: ${err.message}\n${err.hint ? `  hint: ${err.hint}\n` : ''}`);
    return err.exitCode;
  }
  io.stderr.write(`session-bench: internal error (please report it):\n${(err as Error)?.stack ?? String(err)}\n`);
  return ExitCode.internalError;
}
