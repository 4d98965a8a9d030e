/**
 * RunResult: the contract between the runner and every reporter, and the versioned JSON format written by
 * `--json`. The zod schema below is the single description of that format; `compare` and tests validate
 * files against it. Bump SCHEMA_VERSION (result-constants.ts) on any incompatible change. A run itself never
 * loads this module's values (only its types), so zod stays unloaded until something validates a file.
 */
import type { z as Z } from 'zod';
import { ERROR_KINDS, SCHEMA_VERSION, type ErrorKind } from './constants.js';
import { loadZod } from '../common/zod.js';

export { ERROR_KINDS, SCHEMA_VERSION, type ErrorKind };
const { z } = loadZod();

/** Latency summary in milliseconds plus the encoded HDR histogram (integer microseconds). */
export const LatencySummarySchema = z.object({
  count: z.number().int().nonnegative(),
  mean: z.number().nonnegative(),
  stdev: z.number().nonnegative(),
  min: z.number().nonnegative(),
  max: z.number().nonnegative(),
  p50: z.number().nonnegative(),
  p66: z.number().nonnegative(),
  p75: z.number().nonnegative(),
  p80: z.number().nonnegative(),
  p90: z.number().nonnegative(),
  p95: z.number().nonnegative(),
  p98: z.number().nonnegative(),
  p99: z.number().nonnegative(),
  p999: z.number().nonnegative(),
  /** HdrHistogram compressed base64 encoding; values are microseconds. */
  hdr: z.string(),
});
export type LatencySummary = Z.infer<typeof LatencySummarySchema>;

// Each kind defaults to 0, so that a result written before a kind was added still reads.
export const ErrorCountsSchema = z.object(
  Object.fromEntries(ERROR_KINDS.map((k) => [k, z.number().int().nonnegative().default(0)])) as Record<
    ErrorKind,
    Z.ZodDefault<Z.ZodNumber>
  >,
);
export type ErrorCounts = Record<ErrorKind, number>;

const Counts = z.record(z.string(), z.number().int().nonnegative());

export const LossEventSchema = z.object({
  /** Milliseconds since the run started. */
  atMs: z.number().nonnegative(),
  vu: z.number().int().nonnegative(),
  step: z.string(),
  /** Method of the request that showed the loss (a followed redirect may have turned POST into GET). */
  method: z.string().optional(),
  url: z.string(),
  /** Status of the response that showed the loss. */
  status: z.number().int(),
  /** How it was detected: redirect to the login page, a lost-session status, or a login form in the body. */
  reason: z.enum(['redirect-to-login', 'status', 'body-match']),
  /** Logged-in requests this VU had made since its last login, this one included. */
  requestsSinceLogin: z.number().int().nonnegative().optional(),
  /** The Location of a redirect to the login page, as the server sent it. */
  location: z.string().nullable().optional(),
  /** Backend that answered the request that lost the session (servedByHeader), if known. */
  backend: z.string().nullable(),
  /** Backend that served this VU's last successful login, if known. */
  loginBackend: z.string().nullable(),
});
export type LossEvent = Z.infer<typeof LossEventSchema>;

export const UsersSchema = z.object({
  /** Virtual users that ran (each is one user with its own cookie jar). */
  total: z.number().int().nonnegative(),
  /** Of them, users that logged in at least once. */
  loggedIn: z.number().int().nonnegative(),
  /** Users that lost their session at least once. */
  affected: z.number().int().nonnegative(),
  maxLosses: z.number().int().nonnegative(),
  /** Losses per user, bucketed ('1', '2', '3-5', ...) -> users. */
  lossesPerUser: Counts,
  /** By the backend of each user's first login: users, and how many of them were logged out. */
  byLoginBackend: z.record(z.string(), z.object({ users: z.number().int().nonnegative(), affected: z.number().int().nonnegative() })),
});
export type UsersFigures = Z.infer<typeof UsersSchema>;

export const AttributionSchema = z.object({
  /** Where the backend name comes from; null when it is not known. */
  backendSource: z.object({ kind: z.enum(['header', 'affinity-cookie', 'session-route']), name: z.string() }).nullable(),
  /** Losses by (backend of the login, backend that answered without the session). */
  hops: z.array(z.object({ login: z.string().nullable(), lost: z.string().nullable(), losses: z.number().int().nonnegative() })),
  /** Losses by the backend that answered without the session. */
  lossesByBackend: Counts,
  /** Losses by how many logged-in requests the VU had made since its login ('1', '2', '3-5', ...). */
  lossesByRequestsSinceLogin: Counts,
  /** The share of logged-in requests served by the backend of the VU's login; null when unknown. */
  stickiness: z
    .object({
      requests: z.number().int().nonnegative(),
      sameBackend: z.number().int().nonnegative(),
      share: z.number().min(0).max(1).nullable(),
      /** VUs measured, those whose every logged-in request went to their login's backend, and the lowest share of one VU. */
      vus: z.number().int().nonnegative(),
      fullySticky: z.number().int().nonnegative(),
      minShare: z.number().min(0).max(1).nullable(),
    })
    .nullable(),
});
export type Attribution = Z.infer<typeof AttributionSchema>;

export const StepResultSchema = z.object({
  name: z.string(),
  phase: z.enum(['login', 'flow']),
  method: z.string(),
  requests: z.number().int().nonnegative(),
  ok: z.number().int().nonnegative(),
  failed: z.number().int().nonnegative(),
  losses: z.number().int().nonnegative(),
  byStatus: Counts,
  errors: ErrorCountsSchema,
  latency: LatencySummarySchema,
});
export type StepResult = Z.infer<typeof StepResultSchema>;

export const TimelineBucketSchema = z.object({
  /** Whole seconds since the run started. */
  second: z.number().int().nonnegative(),
  /** Requests that ended in this second (answered or not): the buckets add up to requests.total. */
  requests: z.number().int().nonnegative(),
  failed: z.number().int().nonnegative(),
  losses: z.number().int().nonnegative(),
  /** Requests without an answer (transport errors). */
  errors: z.number().int().nonnegative().default(0),
  logins: z.number().int().nonnegative().default(0),
  loginFailures: z.number().int().nonnegative().default(0),
  flowRequests: z.number().int().nonnegative().default(0),
  flowRequestsKept: z.number().int().nonnegative().default(0),
  /** Session cookies replaced without a redirect to login (see session.silentRegenerations). */
  regenerations: z.number().int().nonnegative().default(0),
  droppedIterations: z.number().int().nonnegative().default(0),
  /** Most virtual users active at once in this second (closed model: running; open model: in an iteration). */
  activeVus: z.number().int().nonnegative().default(0),
  /** Latency of this second's responses, ms; null when there were none. */
  p50: z.number().nonnegative().nullable().default(null),
  p99: z.number().nonnegative().nullable().default(null),
  /** This second's HDR histogram (µs, compressed base64; '' when empty), so seconds and runs merge exactly. */
  hdr: z.string().default(''),
  /** Responses per backend in this second, when the backend is known. */
  backends: Counts.default({}),
});
export type TimelineBucket = Z.infer<typeof TimelineBucketSchema>;

/** Figures of a stretch of the run (an event's before / during / after), from whole timeline seconds. */
export const WindowFiguresSchema = z.object({
  /** First second of the window (inclusive) and the second after its last. */
  fromSecond: z.number().int().nonnegative(),
  toSecond: z.number().int().nonnegative(),
  requests: z.number().int().nonnegative(),
  rps: z.number().nonnegative(),
  /** Failed requests (errors and failed expectations) / requests; null without requests. */
  errorRate: z.number().min(0).max(1).nullable(),
  retention: z.number().min(0).max(1).nullable(),
  losses: z.number().int().nonnegative(),
  p99: z.number().nonnegative().nullable(),
});
export type WindowFigures = Z.infer<typeof WindowFiguresSchema>;

/** A command run at a moment of the run (--at OFFSET=COMMAND, or events: in the scenario). */
export const RunEventSchema = z.object({
  /** Planned offset from the run's start, ms. */
  atMs: z.number().nonnegative(),
  command: z.string(),
  /** ok: exit 0; failed: another exit code, a signal, or it could not start; still-running: the run ended first (it was stopped); not-started: the run ended before its offset. */
  status: z.enum(['ok', 'failed', 'still-running', 'not-started']),
  /** When it actually started and ended, ms since the run's start. */
  startedMs: z.number().nonnegative().nullable(),
  endedMs: z.number().nonnegative().nullable(),
  exitCode: z.number().int().nullable(),
  signal: z.string().nullable(),
  /** The last lines of its stdout and stderr, interleaved as they came. */
  output: z.string(),
  /** The run was to stop when this command failed. */
  stopOnFailure: z.boolean(),
  windows: z.object({
    before: WindowFiguresSchema.nullable(),
    during: WindowFiguresSchema.nullable(),
    after: WindowFiguresSchema.nullable(),
  }),
});
export type RunEvent = Z.infer<typeof RunEventSchema>;

export const StageSchema = z.object({
  durationMs: z.number().nonnegative(),
  /** Virtual users at the end of the stage (closed model), or iterations per second (open model). */
  target: z.number().nonnegative(),
});
export type StageRecord = Z.infer<typeof StageSchema>;

export const RunOptionsSchema = z.object({
  concurrency: z.number().int().positive(),
  requests: z.number().int().positive().nullable(),
  durationMs: z.number().nonnegative().nullable(),
  rampUpMs: z.number().nonnegative(),
  thinkMs: z.number().nonnegative(),
  timeoutMs: z.number().positive(),
  connections: z.enum(['per-vu', 'shared', 'new']),
  /** Which HTTP/1.1 client carried the VUs' own connections: the built-in one, or undici for everything. */
  httpClient: z.enum(['builtin', 'undici']).default('builtin'),
  /** Open model: iterations started per second (null = closed model). */
  rate: z.number().positive().nullable(),
  maxVus: z.number().int().positive().nullable(),
  workers: z.number().int().positive(),
  users: z.number().int().nonnegative(),
  /** Load shape: ramp to each target over its duration (VUs, or iterations/s with a rate); [] = constant. */
  stages: z.array(StageSchema).default([]),
  /** Local addresses the connections were spread over (--source-addresses); [] = the system's choice. */
  sourceAddresses: z.array(z.string()).default([]),
  /** TLS sessions were resumed on reconnects (the default, as browsers do). */
  tlsResumption: z.boolean().default(true),
});
export type RunOptionsRecord = Z.infer<typeof RunOptionsSchema>;

export const RunResultSchema = z.object({
  schemaVersion: z.literal(SCHEMA_VERSION),
  tool: z.object({ name: z.literal('session-bench'), version: z.string() }),
  label: z.string(),
  target: z.string(),
  scenario: z.string(),
  startedAt: z.string(),
  durationMs: z.number().nonnegative(),
  interrupted: z.boolean(),
  /** Why the run stopped early, when it did (interrupt, target unusable). */
  stopReason: z.string().nullable(),
  /** Set when the target was judged unusable (nothing answered, or every login failed): exit code 3. */
  unusable: z.string().nullable().optional(),
  options: RunOptionsSchema,
  /** Free-form facts about the system under test (e.g. replicas, balancer), when known. */
  meta: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])),
  requests: z.object({
    total: z.number().int().nonnegative(),
    /** Responses that met expectations (session losses are counted here and in session.losses). */
    ok: z.number().int().nonnegative(),
    /** No response (see errors) or a response that failed the step's expectation. */
    failed: z.number().int().nonnegative(),
    /** Responses whose status is not 2xx (ab's "Non-2xx responses"); redirects are counted here too. */
    non2xx: z.number().int().nonnegative(),
    byStatus: Counts,
    errors: ErrorCountsSchema,
    /**
     * Requests sent again on a new connection because the server had closed a kept-alive one under them
     * before answering (idempotent requests only). Not errors: each is counted once, by its final outcome.
     */
    retries: z.number().int().nonnegative().default(0),
    /** Requests in flight when the run stopped, cut without an answer; not part of `total`. */
    aborted: z.number().int().nonnegative().default(0),
  }),
  bytes: z.object({ received: z.number().nonnegative() }),
  throughput: z.object({ rps: z.number().nonnegative(), bytesPerSec: z.number().nonnegative() }),
  latency: LatencySummarySchema,
  session: z.object({
    /** Whether the scenario logs in; without it the session figures are null. */
    tracked: z.boolean(),
    retention: z.number().min(0).max(1).nullable(),
    flowRetention: z.number().min(0).max(1).nullable(),
    flowRequests: z.number().int().nonnegative(),
    flowRequestsKept: z.number().int().nonnegative(),
    flowIterations: z.number().int().nonnegative(),
    flowIterationsKept: z.number().int().nonnegative(),
    logins: z.number().int().nonnegative(),
    loginFailures: z.number().int().nonnegative(),
    /** Why logins failed (the step and what was wrong: status, a missing field, the login form again), with counts. */
    loginFailureReasons: Counts.default({}),
    /**
     * Re-logins after a loss whose login page sent the user straight on to the app: the session was
     * still valid, so those losses were not lost sessions the app shows everywhere (check the loss rules).
     */
    stillLoggedIn: z.number().int().nonnegative().default(0),
    losses: z.number().int().nonnegative(),
    lossEvents: z.array(LossEventSchema),
    /** Loss events not kept because of the cap (counts stay exact). */
    lossEventsDropped: z.number().int().nonnegative(),
    /**
     * Responses that replaced the session cookie without any redirect to login (a new JSESSIONID from
     * another replica while the page still showed): how some apps lose a cart without a visible logout.
     */
    silentRegenerations: z.number().int().nonnegative().default(0),
    /** Which virtual users were logged out: "10 of 20 users". */
    users: UsersSchema.default({ total: 0, loggedIn: 0, affected: 0, maxLosses: 0, lossesPerUser: {}, byLoginBackend: {} }),
    /** Where the losses happened, when the backend is known (a header, an affinity cookie, a session-id route). */
    attribution: AttributionSchema.default({ backendSource: null, hops: [], lossesByBackend: {}, lossesByRequestsSinceLogin: {}, stickiness: null }),
  }),
  /** Commands run during the run, with figures before, during and after each. */
  events: z.array(RunEventSchema).default([]),
  /** Events not kept (a merge of many shards keeps the first ones). */
  eventsDropped: z.number().int().nonnegative().default(0),
  /** This run's share of a sharded test (--shard i/N), when it was one. */
  shard: z.object({ index: z.number().int().nonnegative(), count: z.number().int().positive() }).nullable().default(null),
  /** Open model: iterations that could not start because every VU was busy. */
  droppedIterations: z.number().int().nonnegative(),
  /**
   * What the run cost the generator itself (the whole process, worker threads included): a load test is
   * only as good as a generator that was not the bottleneck.
   */
  generator: z
    .object({
      /** Peak resident memory of the process, MB. */
      maxRssMb: z.number().nonnegative(),
      /** CPU time (user + system) spent during the run, ms. */
      cpuMs: z.number().nonnegative(),
    })
    .optional(),
  backends: Counts,
  steps: z.array(StepResultSchema),
  timeline: z.array(TimelineBucketSchema),
  /** The baseline regression check (--baseline): each figure against the saved result. */
  regression: z
    .object({
      /** The baseline result file, as given. */
      baseline: z.string(),
      checks: z.array(
        z.object({
          figure: z.enum(['rps', 'p95', 'p99', 'error_rate', 'retention', 'users_affected']),
          unit: z.enum(['percent', 'pp']),
          baseline: z.number().nullable(),
          actual: z.number().nullable(),
          change: z.number().nullable(),
          limit: z.number().nonnegative(),
          ok: z.boolean(),
          note: z.string(),
        }),
      ),
    })
    .optional(),
  /** Pass/fail criteria given with --threshold or in the scenario, and how the run fared. */
  thresholds: z
    .array(
      z.object({
        expression: z.string(),
        ok: z.boolean(),
        unit: z.enum(['ms', 'ratio', 'count', 'rate']),
        actual: z.number().nullable(),
      }),
    )
    .optional(),
});
export type RunResult = Z.infer<typeof RunResultSchema>;

/** What the runner hands to `onProgress` about once a second (not persisted). */
export interface ProgressSnapshot {
  elapsedMs: number;
  /** Planned duration, when the run is time-bound. */
  totalMs: number | null;
  requests: number;
  /** Planned request count, when the run is count-bound (-n). */
  totalRequests: number | null;
  /** Requests per second over the last interval. */
  rps: number;
  /** p99 latency so far, in milliseconds. */
  p99Ms: number;
  /** Session retention so far; null when the scenario does not log in. */
  retention: number | null;
  losses: number;
  /** Users logged out at least once so far. */
  usersAffected: number;
  failed: number;
  /** Transport errors (no response) so far. */
  errors: number;
  /** Virtual users active now. */
  activeVus: number;
  /** Open model: iterations dropped so far. */
  droppedIterations: number;
}
