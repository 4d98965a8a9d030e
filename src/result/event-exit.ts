/**
 * How an event's command ended, in the same words everywhere (the stop reason, the event lines on
 * stderr, the report): `exit 1`, `killed by SIGTERM`, `could not start`.
 */
import type { RunEvent } from './schema.js';

export function describeExit(r: Pick<RunEvent, 'exitCode' | 'signal' | 'status'>): string {
  if (r.status === 'not-started') return 'not started';
  if (r.exitCode !== null) return `exit ${r.exitCode}`;
  if (r.signal !== null) return `killed by ${r.signal}`;
  return r.status === 'still-running' ? 'still running' : 'could not start';
}
