/**
 * The scenario file schema (YAML or JSON): the documented contract, where fields may be added, never
 * renamed. The checks of single values (durations, statuses, regexes, through values.ts) live here so
 * that all of a file's problems are reported in one pass. Built on first use (see common/zod.ts): a quick-mode run compiles its scenario
 * without it.
 */
import type { z as Z } from 'zod';
import { loadZod } from '../common/zod.js';
import { RELOGIN_POLICIES } from './types.js';
import { durationProblem, rateProblem, regexProblem, statusProblem } from './values.js';

export const METHODS = ['get', 'post', 'put', 'patch', 'delete', 'head'] as const;
export type MethodKey = (typeof METHODS)[number];

function defineFileSchema(z: typeof Z) {
  const Duration = z.union([z.string(), z.number()]).refine((v) => durationProblem(v) === null, {
    error: (iss) => durationProblem(iss.input as string | number) ?? 'invalid duration',
  });
  const Status = z
    .number()
    .int()
    .refine((s) => statusProblem(s) === null, { error: (iss) => statusProblem(iss.input as number) ?? 'invalid status' });
  const StatusList = z.union([Status, z.array(Status).min(1)]);
  const Regex = z.string().refine((s) => regexProblem(s) === null, {
    error: (iss) => regexProblem(String(iss.input)) ?? 'invalid regular expression',
  });

  const ExtractSchema = z.union([
    z.strictObject({ regex: Regex, group: z.number().int().nonnegative().optional() }),
    z.strictObject({ header: z.string().min(1) }),
    z.strictObject({ json: z.string().min(1) }),
    z.strictObject({ input: z.string().min(1) }),
    /** The URL the page's login form posts to (an identity provider's carries a per-login code). */
    z.strictObject({ loginFormAction: z.literal(true) }),
  ]);

  const StepSchema = z
    .strictObject({
      get: z.string().optional(),
      post: z.string().optional(),
      put: z.string().optional(),
      patch: z.string().optional(),
      delete: z.string().optional(),
      head: z.string().optional(),
      name: z.string().min(1).optional(),
      headers: z.record(z.string(), z.union([z.string(), z.number()])).optional(),
      form: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).optional(),
      json: z.unknown().optional(),
      body: z.string().optional(),
      /** Also send every hidden `<input>` of the previous response's page (CSRF tokens and the like). */
      hiddenInputs: z.boolean().optional(),
      extract: z.record(z.string(), ExtractSchema).optional(),
      expect: z
        .strictObject({
          status: StatusList.optional(),
          location: z.string().optional(),
          bodyMatch: Regex.optional(),
        })
        .optional(),
      followRedirects: z.boolean().optional(),
      think: Duration.optional(),
    })
    .superRefine((step, ctx) => {
      const present = METHODS.filter((m) => step[m] !== undefined);
      if (present.length !== 1) {
        ctx.addIssue({
          code: 'custom',
          message:
            present.length === 0
              ? `a step needs one of ${METHODS.join(', ')} with a path or URL`
              : `a step has exactly one method, got ${present.join(' and ')}`,
        });
      }
      const bodies = ['form', 'json', 'body'].filter((k) => (step as Record<string, unknown>)[k] !== undefined);
      if (bodies.length > 1) {
        ctx.addIssue({ code: 'custom', message: `use only one of form, json, body; got ${bodies.join(' and ')}` });
      }
    });

  const UserEntry = z.union([
    z.strictObject({ username: z.string().min(1), password: z.union([z.string(), z.number()]) }),
    z.strictObject({ file: z.string().min(1) }),
  ]);

  return z.strictObject({
    name: z.string().min(1).optional(),
    // Checked by the compiler, with the other cross-field problems (see compile.ts).
    target: z.string().optional(),
    session: z
      .strictObject({
        loginPath: z.string().optional(),
        lostStatus: z.array(Status).optional(),
        lostBodyMatch: Regex.optional(),
        servedByHeader: z.string().min(1).optional(),
        relogin: z.enum(RELOGIN_POLICIES).optional(),
        keepCookies: z.array(z.string().min(1)).optional(),
        /** Cookies that hold the session id (watched for silent regeneration); default: well-known names. */
        sessionCookies: z.array(z.string().min(1)).optional(),
      })
      .optional(),
    users: z.union([z.array(UserEntry), z.strictObject({ file: z.string().min(1) })]).optional(),
    login: z.array(StepSchema).optional(),
    flow: z.array(StepSchema).min(1),
    think: Duration.optional(),
    /** Pass/fail criteria such as `p99<200ms`, `retention>=99%` (see metrics/thresholds.ts). */
    thresholds: z.array(z.union([z.string(), z.strictObject({ threshold: z.string(), abortOnFail: z.boolean().optional() })])).optional(),
    // The run's configuration, so that one file describes a whole test (flags override each).
    vus: z.number().int().min(1).optional(),
    duration: Duration.optional(),
    rampUp: Duration.optional(),
    rate: z.union([z.string(), z.number()]).refine((v) => rateProblem(v) === null, { error: (iss) => rateProblem(iss.input as string) ?? 'invalid rate' }).optional(),
    maxVus: z.number().int().min(1).optional(),
    /** Ramp to `target` over `duration`, one stage after another (VUs; iterations/s with `rate`). */
    stages: z.array(z.strictObject({ duration: Duration, target: z.number().nonnegative() })).min(1).optional(),
    /** Shell commands run at a moment of the run, while the load goes on. */
    events: z.array(z.strictObject({ at: Duration, run: z.string().min(1), stopOnFailure: z.boolean().optional() })).optional(),
  });
}
let fileSchema: ReturnType<typeof defineFileSchema> | null = null;
/** The scenario file schema (zod), built on first use. */
export function scenarioFileSchema(): ReturnType<typeof defineFileSchema> {
  return (fileSchema ??= defineFileSchema(loadZod().z));
}
export type ScenarioFile = Z.infer<ReturnType<typeof defineFileSchema>>;
export type StepFile = ScenarioFile['flow'][number];
