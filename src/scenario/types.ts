/**
 * The compiled scenario: what the engine reads. Frozen, with templates parsed, regexes compiled and
 * statuses in sets, so that the request loop never parses anything.
 */
import type { Threshold } from '../metrics/thresholds.js';
import type { Template } from './template.js';
import type { Credential } from './users.js';

export type Extractor =
  | { readonly name: string; readonly kind: 'regex'; readonly regex: RegExp; readonly group: number }
  | { readonly name: string; readonly kind: 'header'; readonly header: string }
  | { readonly name: string; readonly kind: 'json'; readonly path: readonly string[] }
  | { readonly name: string; readonly kind: 'input'; readonly regex: RegExp }
  | { readonly name: string; readonly kind: 'login-form-action' };

export type StepBody =
  | { readonly kind: 'none' }
  | { readonly kind: 'form'; readonly fields: readonly (readonly [string, Template])[] }
  | { readonly kind: 'json'; readonly value: unknown; readonly strings: ReadonlyMap<string, Template> }
  | { readonly kind: 'raw'; readonly template: Template };

export interface Expectation {
  /** Accepted statuses; null = any status below 400. */
  readonly statuses: ReadonlySet<number> | null;
  /** Expected redirect target path (compared after resolving against the request URL). */
  readonly location: string | null;
  readonly bodyMatch: RegExp | null;
}

/** One request of a scenario, compiled. */
export interface Step {
  /** Index into the run's per-step metrics (login steps first, then flow steps). */
  readonly index: number;
  readonly name: string;
  readonly phase: 'login' | 'flow';
  readonly method: string;
  readonly url: Template;
  readonly headers: readonly (readonly [string, Template])[];
  readonly body: StepBody;
  readonly hiddenInputs: boolean;
  readonly extract: readonly Extractor[];
  readonly expect: Expectation;
  readonly followRedirects: boolean;
  /** Think time after this step; null = the run's default. */
  readonly thinkMs: number | null;
}

/** How this app shows that a session was lost. */
export interface SessionRules {
  /** A 3xx whose Location resolves to this path means the session was lost. Null: no login. */
  readonly loginPath: string | null;
  readonly lostStatus: ReadonlySet<number>;
  readonly lostBodyMatch: RegExp | null;
  /** Lower-case header name naming the backend, or null. */
  readonly servedByHeader: string | null;
  /** What a VU keeps of its cookies when it logs in again after a loss (see RELOGIN_POLICIES). */
  readonly relogin: ReloginPolicy;
  /** Cookies a re-login never drops (a load balancer's affinity cookie), besides the well-known ones. */
  readonly keepCookies: ReadonlySet<string>;
  /**
   * Cookies that hold the session id, watched for silent regeneration (replaced without a redirect to
   * login); null = the well-known names (JSESSIONID, PHPSESSID, sessionid, SESSION, ...).
   */
  readonly sessionCookies: ReadonlySet<string> | null;
}

/**
 * `clear-session` (default): drop the cookies the login set, keep the rest (a load balancer's affinity
 * cookie stays, as in a browser whose session cookie expired); `keep`: keep every cookie; `fresh`: start
 * from an empty jar, like a new browser.
 */
export const RELOGIN_POLICIES = ['clear-session', 'keep', 'fresh'] as const;
export type ReloginPolicy = (typeof RELOGIN_POLICIES)[number];

/** A load stage: ramp linearly to `target` over `durationMs` (VUs, or iterations/s in the open model). */
export interface Stage {
  readonly durationMs: number;
  readonly target: number;
}

/** A shell command to run at a moment of the run (see engine/events.ts). */
export interface EventSpec {
  /** Offset from the run's start, ms. */
  readonly atMs: number;
  readonly command: string;
  /** Stop the run when the command fails. */
  readonly stopOnFailure: boolean;
}

/** How the scenario file says to run it; flags override each field. Null / empty: not set. */
export interface ScenarioLoad {
  readonly concurrency: number | null;
  readonly durationMs: number | null;
  readonly rampUpMs: number | null;
  readonly rate: number | null;
  readonly maxVus: number | null;
  readonly stages: readonly Stage[];
  readonly events: readonly EventSpec[];
}

export const NO_LOAD: ScenarioLoad = Object.freeze({ concurrency: null, durationMs: null, rampUpMs: null, rate: null, maxVus: null, stages: [], events: [] });

/** A validated, compiled, immutable scenario. */
export interface Scenario {
  readonly name: string;
  readonly target: string | null;
  readonly session: SessionRules;
  readonly users: readonly Credential[];
  readonly login: readonly Step[];
  readonly flow: readonly Step[];
  readonly thinkMs: number | null;
  readonly thresholds: readonly Threshold[];
  /** The run's configuration written in the file (VUs, duration, stages, events). */
  readonly load: ScenarioLoad;
  /** The environment variables the scenario uses, as `env.NAME` -> value (read at compile time). */
  readonly env: Readonly<Record<string, string>>;
}
