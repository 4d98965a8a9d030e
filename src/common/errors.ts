/**
 * Error classes a user can cause, each mapped to an exit code. The CLI prints `message` (and `hint`)
 * without a stack trace for these; anything else is a bug and is printed with its stack.
 */

/** Exit codes, as documented in docs/reference.md. Every command returns one of these. */
export const ExitCode = {
  ok: 0,
  thresholdBreached: 1,
  invalidInput: 2,
  targetUnusable: 3,
  /** A bug in session-bench (EX_SOFTWARE): printed with its stack trace. */
  internalError: 70,
  /** Ctrl-C or SIGTERM: the partial result was still printed and written (128 + SIGINT). */
  interrupted: 130,
  /** A second SIGTERM: quit at once (128 + SIGTERM). */
  terminated: 143,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/**
 * Stable codes for the failures that callers tell apart (so that nobody matches message text). A
 * message may be reworded; a code is never renamed.
 */
export const ErrorCode = {
  /** A port asked for is taken. */
  portInUse: 'SB_PORT_IN_USE',
  /** The Redis store was asked for and no Redis can be found. */
  redisNotFound: 'SB_REDIS_NOT_FOUND',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** Base class: a failure the user can fix, with a stable exit code (and a stable code where callers need one). */
export class SessionBenchError extends Error {
  readonly exitCode: ExitCode;
  readonly hint: string | undefined;
  readonly code: ErrorCode | undefined;
  constructor(message: string, exitCode: ExitCode, hint?: string, code?: ErrorCode) {
    super(message);
    this.name = new.target.name;
    this.exitCode = exitCode;
    this.hint = hint;
    this.code = code;
  }
}

/** A bad flag, URL, duration or file argument (exit 2). */
export class UsageError extends SessionBenchError {
  constructor(message: string, hint?: string, code?: ErrorCode) {
    super(message, ExitCode.invalidInput, hint, code);
  }
}

/** One problem in a configuration: where it is and what is wrong. */
export interface ConfigIssue {
  /** Dotted path such as `flow[2].expect.status`, or the flag name such as `--duration`. */
  path: string;
  message: string;
}

/** An invalid scenario or users file; lists every problem at once (exit 2). */
export class ConfigError extends SessionBenchError {
  readonly issues: readonly ConfigIssue[];
  readonly source: string;
  constructor(source: string, issues: readonly ConfigIssue[]) {
    super(
      `${source} is invalid:\n` + issues.map((i) => `  ${i.path}: ${i.message}`).join('\n'),
      ExitCode.invalidInput,
    );
    this.source = source;
    this.issues = issues;
  }
}

/** The target cannot be load-tested: nothing answers, or every login fails (exit 3). */
export class TargetError extends SessionBenchError {
  constructor(message: string, hint?: string) {
    super(message, ExitCode.targetUnusable, hint);
  }
}

/** Renders a zod-style path (`['flow', 2, 'expect']`) as `flow[2].expect`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? String(part) : `.${String(part)}`;
  }
  return out === '' ? '(root)' : out;
}
