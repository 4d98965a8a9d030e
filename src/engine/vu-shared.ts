/**
 * What every VU of a run (or of one worker thread) shares, computed once before the first request so that
 * the request loop only reads: resolved constant URLs, what each step keeps of a response, the stop switch.
 */
import type { Collector } from '../metrics/collector.js';
import type { Scenario, Step } from '../scenario/types.js';
import type { ExchangeRequest } from './http/exchange.js';
import { loginPathsFor, SESSION_ID_COOKIES } from './session.js';
import { resolveStepUrl, type ResolvedUrl, type TargetBase } from './url.js';

/** Stop and budget decisions shared by every VU of a run (or of a worker thread). */
export interface RunControl {
  /** Set when no new request may start (duration over, budget spent, interrupted). */
  readonly stopped: boolean;
  /** Claims one request of the `-n` budget; false when the run is over. Called before every request. */
  takeRequest(): boolean;
  /** Aborts think-time waits when the run stops. */
  readonly signal: AbortSignal;
}

/** Everything VUs of one run share, computed once. */
export interface VuShared {
  readonly scenario: Scenario;
  readonly base: TargetBase;
  readonly loginPaths: readonly string[];
  readonly collector: Collector;
  readonly control: RunControl;
  /** Think time between flow steps when a step sets none. */
  readonly thinkMs: number;
  /** Per step index: the resolved URL when constant, else null. */
  readonly constantUrls: readonly (ResolvedUrl | null)[];
  /** Per step index: how the exchange handles the response. */
  readonly exchangeSpecs: readonly ExchangeRequest[];
  /** Per step index: collect hidden form inputs from this step's page (the next step posts them). */
  readonly captureHidden: readonly boolean[];
  /** Per step index: the path the next step posts the hidden inputs to, when known (picks the form). */
  readonly hiddenFormAction: readonly (string | null)[];
  /**
   * Names of the cookies that login responses set, learned as the run goes (the same names for every
   * user: SESSION, JSESSIONID...): what a `clear-session` re-login drops. One set per thread, not per VU.
   */
  readonly loginCookieNames: Set<string>;
  /** Cookies that hold the session id (watched for silent regeneration, and for a route suffix). */
  readonly sessionCookieNames: ReadonlySet<string>;
  /** No header names the backend: read it from affinity cookies or a session-id route, when present. */
  readonly backendFromCookies: boolean;
  /** `check`: told of every hop as it is judged (null in a load run: one comparison per hop). */
  readonly trace: HopTracer | null;
}

/** What `check` is told of each hop (a request, or one redirect of a step). */
export interface HopTrace {
  readonly step: Step;
  readonly method: string;
  /** The path (and query) sent; a step whose URL holds a secret is shown as its template. */
  readonly url: string;
  /** 0 when no answer came. */
  readonly status: number;
  readonly location: string | null;
  /** Names of the cookies the answer set; a deleted one as `-NAME`. */
  readonly cookies: readonly string[];
  readonly backend: string | null;
  /** How the hop was judged: followed as a redirect, or the step's outcome. */
  readonly outcome: 'redirect' | 'ok' | 'failed' | 'no response' | 'lost' | 'stopped' | 'still logged in';
  /** Why a step failed, or which rule judged the session lost. */
  readonly reason: string | null;
}
export type HopTracer = (hop: HopTrace) => void;

/** Precomputes what every VU needs per step. */
export function prepareShared(scenario: Scenario, base: TargetBase, collector: Collector, control: RunControl, o: { thinkMs: number }, trace: HopTracer | null = null): VuShared {
  const steps = [...scenario.login, ...scenario.flow];
  const constantUrls: (ResolvedUrl | null)[] = steps.map((s) => (s.url.constant !== null ? resolveStepUrl(s.url.constant, base) : null));
  const captureHidden = steps.map((s, i) => {
    const next = steps[i + 1];
    return next !== undefined && next.phase === s.phase && next.hiddenInputs;
  });
  const hiddenFormAction = steps.map((_s, i) => (captureHidden[i] ? (constantUrls[i + 1]?.path.split('?')[0] ?? null) : null));
  const exchangeSpecs: ExchangeRequest[] = steps.map((s, i) => ({
    keepBody:
      captureHidden[i]! ||
      s.expect.bodyMatch !== null ||
      s.extract.some((x) => x.kind !== 'header') ||
      (scenario.session.lostBodyMatch !== null && (s.phase === 'flow' || i === scenario.login.length - 1)),
    servedByHeader: scenario.session.servedByHeader,
    captureHeaders: s.extract.flatMap((x) => (x.kind === 'header' ? [x.header] : [])),
  }));
  return {
    scenario,
    base,
    loginPaths: loginPathsFor(scenario.session, base),
    collector,
    control,
    thinkMs: o.thinkMs,
    constantUrls,
    exchangeSpecs,
    captureHidden,
    hiddenFormAction,
    loginCookieNames: new Set(),
    sessionCookieNames: scenario.session.sessionCookies ?? SESSION_ID_COOKIES,
    backendFromCookies: scenario.session.servedByHeader === null,
    trace,
  };
}
