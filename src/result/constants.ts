/**
 * The constants of the result format that the run itself needs (the collector, the summary, the report),
 * kept apart from the zod schema in result.ts so that a run does not load zod. result.ts re-exports them.
 */
export const SCHEMA_VERSION = 1 as const;

/**
 * Why a request got no (valid) response: refused, reset, timeout, tls, dns; `invalid`: the answer was
 * not valid HTTP/1.1; `local`: the generator ran out of file descriptors or ports (not the target's
 * fault); `other`: anything else.
 */
export const ERROR_KINDS = ['refused', 'reset', 'timeout', 'tls', 'dns', 'invalid', 'local', 'other'] as const;
export type ErrorKind = (typeof ERROR_KINDS)[number];
