/**
 * The live progress line, redrawn about once a second from the runner's `onProgress` snapshot.
 */
import { describeExit } from '../result/event-exit.js';
import type { ProgressSnapshot, RunEvent } from '../result/schema.js';
import { formatCount, formatMs, formatRatioPct } from './format.js';
import { createStyle } from './style.js';

/** Options for {@link formatProgressLine}. */
export interface ProgressLineOptions {
  color: boolean;
}

/**
 * One progress line, e.g.
 * `[  12s / 30s]  requests 4,210  312 req/s  p99 4.10 ms  retention 51.2%  losses 1,030  failed 0  errors 0`.
 *
 * Contains no `\n` or `\r`: the caller decides whether to overwrite the line (TTY) or append (log).
 */
export function formatProgressLine(p: ProgressSnapshot, opts: ProgressLineOptions): string {
  const s = createStyle(opts.color);
  const elapsedS = Math.floor(p.elapsedMs / 1000);
  let clock: string;
  if (p.totalMs !== null) {
    const total = `${Math.round(p.totalMs / 1000)}s`;
    // Pad elapsed to the width of the total so the line does not jitter as it counts up.
    clock = `[${`${elapsedS}s`.padStart(Math.max(5, total.length))} / ${total}]`;
  } else {
    clock = `[${`${elapsedS}s`.padStart(5)}]`;
  }
  const requests =
    p.totalRequests !== null
      ? `requests ${formatCount(p.requests)} / ${formatCount(p.totalRequests)}`
      : `requests ${formatCount(p.requests)}`;
  const parts = [
    s.dim(clock),
    requests,
    `${formatCount(p.rps)} req/s`,
    `p99 ${formatMs(p.p99Ms)} ms`,
  ];
  if (p.retention !== null) {
    const pct = formatRatioPct(p.retention, 1);
    const painted = p.retention >= 1 ? s.green(pct) : p.retention >= 0.99 ? s.yellow(pct) : s.red(pct);
    parts.push(`retention ${painted}`);
  }
  const count = (label: string, n: number): string =>
    `${label} ${n > 0 ? s.red(formatCount(n)) : formatCount(n)}`;
  if (p.retention !== null) parts.push(count('users out', p.usersAffected));
  parts.push(count('losses', p.losses), count('failed', p.failed), count('errors', p.errors), `vus ${formatCount(p.activeVus)}`);
  if (p.droppedIterations > 0) parts.push(s.yellow(`dropped ${formatCount(p.droppedIterations)}`));
  // Strip any line breaks a caller-supplied value could smuggle in (none expected; cheap insurance).
  return parts.join('  ').replace(/[\r\n]/g, ' ');
}

/** An event as the runner reports it while it runs (the result's RunEvent, before its windows exist). */
export interface EventNoticeView {
  kind: 'started' | 'ended';
  index: number;
  record: Omit<RunEvent, 'windows'>;
}

const secs = (ms: number | null): string => (ms === null ? '?' : `${(ms / 1000).toFixed(1)}s`);

/** `[  20.0s] event 1 started: kubectl rollout restart deploy/app`, `[  41.3s] event 1 ended: exit 0 after 21.3s`. */
export function formatEventNotice(n: EventNoticeView): string {
  const r = n.record;
  const at = n.kind === 'started' ? r.startedMs : r.endedMs;
  const head = `[${secs(at).padStart(7)}] event ${n.index + 1}`;
  if (n.kind === 'started') return `${head} started: ${oneLine(r.command)}`;
  const took = r.startedMs !== null && r.endedMs !== null ? ` after ${secs(r.endedMs - r.startedMs)}` : '';
  const how = describeExit(r);
  const what = r.status === 'ok' ? 'ended' : r.status === 'still-running' ? 'stopped (the run ended first)' : 'FAILED';
  const lastLine = r.status === 'failed' ? lastOutputLine(r.output) : '';
  return `${head} ${what}: ${how}${took}${lastLine !== '' ? `: ${lastLine}` : ''}`;
}

/** The last non-empty line of a command's output, short. */
export function lastOutputLine(output: string): string {
  const lines = output.split('\n').map((l) => l.trim()).filter((l) => l !== '');
  const last = lines[lines.length - 1] ?? '';
  return last.length > 160 ? `${last.slice(0, 157)}...` : last;
}

const oneLine = (s: string): string => s.replace(/[\r\n]+/g, ' ');
