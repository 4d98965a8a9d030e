/**
 * The Markdown summary of a run (`--summary-md`, and `$GITHUB_STEP_SUMMARY` in GitHub Actions): the
 * verdict first, then the figures a reviewer reads in a pull request, the thresholds, the regression
 * checks and the events. Pure: a result in, Markdown out; every figure is the JSON's own.
 */
import type { RunResult } from '../result/schema.js';
import { abFigures, formatCount, formatMs, formatRatioPct } from './format.js';
import { regressionFigureName, regressionLimitText, regressionValueText, thresholdActualText } from './verdict.js';

const esc = (s: string): string => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
const row = (cells: readonly string[]): string => `| ${cells.map(esc).join(' | ')} |`;
const table = (head: readonly string[], rows: readonly (readonly string[])[]): string =>
  [row(head), `|${head.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`, ...rows.map(row)].join('\n');

/** Whether the run passed its gate: no failed threshold or regression check, no failing stop event. */
export function gatePassed(r: RunResult): boolean {
  return !(r.thresholds ?? []).some((t) => !t.ok) && !(r.regression?.checks ?? []).some((c) => !c.ok) && !r.events.some((e) => e.status === 'failed' && e.stopOnFailure) && !r.unusable && !r.interrupted;
}

export function formatMarkdownSummary(r: RunResult): string {
  const ab = abFigures(r);
  const ss = r.session;
  const passed = gatePassed(r);
  const failedThresholds = (r.thresholds ?? []).filter((t) => !t.ok).length;
  const failedChecks = (r.regression?.checks ?? []).filter((c) => !c.ok).length;
  const why = [
    failedThresholds > 0 ? `${failedThresholds} threshold${failedThresholds === 1 ? '' : 's'} failed` : '',
    failedChecks > 0 ? `${failedChecks} regression check${failedChecks === 1 ? '' : 's'} failed` : '',
    r.unusable ? `target unusable: ${r.unusable}` : '',
    r.interrupted ? 'interrupted' : '',
    r.stopReason && !r.interrupted && !r.unusable ? `stopped: ${r.stopReason}` : '',
  ].filter((x) => x !== '');
  const lines = [
    `## session-bench: ${esc(r.label || r.scenario)} ${passed ? '✅ passed' : '❌ failed'}`,
    '',
    why.length > 0 ? `**${esc(why.join('; '))}**\n` : '',
    table(
      ['figure', 'value'],
      [
        ['Requests', formatCount(r.requests.total)],
        ['Requests/sec', ab.rps.toFixed(2)],
        ['p50 / p95 / p99', r.latency.count === 0 ? 'not measured' : `${formatMs(r.latency.p50)} / ${formatMs(r.latency.p95)} / ${formatMs(r.latency.p99)} ms`],
        ['Failed requests', `${formatCount(r.requests.failed)}${r.requests.total > 0 ? ` (${formatRatioPct(r.requests.failed / r.requests.total)})` : ''}`],
        ...(ss.tracked
          ? [
              ['Session retention', ss.retention === null ? 'not measured' : formatRatioPct(ss.retention)],
              ['Users logged out', `${formatCount(ss.users.affected)} of ${formatCount(ss.users.total)}`],
              ['Session losses', formatCount(ss.losses)],
            ]
          : []),
        ...(r.options.rate !== null ? [['Dropped iterations', formatCount(r.droppedIterations)]] : []),
      ],
    ),
  ];
  const ts = r.thresholds ?? [];
  if (ts.length > 0) {
    lines.push('', '### Thresholds', '', table(['threshold', 'measured', 'result'], ts.map((t) => [t.expression, thresholdActualText(t), t.ok ? '✅ pass' : '❌ fail'])));
  }
  if (r.regression !== undefined) {
    lines.push(
      '',
      `### Against the baseline \`${esc(r.regression.baseline)}\``,
      '',
      table(
        ['figure', 'baseline', 'this run', 'change', 'allowed', 'result'],
        r.regression.checks.map((c) => [regressionFigureName(c), regressionValueText(c, c.baseline), regressionValueText(c, c.actual), c.note, regressionLimitText(c), c.ok ? '✅ pass' : '❌ fail']),
      ),
    );
  }
  if (r.events.length > 0) {
    lines.push(
      '',
      '### Events',
      '',
      table(
        ['event', 'status', 'losses during / after', 'retention during'],
        r.events.map((e) => [`${(e.atMs / 1000).toFixed(1)}s: \`${e.command}\``, e.status, `${e.windows.during?.losses ?? '-'} / ${e.windows.after?.losses ?? '-'}`, e.windows.during?.retention == null ? '-' : formatRatioPct(e.windows.during.retention)]),
      ),
    );
  }
  return `${lines.filter((l, i) => l !== '' || lines[i - 1] !== '').join('\n')}\n`;
}
