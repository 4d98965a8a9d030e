/**
 * Flag value parsing shared by commands. Problems are collected, not thrown one by one, so that a user
 * sees every bad flag at once (`--duration: invalid duration "3x" ...`).
 */
import { parseDurationMs } from '../scenario/duration.js';
import { durationProblem, httpUrlProblem } from '../scenario/values.js';
import { ConfigError, type ConfigIssue } from '../common/errors.js';

/** commander's collector for a repeatable flag (`--user a --user b` -> ['a', 'b']). */
export const collectRepeated = (value: string, previous: string[] = []): string[] => [...previous, value];

export class FlagIssues {
  readonly issues: ConfigIssue[] = [];

  add(path: string, message: string): void {
    this.issues.push({ path, message });
  }

  /** A whole number within [min, max], or undefined when absent or invalid. */
  int(flag: string, value: string | undefined, min = 1, max = Number.MAX_SAFE_INTEGER): number | undefined {
    if (value === undefined) return undefined;
    const n = Number(value);
    if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
      this.add(flag, `expected a whole number ${max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `from ${min} to ${max}`}, got "${value}"`);
      return undefined;
    }
    return n;
  }

  duration(flag: string, value: string | undefined): number | undefined {
    if (value === undefined) return undefined;
    const problem = durationProblem(value);
    if (problem !== null) {
      this.add(flag, problem);
      return undefined;
    }
    return parseDurationMs(value);
  }

  oneOf<T extends string>(flag: string, value: string | undefined, allowed: readonly T[]): T | undefined {
    if (value === undefined) return undefined;
    if (!(allowed as readonly string[]).includes(value)) {
      this.add(flag, `expected one of ${allowed.join(', ')}, got "${value}"`);
      return undefined;
    }
    return value as T;
  }

  url(flag: string, value: string | undefined): string | undefined {
    if (value === undefined) return undefined;
    const problem = httpUrlProblem(value);
    if (problem === null) return value;
    this.add(flag, problem);
    return undefined;
  }

  /** Throws one ConfigError listing every problem (exit 2). */
  throwIfAny(source = 'command line'): void {
    if (this.issues.length > 0) throw new ConfigError(source, this.issues);
  }
}
