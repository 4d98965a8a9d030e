/**
 * The report blocks about what happened over time and to whom: the timeline (throughput and retention
 * per second, with event markers and where the losses began), each event with its before / during /
 * after figures, the users affected and where the losses happened (hop matrix, stickiness). Pure: a
 * result in, text out; part of the end-of-run report (terminal.ts).
 */
import { describeExit } from '../result/event-exit.js';
import type { RunEvent, RunResult, TimelineBucket, WindowFigures } from '../result/schema.js';
import { formatCount, formatMs, formatRatioPct } from './format.js';
import { lastOutputLine } from './progress.js';
import type { Style } from './style.js';

/** Most rows of the timeline: longer runs put several seconds in a row. */
export const MAX_TIMELINE_ROWS = 30;
const BAR_WIDTH = 24;

/** One row of the terminal timeline: seconds [from, to) added together. */
interface TimelineRow {
  from: number;
  to: number;
  requests: number;
  losses: number;
  flow: number;
  kept: number;
  errors: number;
  activeVus: number;
  dropped: number;
  /** Highest per-second p99 in the row (a summary for the eye; exact figures are in the JSON). */
  p99: number | null;
}

function timelineRows(timeline: readonly TimelineBucket[]): { rows: TimelineRow[]; width: number } {
  const width = Math.max(1, Math.ceil(timeline.length / MAX_TIMELINE_ROWS));
  const rows: TimelineRow[] = [];
  for (let from = 0; from < timeline.length; from += width) {
    const row: TimelineRow = { from, to: Math.min(from + width, timeline.length), requests: 0, losses: 0, flow: 0, kept: 0, errors: 0, activeVus: 0, dropped: 0, p99: null };
    for (let s = row.from; s < row.to; s++) {
      const b = timeline[s]!;
      row.requests += b.requests;
      row.losses += b.losses;
      row.flow += b.flowRequests;
      row.kept += b.flowRequestsKept;
      row.errors += b.failed;
      row.dropped += b.droppedIterations;
      row.activeVus = Math.max(row.activeVus, b.activeVus);
      if (b.p99 !== null) row.p99 = Math.max(row.p99 ?? 0, b.p99);
    }
    rows.push(row);
  }
  return { rows, width };
}

const secs = (ms: number): string => `${(ms / 1000).toFixed(1)}s`;

/** What marks a row: events that started or ended in it, and the first losses. */
function rowMarks(row: TimelineRow, events: readonly RunEvent[], firstLossSecond: number | null, s: Style): string[] {
  const marks: string[] = [];
  const inRow = (ms: number | null): boolean => ms !== null && Math.floor(ms / 1000) >= row.from && Math.floor(ms / 1000) < row.to;
  events.forEach((e, i) => {
    if (inRow(e.startedMs)) marks.push(s.bold(`▶ event ${i + 1} at ${secs(e.startedMs!)}`));
    if (inRow(e.endedMs)) marks.push(s.bold(`■ event ${i + 1} ${e.status === 'ok' ? 'done' : e.status === 'failed' ? 'FAILED' : 'stopped'} at ${secs(e.endedMs!)}`));
  });
  if (firstLossSecond !== null && firstLossSecond >= row.from && firstLossSecond < row.to) marks.push(s.red('◀ losses begin'));
  return marks;
}

/**
 * Throughput as a bar and retention as a figure, second by second (or a few seconds per row), with the
 * events and the first losses marked, so that one look says when the users started being logged out.
 */
export function timelineBlock(r: RunResult, s: Style): string {
  const timeline = r.timeline;
  if (timeline.length < 2 || r.requests.total === 0) return '';
  const { rows, width } = timelineRows(timeline);
  const maxRps = Math.max(...rows.map((row) => row.requests / (row.to - row.from)), 1);
  const firstLoss = timeline.findIndex((b) => b.losses > 0);
  const tracked = r.session.tracked;
  const open = r.options.rate !== null;
  const head = ['time', 'req/s', 'p99 ms', ...(tracked ? ['retention', 'losses'] : []), 'failed', open ? 'dropped' : 'vus'];
  const cells = rows.map((row) => {
    const n = row.to - row.from;
    const retention = row.flow === 0 ? '-' : formatRatioPct(row.kept / row.flow);
    return [
      `${row.from}s`,
      formatCount(row.requests / n),
      row.p99 === null ? '-' : formatMs(row.p99),
      ...(tracked ? [retention, formatCount(row.losses)] : []),
      formatCount(row.errors),
      formatCount(open ? row.dropped : row.activeVus),
    ];
  });
  const widths = head.map((h, c) => Math.max(h.length, ...cells.map((row) => row[c]!.length)));
  const pad = (cols: readonly string[]): string => cols.map((v, c) => v.padStart(widths[c]!)).join('  ');
  const lines = [`${s.bold('Timeline')} ${s.dim(`(${width === 1 ? '1 second' : `${width} seconds`} per row; the bar is requests/s)`)}`, `  ${pad(head)}`];
  rows.forEach((row, i) => {
    const filled = Math.round(((row.requests / (row.to - row.from)) / maxRps) * BAR_WIDTH);
    const bar = '█'.repeat(filled) + ' '.repeat(BAR_WIDTH - filled);
    let text = pad(cells[i]!);
    if (row.losses > 0) text = s.red(text);
    const marks = rowMarks(row, r.events, firstLoss === -1 ? null : firstLoss, s);
    lines.push(`  ${text}  ${row.losses > 0 ? s.red(bar) : bar}${marks.length > 0 ? `  ${marks.join('  ')}` : ''}`.trimEnd());
  });
  return lines.join('\n');
}

function windowLine(name: string, w: WindowFigures | null, tracked: boolean): string[] {
  if (w === null) return [name, '-', '-', '-', ...(tracked ? ['-', '-'] : []), '-'];
  return [
    name,
    `${w.fromSecond}-${w.toSecond}s`,
    formatCount(w.rps),
    w.errorRate === null ? '-' : formatRatioPct(w.errorRate),
    ...(tracked ? [w.retention === null ? '-' : formatRatioPct(w.retention), formatCount(w.losses)] : []),
    w.p99 === null ? '-' : `${formatMs(w.p99)} ms`,
  ];
}

/** Each event: when it ran, how it ended, and the run's figures before, during and after it. */
export function eventsBlock(r: RunResult, s: Style): string {
  if (r.events.length === 0) return '';
  const tracked = r.session.tracked;
  const lines = [s.bold('Events')];
  r.events.forEach((e, i) => {
    const ran =
      e.startedMs === null
        ? 'not started (the run ended first)'
        : `ran ${secs(e.startedMs)}-${e.endedMs === null ? '?' : secs(e.endedMs)}${e.endedMs === null ? '' : ` (${((e.endedMs - e.startedMs) / 1000).toFixed(2)}s)`}`;
    const how =
      e.status === 'ok'
        ? s.green('ok, exit 0')
        : e.status === 'failed'
          ? s.red(`FAILED, ${describeExit(e)}`)
          : e.status === 'still-running'
            ? s.yellow('still running when the run ended: stopped')
            : s.yellow('not started');
    lines.push(`  ${i + 1}. at ${secs(e.atMs)}: ${e.command}`);
    lines.push(`     ${how}; ${ran}${e.stopOnFailure && e.status === 'failed' ? '; the run was stopped' : ''}`);
    const last = e.status === 'ok' ? '' : lastOutputLine(e.output);
    if (last !== '') lines.push(`     output: ${last}`);
    if (e.startedMs === null) return;
    const head = ['', 'seconds', 'req/s', 'failed', ...(tracked ? ['retention', 'losses'] : []), 'p99'];
    const windows = [
      ['before', e.windows.before],
      ['during', e.windows.during],
      ['after', e.windows.after],
    ] as const;
    const rows = windows.map(([name, w]) => windowLine(name, w, tracked));
    const widths = head.map((h, c) => Math.max(h.length, ...rows.map((row) => row[c]!.length)));
    const fmt = (cols: readonly string[]): string => cols.map((v, c) => (c === 0 ? v.padEnd(widths[c]!) : v.padStart(widths[c]!))).join('  ');
    lines.push(`     ${s.dim(fmt(head))}`);
    rows.forEach((row, k) => {
      const w = windows[k]![1];
      lines.push(`     ${w !== null && w.losses > 0 ? s.red(fmt(row)) : fmt(row)}`);
    });
  });
  return lines.join('\n');
}

/** `10 of 20 users (50.0%) were logged out at least once`. */
export function usersAffectedText(r: RunResult): string | null {
  const u = r.session.users;
  if (!r.session.tracked || u.total === 0) return null;
  const pct = ((u.affected / u.total) * 100).toFixed(1);
  return `${formatCount(u.affected)} of ${formatCount(u.total)} users (${pct}%) were logged out at least once`;
}

/** Where the losses happened, by backend, when the backend is known. */
export function attributionLines(r: RunResult, s: Style, field: (label: string, value: string) => string, indent: string): string[] {
  const a = r.session.attribution;
  const u = r.session.users;
  const lines: string[] = [];
  const source = a.backendSource;
  if (source !== null && source.kind !== 'header') {
    lines.push(field('Backend from', source.kind === 'affinity-cookie' ? `the load balancer's affinity cookie ${source.name} (no backend header)` : `the route suffix of the ${source.name} cookie (Tomcat jvmRoute; no backend header)`));
  }
  if (a.hops.length > 0 && r.session.losses > 0 && a.hops.some((h) => h.login !== null || h.lost !== null)) {
    const name = (b: string | null): string => b ?? '(unknown)';
    const width = Math.max(...a.hops.map((h) => name(h.login).length));
    a.hops.slice(0, 12).forEach((h, i) => {
      const text = `logged in on ${name(h.login).padEnd(width)} -> lost on ${name(h.lost)}: ${formatCount(h.losses)}`;
      lines.push(i === 0 ? field('Loss hops', text) : indent + text);
    });
    if (a.hops.length > 12) lines.push(`${indent}(${a.hops.length - 12} more in the JSON result)`);
  }
  const byLogin = Object.entries(u.byLoginBackend).sort(([x], [y]) => x.localeCompare(y, 'en', { numeric: true }));
  if (byLogin.length > 0 && r.session.losses > 0) {
    lines.push(field('Users by login backend', byLogin.map(([b, v]) => `${b}: ${v.affected} of ${v.users} logged out`).join(', ')));
  }
  if (a.stickiness !== null && a.stickiness.share !== null) {
    const st = a.stickiness;
    lines.push(
      field(
        'Stickiness',
        `${formatRatioPct(st.share!, 1)} of logged-in requests went to the backend of the user's login ` +
          `(${formatCount(st.fullySticky)} of ${formatCount(st.vus)} users always${st.minShare !== null && st.fullySticky < st.vus ? `; the least sticky ${formatRatioPct(st.minShare, 1)}` : ''})`,
      ),
    );
  }
  const since = Object.entries(a.lossesByRequestsSinceLogin);
  if (since.length > 0) {
    const order = ['1', '2', '3-5', '6-10', '11-20', '21-50', '51-100', '101+'];
    since.sort(([x], [y]) => order.indexOf(x) - order.indexOf(y));
    lines.push(field('Lost after (requests)', `${since.map(([k, n]) => `${k}: ${formatCount(n)}`).join(', ')} ${s.dim('(logged-in requests since the login, the losing one included)')}`));
  }
  return lines;
}
