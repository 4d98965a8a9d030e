/**
 * Number formatting and ab's derived figures, shared by the terminal and compare reporters so that a run
 * shows the same "Requests per second" in both.
 */
import type { RunResult } from '../result/schema.js';

/**
 * Milliseconds with about 3 significant digits (`0.412`, `2.31`, `12.0`, `120`): local targets answer in
 * well under a millisecond, so a fixed 1-decimal format would print `0.0` for everything.
 */
export function formatMs(ms: number): string {
  if (!Number.isFinite(ms)) return '-';
  const a = Math.abs(ms);
  const decimals = a < 1 ? 3 : a < 10 ? 2 : a < 100 ? 1 : 0;
  return ms.toFixed(decimals);
}

/** An integer with thousands separators (`4,210`), independent of the machine's locale. */
export function formatCount(n: number): string {
  const s = Math.round(Math.abs(n)).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return n < 0 ? `-${s}` : s;
}

/**
 * A ratio in [0, 1] as a percentage, rounded DOWN so a run that lost anything never prints `100.00%`
 * (0.99996 shows as `99.99%`).
 */
export function formatRatioPct(ratio: number, decimals = 2): string {
  if (ratio >= 1) return `${(100).toFixed(decimals)}%`;
  const f = 10 ** decimals;
  return `${(Math.floor(ratio * 100 * f) / f).toFixed(decimals)}%`;
}

/** Figures derived exactly as ApacheBench derives them (see ab.c, `output_results`). */
export interface AbFigures {
  /** "Time taken for tests", seconds. */
  seconds: number;
  /** "Complete requests": every request that finished, failed ones included (as ab counts them). */
  complete: number;
  /** "Requests per second": complete / seconds. */
  rps: number;
  /** "Time per request (mean)": concurrency * seconds * 1000 / complete. */
  timePerRequestMs: number;
  /** "Time per request (mean, across all concurrent requests)": seconds * 1000 / complete. */
  timePerRequestAcrossMs: number;
  /** "Transfer rate": received bytes / 1024 / seconds. */
  transferKBps: number;
}

/** Computes ab's derived figures; zero (not NaN/Infinity) when nothing completed or no time elapsed. */
export function abFigures(result: RunResult): AbFigures {
  const seconds = result.durationMs / 1000;
  const complete = result.requests.total;
  const concurrency = result.options.concurrency;
  return {
    seconds,
    complete,
    rps: seconds > 0 ? complete / seconds : 0,
    timePerRequestMs: complete > 0 ? (concurrency * seconds * 1000) / complete : 0,
    timePerRequestAcrossMs: complete > 0 ? (seconds * 1000) / complete : 0,
    transferKBps: seconds > 0 ? result.bytes.received / 1024 / seconds : 0,
  };
}

/** The name a run goes by in reports: its label, else the given fallback (e.g. the file's base name). */
export function runName(result: RunResult, fallback: string): string {
  const label = result.label.trim();
  return label !== '' ? label : fallback;
}
