/**
 * The one validator for each kind of value a user writes: durations, statuses, regular expressions and
 * target URLs. The scenario schema, the flag parser and the run options all use these, so a value is
 * accepted (and refused, with the same words) the same way wherever it is written.
 */
import { parseDurationMs } from './duration.js';

/** Why `value` is not a duration, or null. */
export function durationProblem(value: string | number): string | null {
  if (parseDurationMs(value) !== undefined) return null;
  if (typeof value === 'string' && /^\s*\d+(?:\.\d+)?\s*$/.test(value)) {
    const n = value.trim();
    return `"${n}" has no unit: write ${n}s (seconds) or ${n}ms (milliseconds)`;
  }
  return `invalid duration "${value}" (use e.g. 500ms, 30s, 2m)`;
}

/** Why `status` is not an HTTP status, or null. */
export function statusProblem(status: number): string | null {
  return Number.isInteger(status) && status >= 100 && status <= 599 ? null : `expected a status 100-599, got ${status}`;
}

/** Why `source` is not a regular expression, or null. */
export function regexProblem(source: string): string | null {
  try {
    new RegExp(source);
    return null;
  } catch (err) {
    return `invalid regular expression "${source}": ${(err as Error).message}`;
  }
}

/** Why `url` is not an absolute http(s) URL, or null. */
export function httpUrlProblem(url: string): string | null {
  try {
    const u = new URL(url);
    if (u.protocol === 'http:' || u.protocol === 'https:') return null;
  } catch {
    /* reported below */
  }
  return `expected an http:// or https:// URL, got "${url}"`;
}

/** `200`, `200/s`, `12000/m`: iterations per second; undefined when it is not a rate. */
export function parseRate(value: string | number): number | undefined {
  if (typeof value === 'number') return value > 0 && Number.isFinite(value) ? value : undefined;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(?:\/\s*(s|sec|second|m|min|minute))?\s*$/i.exec(value);
  const n = m ? Number(m[1]) / (m[2] && m[2].toLowerCase().startsWith('m') ? 60 : 1) : NaN;
  return n > 0 ? n : undefined;
}

/** Why `value` is not a rate, or null. */
export function rateProblem(value: string | number): string | null {
  return parseRate(value) !== undefined ? null : `expected iterations per second such as 200 or 200/s, got "${value}"`;
}

/** `30s:20` (ramp to 20 over 30 s, k6's --stage syntax): the stage, or a problem. */
export function parseStage(text: string): { durationMs: number; target: number } | string {
  const m = /^\s*([^:]+?)\s*:\s*(\d+(?:\.\d+)?)\s*(?:\/s)?\s*$/.exec(text);
  if (!m) return `expected DURATION:TARGET such as 30s:20 (ramp to 20 over 30s), got "${text}"`;
  const bad = durationProblem(m[1]!);
  if (bad !== null) return bad;
  return { durationMs: parseDurationMs(m[1]!)!, target: Number(m[2]) };
}

/** `20s=kubectl rollout restart deploy/app`: the offset and the command, or a problem. */
export function parseEventFlag(text: string): { atMs: number; command: string } | string {
  const eq = text.indexOf('=');
  if (eq <= 0) return `expected OFFSET=COMMAND such as 20s="kubectl rollout restart deploy/app", got "${text}"`;
  const offset = text.slice(0, eq).trim();
  const command = text.slice(eq + 1).trim();
  const bad = durationProblem(offset);
  if (bad !== null) return `${bad} (in "${text}")`;
  if (command === '') return `no command after "${offset}=" (in "${text}")`;
  return { atMs: parseDurationMs(offset)!, command };
}
