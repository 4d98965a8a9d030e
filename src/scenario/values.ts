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
