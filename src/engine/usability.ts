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

/** What to try, from the kind of failure that made the target unusable. */
export function hintFor(result: RunResult): string {
  const e = result.requests.errors;
  const kinds = (Object.keys(e) as (keyof typeof e)[]).filter((k) => e[k] > 0).sort((a, b) => e[b] - e[a]);
  switch (kinds[0]) {
    case 'tls':
      if (/certificate required/.test(result.unusable ?? '')) return 'the server asks for a client certificate, which session-bench does not send (yet): test it behind a proxy that terminates mutual TLS';
      return 'the TLS certificate was not accepted: trust its CA with NODE_EXTRA_CA_CERTS=/path/to/ca.pem, or skip verification with --insecure (test environments only)';
    case 'refused':
      return `nothing listens at ${result.target}: is the app up, and are the host and port right?`;
    case 'dns':
      return 'the host name does not resolve: check the target URL (or /etc/hosts)';
    case 'invalid':
      return 'the target does not answer HTTP/1.1: a wrong port, or https:// needed (or http:// on an https port)?';
    case 'local':
      return 'this machine ran out of file descriptors or ports: lower -c, or raise ulimit -n';
    case 'timeout':
      return 'the target accepted connections but did not answer in time: raise --timeout, or lower -c';
    default:
      return result.session.loginFailures > 0
        ? 'check the login: its path, the form field names and the credentials'
        : 'check that the app is up at the target URL, the login path and the credentials';
  }
}

/** The TargetError for a result judged unusable, or null. */
export function targetErrorOf(result: RunResult): TargetError | null {
  if (!result.unusable) return null;
  return new TargetError(`the target is unusable: ${result.unusable}`, hintFor(result));
}
