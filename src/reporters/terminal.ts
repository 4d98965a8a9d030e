/**
 * The end-of-run report printed by `session-bench run`: ab's figures with ab's labels (so ab users can read
 * it at a glance), then what ab cannot tell: whether logged-in requests kept their session, then per step.
 */
import Table from 'cli-table3';
import { ERROR_KINDS } from '../result/constants.js';
import type { LossEvent, RunResult, StepResult } from '../result/schema.js';
import { abFigures, formatCount, formatMs, formatRatioPct } from './format.js';
import { attributionLines, eventsBlock, timelineBlock, usersAffectedText } from './operations.js';
import { regressionFigureName, regressionLimitText, regressionValueText, thresholdActualText } from './verdict.js';
import { NO_ROW_SEPARATORS, createStyle, type Style } from './style.js';

/** Options for {@link formatRunReport}. */
export interface RunReportOptions {
  /** Add ANSI colors; decided by the caller (see `shouldUseColor`). */
  color: boolean;
  /** Loss events listed before "(N more)"; default 5. */
  maxLossEvents?: number;
}

/** ab pads every label to 24 columns ("Concurrency Level:      10"). */
const LABEL_WIDTH = 24;
const field = (label: string, value: string): string => `${`${label}:`.padEnd(LABEL_WIDTH)}${value}`;
const indent = ' '.repeat(LABEL_WIDTH);

/** Error kinds always shown in the "Failed requests" breakdown, like ab's fixed four; others when non-zero. */
const ALWAYS_SHOWN_ERRORS = new Set(['refused', 'reset', 'timeout']);

/**
 * Formats the whole end-of-run report. Pure: no I/O, no environment reads.
 *
 * @returns multi-line text ending with a newline; without ANSI codes when `opts.color` is false.
 */
export function formatRunReport(result: RunResult, opts: RunReportOptions): string {
  const s = createStyle(opts.color);
  const parts = [
    abBlock(result, s),
    percentileBlock(result),
    droppedBlock(result, s),
    sessionBlock(result, s, opts.maxLossEvents ?? 5),
    eventsBlock(result, s),
    timelineBlock(result, s),
    stepBlock(result.steps, s),
    thresholdBlock(result, s),
    regressionBlock(result, s),
  ].filter((p) => p !== '');
  return `${parts.join('\n\n')}\n`;
}

function abBlock(r: RunResult, s: Style): string {
  const ab = abFigures(r);
  const lines: string[] = [];
  if (r.interrupted) {
    const why = r.stopReason ? ` (${r.stopReason})` : '';
    lines.push(s.yellow(s.bold(field('Interrupted', `partial results${why}`))));
  }
  if (r.unusable) lines.push(s.red(s.bold(field('Target unusable', r.unusable))));
  lines.push(field('Target', r.target), field('Scenario', r.scenario));
  if (r.label.trim() !== '') lines.push(field('Label', r.label));
  lines.push('');

  lines.push(field('Concurrency Level', String(r.options.concurrency)));
  if (r.options.rate !== null) {
    lines.push(field('Rate', `${r.options.rate} iterations/s (open model)`));
    const dropped = formatCount(r.droppedIterations);
    lines.push(field('Dropped iterations', r.droppedIterations > 0 ? s.red(s.bold(`${dropped} (not sent: every VU was busy; see below)`)) : dropped));
  }
  lines.push(field('Time taken for tests', `${ab.seconds.toFixed(3)} seconds`));
  lines.push(field('Complete requests', String(ab.complete)));

  const failed = r.requests.failed;
  lines.push(field('Failed requests', failed > 0 ? s.red(String(failed)) : String(failed)));
  if (failed > 0) {
    // ab prints its own four causes here; ours are transport error kinds plus failed expectations,
    // which are the failures that got a response.
    const errors = r.requests.errors;
    const transport = ERROR_KINDS.reduce((sum, k) => sum + errors[k], 0);
    const shown = ERROR_KINDS.filter((k) => ALWAYS_SHOWN_ERRORS.has(k) || errors[k] > 0).map(
      (k) => `${k}: ${errors[k]}`,
    );
    shown.push(`expectation: ${Math.max(0, failed - transport)}`);
    lines.push(`   (${shown.join(', ')})`);
  }
  if (r.requests.non2xx > 0) lines.push(field('Non-2xx responses', String(r.requests.non2xx)));
  const statuses = Object.entries(r.requests.byStatus).sort(([a], [b]) => Number(a) - Number(b));
  if (statuses.length > 0) lines.push(field('Status codes', statuses.map(([code, n]) => `${code}: ${formatCount(n)}`).join(', ')));
  if (r.requests.aborted > 0) {
    lines.push(field('Aborted requests', `${r.requests.aborted} (in flight when the run stopped; no answer, not counted above)`));
  }
  if (r.requests.retries > 0) {
    lines.push(field('Retried requests', `${r.requests.retries} (the server closed a kept-alive connection under them; sent again on a new one, not errors)`));
  }
  lines.push(field('Total transferred', `${Math.round(r.bytes.received)} bytes`));
  lines.push(field('Requests per second', `${ab.rps.toFixed(2)} [#/sec] (mean)`));
  lines.push(field('Time per request', `${ab.timePerRequestMs.toFixed(3)} [ms] (mean)`));
  lines.push(
    field(
      'Time per request',
      `${ab.timePerRequestAcrossMs.toFixed(3)} [ms] (mean, across all concurrent requests)`,
    ),
  );
  lines.push(field('Transfer rate', `${ab.transferKBps.toFixed(2)} [Kbytes/sec] received`));
  if (r.generator !== undefined) {
    lines.push(field('Generator', `${(r.generator.cpuMs / 1000).toFixed(2)} s CPU, ${r.generator.maxRssMb} MB peak memory (this process)`));
  }
  return lines.join('\n');
}

/**
 * Dropped iterations said loudly, next to the latency: requests the test meant to send and could not
 * (every VU was busy, the server stalled). The percentiles above do not include them, so a stall reads
 * as "fast" unless this is read.
 */
function droppedBlock(r: RunResult, s: Style): string {
  if (r.options.rate === null || r.droppedIterations === 0) return '';
  const started = r.session.flowIterations + r.droppedIterations;
  const pct = started > 0 ? ` (${((r.droppedIterations / started) * 100).toFixed(1)}% of the iterations due)` : '';
  return s.red(
    s.bold(
      `WARNING: ${formatCount(r.droppedIterations)} iterations were dropped${pct}: the test meant to start them and could not, ` +
        `because all ${formatCount(r.options.maxVus ?? r.options.concurrency)} VUs were busy.\n` +
        'The latency above does not include them: the server was slower than these figures say. ' +
        'Raise --max-vus, or lower --rate, and see the dropped column of the timeline.',
    ),
  );
}

function percentileBlock(r: RunResult): string {
  const title = 'Percentage of the requests served within a certain time (ms)';
  const l = r.latency;
  if (l.count === 0) return `${title}\n  (no responses)`;
  const rows: Array<[string, number]> = [
    ['50%', l.p50],
    ['66%', l.p66],
    ['75%', l.p75],
    ['80%', l.p80],
    ['90%', l.p90],
    ['95%', l.p95],
    ['98%', l.p98],
    ['99%', l.p99],
    ['99.9%', l.p999],
    ['100%', l.max],
  ];
  const values = rows.map(([, v]) => formatMs(v));
  const width = Math.max(7, ...values.map((v) => v.length));
  const lines = rows.map(([p], i) => `${p.padStart(5)}  ${values[i]!.padStart(width)}`);
  lines[lines.length - 1] += ' (longest request)';
  return [title, ...lines].join('\n');
}


function thresholdBlock(r: RunResult, s: Style): string {
  const ts = r.thresholds ?? [];
  if (ts.length === 0) return '';
  const lines = [s.bold('Thresholds')];
  for (const t of ts) {
    const mark = t.ok ? s.green('✓ pass') : s.red('✗ FAIL');
    lines.push(`  ${mark}  ${t.expression.padEnd(24)} (${t.actual === null ? 'not measured' : `actual ${thresholdActualText(t)}`})`);
  }
  return lines.join('\n');
}

/** The regression block alone (compare --fail-on-regression prints one per run). */
export function formatRegressionChecks(result: RunResult, opts: { color: boolean }): string {
  const text = regressionBlock(result, createStyle(opts.color));
  return text === '' ? '' : `${text}\n`;
}

/** This run against the baseline, figure by figure, with why a check failed. */
function regressionBlock(r: RunResult, s: Style): string {
  const reg = r.regression;
  if (reg === undefined) return '';
  const rows = reg.checks.map((c) => [regressionFigureName(c), regressionValueText(c, c.baseline), regressionValueText(c, c.actual), c.note, `at most ${regressionLimitText(c)}`]);
  const widths = [0, 1, 2, 3].map((i) => Math.max(...rows.map((row) => row[i]!.length)));
  const lines = [s.bold(`Against the baseline ${reg.baseline}`)];
  reg.checks.forEach((c, i) => {
    const row = rows[i]!;
    const text = `${row[0]!.padEnd(widths[0]!)}  ${row[1]!.padStart(widths[1]!)} -> ${row[2]!.padStart(widths[2]!)}  ${row[3]!.padEnd(widths[3]!)}  ${s.dim(`(${row[4]})`)}`;
    lines.push(`  ${c.ok ? s.green('✓ pass') : s.red('✗ FAIL')}  ${text}`);
  });
  return lines.join('\n');
}

function sessionBlock(r: RunResult, s: Style, maxLossEvents: number): string {
  const ss = r.session;
  if (!ss.tracked) return s.dim('Session: not tracked (no login in this scenario)');

  const lines = [s.bold('Session')];
  const loginFailures = ss.loginFailures > 0 ? s.red(`${ss.loginFailures} failed`) : '0 failed';
  lines.push(field('Logins', `${ss.logins} (${loginFailures})`));
  const reasons = Object.entries(ss.loginFailureReasons).sort((a, b) => b[1] - a[1]);
  for (const [reason, n] of reasons.slice(0, 3)) lines.push(`   ${s.red(`${n} x`)} ${reason}`);
  if (reasons.length > 3) lines.push(`   (${reasons.length - 3} more reasons in the JSON result)`);
  if (ss.stillLoggedIn > 0) {
    lines.push(field('Still logged in', s.yellow(`${ss.stillLoggedIn} re-logins found the session still valid (the login page sent them on): check the loss rules`)));
  }
  lines.push(field('Session losses', ss.losses > 0 ? s.red(String(ss.losses)) : String(ss.losses)));
  const affected = usersAffectedText(r);
  if (affected !== null) {
    const most = ss.users.maxLosses > 1 ? `; the most for one user: ${ss.users.maxLosses}` : '';
    lines.push(field('Users affected', ss.users.affected > 0 ? s.red(`${affected}${most}`) : affected));
  }
  if (ss.silentRegenerations > 0) {
    lines.push(field('Silent regenerations', s.yellow(`${formatCount(ss.silentRegenerations)} answers replaced the session cookie without a redirect to login (a cart or a form can be lost this way)`)));
  }

  const retentionLine = (label: string, ratio: number | null, none: string, detail: string): string =>
    field(label, ratio === null ? `n/a (${none})` : `${colorRetention(s, ratio, formatRatioPct(ratio))} (${detail})`);
  lines.push(
    retentionLine('Session retention', ss.retention, 'no logged-in requests', `${ss.flowRequestsKept} of ${ss.flowRequests} logged-in requests kept their session`),
    retentionLine('Flow retention', ss.flowRetention, 'no completed iterations', `${ss.flowIterationsKept} of ${ss.flowIterations} iterations completed without a loss`),
  );

  const backends = Object.entries(r.backends).sort(([a], [b]) =>
    a.localeCompare(b, 'en', { numeric: true }),
  );
  if (backends.length > 0) {
    const total = backends.reduce((sum, [, n]) => sum + n, 0);
    const nameWidth = Math.max(...backends.map(([n]) => n.length));
    const countWidth = Math.max(...backends.map(([, c]) => String(c).length));
    backends.forEach(([name, count], i) => {
      const pct = total > 0 ? ((count / total) * 100).toFixed(1) : '0.0';
      const text = `${name.padEnd(nameWidth)}  ${String(count).padStart(countWidth)}  ${pct.padStart(5)}%`;
      lines.push(i === 0 ? field('Backends', text) : indent + text);
    });
  }

  lines.push(...attributionLines(r, s, field, indent));

  const events = ss.lossEvents;
  if (events.length > 0) {
    const total = Math.max(ss.losses, events.length + ss.lossEventsDropped);
    const shown = events.slice(0, Math.max(0, maxLossEvents));
    lines.push(field('Loss events', `first ${shown.length} of ${total}`));
    for (const e of shown) lines.push(`  ${formatLossEvent(e, r)}`);
    if (total > shown.length) lines.push(s.dim(`  (${total - shown.length} more)`));
  }
  return lines.join('\n');
}

/** green only when nothing was lost; yellow for small losses; red otherwise. */
function colorRetention(s: Style, ratio: number, text: string): string {
  if (ratio >= 1) return s.green(text);
  if (ratio >= 0.99) return s.yellow(text);
  return s.red(text);
}

/** `+1.234s  vu 3  GET /owners  302 -> login page  answered by replica-2, logged in on replica-1` */
function formatLossEvent(e: LossEvent, r: RunResult): string {
  const step = r.steps.find((st) => st.name === e.step);
  const path = displayUrl(e.url, r.target);
  const method = e.method ?? step?.method;
  const request = method !== undefined ? `${method} ${path}` : `${e.step} ${path}`;
  const how =
    e.reason === 'redirect-to-login'
      ? `${e.status} -> ${e.location ? displayUrl(e.location, r.target) : 'login page'}`
      : e.reason === 'body-match'
        ? `${e.status} login form`
        : String(e.status);
  const where = [
    e.backend !== null ? `answered by ${e.backend}` : null,
    e.loginBackend !== null ? `logged in on ${e.loginBackend}` : null,
  ]
    .filter((x) => x !== null)
    .join(', ');
  const parts = [`+${(e.atMs / 1000).toFixed(3)}s`, `vu ${e.vu}`, request, how];
  if (where !== '') parts.push(where);
  return parts.join('  ');
}

/** The path alone when the URL is on the target's origin: shorter, and the origin is printed above. */
function displayUrl(url: string, target: string): string {
  try {
    const u = new URL(url);
    if (u.origin === new URL(target).origin) return `${u.pathname}${u.search}`;
  } catch {
    // not an absolute URL (or a bad target): show it as recorded
  }
  return url;
}

/** `login  POST /login`; the method is not repeated when the step name already starts with it. */
function stepLabel(st: StepResult): string {
  const named = st.name.toUpperCase().startsWith(`${st.method.toUpperCase()} `)
    ? st.name
    : `${st.method} ${st.name}`;
  return `${st.phase.padEnd(5)}  ${named}`;
}

function stepBlock(steps: readonly StepResult[], s: Style): string {
  if (steps.length === 0) return '';
  const head = ['Step', 'Requests', 'Failed', 'Losses', 'Mean', 'p50', 'p95', 'p99', 'Max'];
  // Styles are applied by us, never by cli-table3's own color library, so `color: false` means no ANSI.
  const table = new Table({
    head: head.map((h) => s.bold(h)),
    style: { head: [], border: [] },
    chars: NO_ROW_SEPARATORS,
    colAligns: ['left', 'right', 'right', 'right', 'right', 'right', 'right', 'right', 'right'],
  });
  for (const st of steps) {
    const l = st.latency;
    table.push([
      stepLabel(st),
      String(st.requests),
      st.failed > 0 ? s.red(String(st.failed)) : String(st.failed),
      st.losses > 0 ? s.red(String(st.losses)) : String(st.losses),
      formatMs(l.mean),
      formatMs(l.p50),
      formatMs(l.p95),
      formatMs(l.p99),
      formatMs(l.max),
    ]);
  }
  return `${s.bold('Steps')} ${s.dim('(latency in ms)')}\n${table.toString()}`;
}
