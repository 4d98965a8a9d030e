/** The "target unusable" verdict (exit 3): drawn only from what was measured. */
import { TargetError } from '../common/errors.js';
import type { RunResult } from '../result/schema.js';

/** Figures the unusable verdict is drawn from. */
export interface UsabilityCounts {
  requests: number;
  responses: number;
  logins: number;
  loginFailures: number;
  lastLoginFailure: string | null;
  lastError: string | null;
}

/**
 * Why the target cannot be load-tested, judged from what was measured, or null: no response at all
 * after `minTries` requests, or `minTries` logins and none succeeded.
 */
export function unusableReason(c: UsabilityCounts, minTries: number): string | null {
  if (c.requests >= minTries && c.responses === 0) {
    return `nothing answered: ${c.requests} requests, no response (${c.lastError ?? 'no error recorded'})`;
  }
  if (c.loginFailures >= minTries && c.logins === 0) {
    return `every login failed: ${c.loginFailures} attempts, none succeeded (last: ${c.lastLoginFailure ?? 'unknown'})`;
  }
  return null;
}

/** The TargetError for a result judged unusable, or null. */
export function targetErrorOf(result: RunResult): TargetError | null {
  if (!result.unusable) return null;
  return new TargetError(
    `the target is unusable: ${result.unusable}`,
    'check that the app is up at the target URL, the login path and the credentials',
  );
}
