/**
 * The live progress line, redrawn about once a second from the runner's `onProgress` snapshot.
 */
import type { ProgressSnapshot } from '../result/schema.js';
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
  parts.push(count('losses', p.losses), count('failed', p.failed), count('errors', p.errors));
  // Strip any line breaks a caller-supplied value could smuggle in (none expected; cheap insurance).
  return parts.join('  ').replace(/[\r\n]/g, ' ');
}
