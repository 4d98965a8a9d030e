/**
 * A virtual user: one cookie jar, its own connection(s) (or the shared pool), its own variables. It logs
 * in, walks the flow, and when a response shows the session was lost, records a loss event, logs in
 * again and goes on. It never formats output: everything it sees goes to the Collector.
 */
import type { Dispatcher } from 'undici';
import { VuCookieJar } from './cookies.js';
import { buildRequestHead, classifyError, Exchange, SPECIAL_REQUEST_HEADERS, type ExchangeRequest, type H1Connection, type RequestHead, type Transport } from './http.js';
import type { Collector } from './metrics/collector.js';
import { isLoginPath, lossInResponse, type LossReason, type TargetBase } from './session.js';
import type { Scenario, Step } from './scenario.js';
import { displayTemplate, renderTemplate, type Vars } from './template.js';
import type { Credential } from './users.js';
import { VERSION } from './version.js';

/** Redirects followed per step before the last one is taken as the answer (browsers stop near 20). */
export const MAX_REDIRECTS = 10;
const USER_AGENT = `session-bench/${VERSION}`;

/** Stop and budget decisions shared by every VU of a run (or of a worker thread). */
export interface RunControl {
  /** Set when no new request may start (duration over, budget spent, interrupted). */
  readonly stopped: boolean;
  /** Claims one request of the `-n` budget; false when the run is over. Called before every request. */
  takeRequest(): boolean;
  /** Aborts think-time waits when the run stops. */
  readonly signal: AbortSignal;
}

/** A URL split the way undici's dispatch wants it. */
export interface ResolvedUrl {
  readonly origin: string;
  /** Path and query. */
  readonly path: string;
  readonly href: string;
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
  readonly timeoutMs: number;
  /** Per step index: the resolved URL when constant, else null. */
  readonly constantUrls: readonly (ResolvedUrl | null)[];
  /** Per step index: how the exchange handles the response. */
  readonly exchangeSpecs: readonly ExchangeRequest[];
  /** Per step index: collect hidden form inputs from this step's page (the next step posts them). */
  readonly captureHidden: readonly boolean[];
}

/** Resolves a step URL (path or absolute URL) against the target. Not on the hot path for constant URLs. */
export function resolveStepUrl(text: string, base: TargetBase): ResolvedUrl {
  if (/^https?:\/\//i.test(text)) {
    const u = new URL(text);
    return { origin: u.origin, path: u.pathname + u.search, href: u.href };
  }
  const path = base.basePath + (text.startsWith('/') ? text : `/${text}`);
  // Spaces and non-ASCII (a rendered `{{name}}`, `/café`) are percent-encoded as UTF-8, as a browser does.
  if (NOT_URL_SAFE.test(path)) return fromUrl(new URL(path, base.origin));
  return { origin: base.origin, path, href: base.origin + path };
}
const NOT_URL_SAFE = /[^\x21-\x7e]/;

function fromUrl(u: URL): ResolvedUrl {
  return { origin: u.origin, path: u.pathname + u.search, href: u.href };
}

const HIDDEN_INPUT_TAG = /<input\b[^>]*>/gi;
// Attributes are preceded by white space, which keeps `data-value=` from passing for `value=`.
const ATTR_TYPE_HIDDEN = /\stype\s*=\s*["']?hidden\b/i;
const ATTR_NAME = /\sname\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))/i;
const ATTR_VALUE = /\svalue\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))/i;

const decodeEntities = (s: string): string =>
  s.replace(/&(amp|lt|gt|quot|#39|#x27);/g, (_, e: string) => ({ amp: '&', lt: '<', gt: '>', quot: '"', '#39': "'", '#x27': "'" })[e]!);

/** Every `<input type="hidden">` name/value on a page, as a browser would submit them. */
export function hiddenInputs(html: string): [string, string][] {
  const out: [string, string][] = [];
  for (const m of html.matchAll(HIDDEN_INPUT_TAG)) {
    const tag = m[0];
    if (!ATTR_TYPE_HIDDEN.test(tag)) continue;
    const n = ATTR_NAME.exec(tag);
    if (!n) continue;
    const v = ATTR_VALUE.exec(tag);
    out.push([decodeEntities(n[1] ?? n[2] ?? n[3] ?? ''), decodeEntities(v ? (v[1] ?? v[2] ?? v[3] ?? '') : '')]);
  }
  return out;
}

/** A flat copy of a string (never a slice of a larger one). */
const copyString = (s: string): string => Buffer.from(s, 'utf8').toString('utf8');

function jsonPath(value: unknown, path: readonly string[]): string | null {
  let cur = value;
  for (const key of path) {
    if (cur === null || typeof cur !== 'object') return null;
    cur = Array.isArray(cur) && /^\d+$/.test(key) ? cur[Number(key)] : (cur as Record<string, unknown>)[key];
  }
  if (cur === undefined || cur === null) return null;
  return typeof cur === 'string' ? cur : JSON.stringify(cur);
}

/** judgeHop: follow the redirect (not an Outcome). */
const NEXT_HOP = -1;

/** Outcome of one step. */
enum Outcome {
  Ok,
  /** Response arrived but failed the expectation (or a login step failed). */
  Failed,
  /** No response (transport error). */
  NoResponse,
  /** The response showed the session was lost (flow steps only). */
  Lost,
  /** The run stopped before or during the step; nothing recorded. */
  Stopped,
}

/** What follows a think time. */
const enum AfterThink {
  NextStep,
  /** The last login step: the VU is logged in, the flow starts. */
  LoggedIn,
  /** The last flow step: the iteration is complete. */
  IterationDone,
}

interface HeaderCacheEntry {
  cookie: string | null;
  headers: string[];
}

/** A request for the built-in client, cached per step while the URL, connection and cookie stay the same. */
interface HeadCacheEntry {
  url: ResolvedUrl;
  conn: H1Connection;
  cookie: string | null;
  head: RequestHead;
}

/** What is fixed per step for a run, computed once and shared by every VU. */
interface StepPlan {
  /** Every header is constant (requests differ only by URL and cookie). */
  readonly constantHeaders: boolean;
  /** The built-in HTTP/1.1 client can send it (undici handles a few headers and methods specially). */
  readonly builtIn: boolean;
  /** The request without a cookie, for the step's constant URL: the same for every VU, built once. */
  cookielessHead: HeadCacheEntry | null;
}
const PLAN_METHODS: ReadonlySet<string> = new Set(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']);
const plans = new WeakMap<VuShared, readonly StepPlan[]>();
function plansFor(shared: VuShared): readonly StepPlan[] {
  let p = plans.get(shared);
  if (p === undefined) {
    p = [...shared.scenario.login, ...shared.scenario.flow].map((s) => ({
      constantHeaders: s.headers.every(([, t]) => t.constant !== null),
      builtIn: PLAN_METHODS.has(s.method) && !s.headers.some(([k]) => SPECIAL_REQUEST_HEADERS.has(k)),
      cookielessHead: null,
    }));
    plans.set(shared, p);
  }
  return p;
}

export class VirtualUser {
  private readonly jar = new VuCookieJar();
  private readonly exchange = new Exchange();
  private readonly vars: Vars;
  private loggedIn = false;
  private iteration = 0;
  /** Backend that answered the last login step, for loss events. */
  private loginBackend: string | null = null;
  private lastBackend: string | null = null;
  private failureReason = '';
  private hidden: [string, string][] = [];
  private readonly headerCache: (HeaderCacheEntry | undefined)[] = [];
  private readonly headCache: (HeadCacheEntry | undefined)[] = [];
  private readonly plans: readonly StepPlan[];
  private stoppedByAbort = false;
  // The iteration in progress (see startIteration).
  private inLogin = false;
  /** Index of the step being sent in the login steps (inLogin) or the flow. */
  private stepPos = 0;
  private iterScheduled: number | undefined = undefined;
  private iterEnd: ((o: Outcome) => void) | null = null;
  private iterFail: ((err: unknown) => void) | null = null;
  private thinkTimer: NodeJS.Timeout | null = null;
  private afterThink = AfterThink.NextStep;
  // The step being sent: what a redirect hop carries over.
  private hopStep: Step | null = null;
  private hopUrl: ResolvedUrl | null = null;
  private hopMethod = '';
  private hopPayload: { body: string; contentType: string } | null = null;
  private hopScheduled: number | undefined = undefined;
  private hop = 0;

  constructor(
    readonly id: number,
    credential: Credential | undefined,
    private readonly shared: VuShared,
    private readonly transport: Transport,
  ) {
    this.vars = { vu: String(id), iteration: '0', username: credential?.username ?? '', password: credential?.password ?? '' };
    this.plans = plansFor(shared);
  }

  /** Closed model: log in, loop the flow until the run stops. */
  run(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const next = (o: Outcome): void => {
        if (o === Outcome.Stopped || this.shared.control.stopped) resolve();
        else this.startIteration(undefined, next, reject);
      };
      next(Outcome.Ok);
    });
  }

  /**
   * One iteration: log in if needed, then walk the flow once. Resolves to Stopped when the run ended
   * midway. The open model calls this directly; `intendedStartMs` is then the scheduled start, and the
   * first request's latency is measured from it (coordinated-omission correction).
   */
  runIteration(intendedStartMs?: number): Promise<Outcome> {
    return new Promise<Outcome>((resolve, reject) => this.startIteration(intendedStartMs, resolve, reject));
  }

  /** Aborts the request in flight; it will not be recorded. */
  abort(): void {
    this.stoppedByAbort = true;
    this.exchange.abort();
  }

  // An iteration is driven by callbacks, not an async function: a step's answer arrives in hopDone
  // (from the socket's read callback), which judges it and sends the next request straight away. No
  // promise or suspended frame per request; run() and runIteration() are the only promises.

  private startIteration(intendedStartMs: number | undefined, end: (o: Outcome) => void, fail: (err: unknown) => void): void {
    this.iterEnd = end;
    this.iterFail = fail;
    this.iterScheduled = intendedStartMs;
    if (this.shared.scenario.login.length > 0 && !this.loggedIn) {
      this.inLogin = true;
      this.stepPos = 0;
    } else this.beginFlow();
    this.sendStep();
  }

  private beginFlow(): void {
    this.inLogin = false;
    this.stepPos = 0;
    this.iteration++;
    this.vars.iteration = String(this.iteration);
  }

  /** Sends the step at `stepPos`; its outcome comes back through {@link stepDone}. */
  private sendStep(): void {
    const step = (this.inLogin ? this.shared.scenario.login : this.shared.scenario.flow)[this.stepPos]!;
    // The first request of an iteration is timed from its scheduled start (open model).
    this.hopStep = step;
    this.hopScheduled = this.iterScheduled;
    this.iterScheduled = undefined;
    try {
      this.beginStep(step);
    } catch (err) {
      this.failIteration(err);
      return;
    }
    this.hopNow();
  }

  /** A step is over: record it and go on (next step, think, log in again) or end the iteration. */
  private stepDone(r: Outcome): void {
    const step = this.hopStep!;
    const { scenario, collector } = this.shared;
    if (r === Outcome.Stopped) return this.endIteration(r);
    if (this.inLogin) {
      if (r !== Outcome.Ok) {
        collector.recordLogin(false, this.failureReason);
        return this.endIteration(Outcome.Failed);
      }
      this.stepPos++;
      const next = this.stepPos === scenario.login.length ? AfterThink.LoggedIn : AfterThink.NextStep;
      if (step.thinkMs !== null) this.think(step.thinkMs, next);
      else this.goOn(next);
      return;
    }
    if (r !== Outcome.NoResponse) collector.recordFlowRequest(r !== Outcome.Lost);
    if (r === Outcome.Lost) {
      this.loggedIn = false;
      collector.recordIteration(false);
      return this.endIteration(r);
    }
    this.stepPos++;
    this.think(step.thinkMs ?? this.shared.thinkMs, this.stepPos === scenario.flow.length ? AfterThink.IterationDone : AfterThink.NextStep);
  }

  private goOn(next: AfterThink): void {
    switch (next) {
      case AfterThink.NextStep:
        return this.sendStep();
      case AfterThink.LoggedIn:
        this.loggedIn = true;
        this.loginBackend = this.lastBackend;
        this.shared.collector.recordLogin(true);
        this.beginFlow();
        return this.sendStep();
      case AfterThink.IterationDone:
        this.shared.collector.recordIteration(true);
        return this.endIteration(Outcome.Ok);
    }
  }

  /** Waits `ms` (cut short when the run stops: the iteration then ends as Stopped), then goes on. */
  private think(ms: number, next: AfterThink): void {
    const control = this.shared.control;
    if (control.stopped) return this.endIteration(Outcome.Stopped);
    if (ms <= 0) return this.goOn(next);
    this.afterThink = next;
    this.thinkTimer = setTimeout(this.thinkOver, ms);
    control.signal.addEventListener('abort', this.thinkCut, { once: true });
  }

  private readonly thinkOver = (): void => {
    this.thinkTimer = null;
    this.shared.control.signal.removeEventListener('abort', this.thinkCut);
    try {
      if (this.shared.control.stopped) this.endIteration(Outcome.Stopped);
      else this.goOn(this.afterThink);
    } catch (err) {
      this.failIteration(err);
    }
  };

  private readonly thinkCut = (): void => {
    if (this.thinkTimer === null) return;
    clearTimeout(this.thinkTimer);
    this.thinkTimer = null;
    this.endIteration(Outcome.Stopped);
  };

  private endIteration(o: Outcome): void {
    const end = this.iterEnd;
    this.iterEnd = null;
    this.iterFail = null;
    end?.(o);
  }

  private failIteration(err: unknown): void {
    const fail = this.iterFail;
    this.iterEnd = null;
    this.iterFail = null;
    fail?.(err);
  }

  private buildBody(step: Step): { body: string; contentType: string } | null {
    const b = step.body;
    const vars = this.vars;
    switch (b.kind) {
      case 'none':
        if (!step.hiddenInputs) return null;
        return { body: new URLSearchParams(this.hidden).toString(), contentType: 'application/x-www-form-urlencoded' };
      case 'form': {
        const params = new URLSearchParams(step.hiddenInputs ? this.hidden : undefined);
        for (const [k, t] of b.fields) params.set(k, renderTemplate(t, vars));
        return { body: params.toString(), contentType: 'application/x-www-form-urlencoded' };
      }
      case 'json':
        return {
          body: JSON.stringify(b.value, (_k, v: unknown) => {
            if (typeof v !== 'string') return v;
            const t = b.strings.get(v);
            return t ? renderTemplate(t, vars) : v;
          }),
          contentType: 'application/json',
        };
      case 'raw':
        return { body: renderTemplate(b.template, vars), contentType: 'text/plain' };
    }
  }

  /** Request headers; cached per step while the cookie header (a cached string) stays the same. */
  private headersFor(step: Step, cookie: string | null, contentType: string | null): string[] {
    const cached = this.headerCache[step.index];
    const cacheable = contentType === null && this.plans[step.index]!.constantHeaders;
    if (cacheable && cached !== undefined && cached.cookie === cookie) return cached.headers;
    const headers = this.buildHeaders(step, cookie, contentType);
    if (cacheable) this.headerCache[step.index] = { cookie, headers };
    return headers;
  }

  /** Request headers as [name, value, ...] (uncached: the built-in client caches whole requests). */
  private buildHeaders(step: Step, cookie: string | null, contentType: string | null): string[] {
    const headers: string[] = [];
    let hasUa = false;
    for (const [k, t] of step.headers) {
      headers.push(k, renderTemplate(t, this.vars));
      if (k === 'user-agent') hasUa = true;
    }
    if (!hasUa) headers.push('user-agent', USER_AGENT);
    if (contentType !== null && !step.headers.some(([k]) => k === 'content-type')) headers.push('content-type', contentType);
    if (cookie !== null) headers.push('cookie', cookie);
    return headers;
  }

  /**
   * The request for the built-in client; for a step's own constant URL without a body it is cached while
   * the cookie header (a cached string) stays the same, so a steady request builds nothing.
   */
  private requestHead(step: Step, url: ResolvedUrl, method: string, cookie: string | null, payload: { body: string; contentType: string } | null, conn: H1Connection): RequestHead | Error {
    const plan = this.plans[step.index]!;
    const cacheable = payload === null && url === this.shared.constantUrls[step.index] && plan.constantHeaders;
    if (cacheable) {
      const c = cookie === null ? plan.cookielessHead : this.headCache[step.index];
      // Connections to one origin write the same head, whichever VU owns them.
      if (c != null && c.cookie === cookie && c.url === url && c.conn.origin === conn.origin) return c.head;
    }
    const head = buildRequestHead(conn, method, url.path, this.buildHeaders(step, cookie, payload?.contentType ?? null), payload?.body ?? null);
    if (cacheable && !(head instanceof Error)) {
      const entry = { url, conn, cookie, head };
      if (cookie === null) plan.cookielessHead = entry;
      else this.headCache[step.index] = entry;
    }
    return head;
  }

  private fail(reason: string): Outcome {
    this.failureReason = reason;
    return Outcome.Failed;
  }

  /** Sends the current hop; its answer comes back through {@link hopDone}. */
  private hopNow(): void {
    try {
      if (!this.sendHop(this.hopStep!)) this.stepDone(Outcome.Stopped);
    } catch (err) {
      this.failIteration(err);
    }
  }

  private readonly hopDone = (): void => {
    try {
      const r = this.judgeHop(this.hopStep!);
      if (r === NEXT_HOP) this.hopNow();
      else this.stepDone(r);
    } catch (err) {
      this.failIteration(err);
    }
  };

  private beginStep(step: Step): void {
    this.hopUrl = this.shared.constantUrls[step.index] ?? resolveStepUrl(renderTemplate(step.url, this.vars), this.shared.base);
    this.hopMethod = step.method;
    this.hopPayload = this.buildBody(step);
    this.hop = 0;
  }

  /** Sends the current hop's request (answer in hopDone); false when the run is over (no request may start). */
  private sendHop(step: Step): boolean {
    if (!this.shared.control.takeRequest()) return false;
    const url = this.hopUrl!;
    const method = this.hopMethod;
    const payload = this.hopPayload;
    const spec = this.shared.exchangeSpecs[step.index]!;
    const ex = this.exchange;
    const cookie = this.jar.headerFor(url.href, Date.now());
    // The VU's own connection when the built-in client can carry the request, else undici.
    const conn =
      this.plans[step.index]!.builtIn && (payload === null || (method !== 'GET' && method !== 'DELETE')) ? this.transport.connectionFor(url.origin) : null;
    if (conn !== null) {
      const head = this.requestHead(step, url, method, cookie, payload, conn);
      if (head instanceof Error) ex.startFailedH1(spec, head, this.hopDone);
      else ex.startH1(conn, head, spec, this.shared.timeoutMs, this.hopDone);
      return true;
    }
    const opts: Dispatcher.DispatchOptions = {
      origin: url.origin,
      path: url.path,
      method,
      headers: this.headersFor(step, cookie, payload?.contentType ?? null),
      body: payload?.body ?? null,
      reset: this.transport.reset,
      headersTimeout: this.shared.timeoutMs,
      bodyTimeout: this.shared.timeoutMs,
    };
    // undici: the answer is judged after its callbacks have returned (a promise turn later).
    void ex.send(this.transport.dispatcherFor(url.origin), opts, spec).then(this.hopDone);
    return true;
  }

  /** Records the current hop's answer; returns the step's outcome, or NEXT_HOP to follow a redirect. */
  private judgeHop(step: Step): Outcome | typeof NEXT_HOP {
    const { collector, scenario, loginPaths } = this.shared;
    const ex = this.exchange;
    const url = this.hopUrl!;
    if (this.stoppedByAbort) return Outcome.Stopped;
    const now = ex.endMs;
    const scheduled = this.hopScheduled;
    const startedAt = scheduled !== undefined && scheduled < ex.startMs ? scheduled : ex.startMs;
    this.hopScheduled = undefined;
    const latencyUs = Math.max(1, Math.round((now - startedAt) * 1000));
    if (ex.error !== null) {
      collector.recordError(step.index, classifyError(ex.error), ex.error, now);
      this.failureReason = `${step.name}: ${(ex.error as Error).message ?? ex.error}`;
      return Outcome.NoResponse;
    }
    if (ex.setCookies !== null) this.jar.store(ex.setCookies, url.href);
    const status = ex.status;
    if (ex.servedBy !== null) this.lastBackend = ex.servedBy;

    if (status >= 300 && status < 400 && ex.location !== null) {
      let next: URL | null = null;
      try {
        next = new URL(ex.location, url.href);
      } catch {
        next = null;
      }
      if (next !== null && loginPaths.length > 0 && isLoginPath(next.pathname, loginPaths) && !this.expectsLocation(step, next)) {
        if (step.phase === 'flow') {
          collector.recordResponse(step.index, latencyUs, status, ex.bytes, ex.servedBy, false, now);
          this.recordLoss(step, url, status, 'redirect-to-login', now);
          return Outcome.Lost;
        }
        collector.recordResponse(step.index, latencyUs, status, ex.bytes, ex.servedBy, true, now);
        return this.fail(`${step.name}: answered ${status} back to the login page (${ex.location})`);
      }
      if (next !== null && step.followRedirects && this.hop < MAX_REDIRECTS) {
        collector.recordResponse(step.index, latencyUs, status, ex.bytes, ex.servedBy, false, now);
        this.hopUrl = fromUrl(next);
        if (status === 303 || ((status === 301 || status === 302) && this.hopMethod === 'POST')) {
          this.hopMethod = 'GET';
          this.hopPayload = null;
        }
        this.hop++;
        return NEXT_HOP;
      }
    }

    // The final response of this step.
    if (step.phase === 'flow') {
      const loss = lossInResponse(status, ex.body, scenario.session);
      if (loss !== null) {
        collector.recordResponse(step.index, latencyUs, status, ex.bytes, ex.servedBy, false, now);
        this.recordLoss(step, url, status, loss, now);
        return Outcome.Lost;
      }
    } else if (status >= 200 && status < 300 && scenario.session.lostBodyMatch !== null && step.index === scenario.login.length - 1 && ex.body !== null && scenario.session.lostBodyMatch.test(ex.body)) {
      collector.recordResponse(step.index, latencyUs, status, ex.bytes, ex.servedBy, true, now);
      return this.fail(`${step.name}: answered the login form again`);
    }
    const problem = this.checkExpectation(step, url, status);
    const extractProblem = problem === null ? this.extract(step) : null;
    if (this.shared.captureHidden[step.index] && ex.body !== null) this.hidden = hiddenInputs(ex.body);
    const failed = problem !== null || extractProblem !== null;
    collector.recordResponse(step.index, latencyUs, status, ex.bytes, ex.servedBy, failed, now);
    // The page is not needed any more: a VU that thinks for a while should not hold it.
    ex.body = null;
    return failed ? this.fail(`${step.name}: ${problem ?? extractProblem}`) : Outcome.Ok;
  }

  /** A step that expects a redirect to the login path (e.g. logout) is not a loss. */
  private expectsLocation(step: Step, next: URL): boolean {
    const loc = step.expect.location;
    return loc !== null && (next.pathname === loc || next.pathname + next.search === loc);
  }

  private checkExpectation(step: Step, url: ResolvedUrl, status: number): string | null {
    const ex = this.exchange;
    const e = step.expect;
    if (e.statuses !== null) {
      if (!e.statuses.has(status)) return `expected status ${[...e.statuses].join(' or ')}, got ${status}`;
    } else if (status >= 400) return `status ${status}`;
    if (e.location !== null) {
      if (ex.location === null) return `expected a redirect to ${e.location}, got no Location`;
      let target: URL;
      try {
        target = new URL(ex.location, url.href);
      } catch {
        return `invalid Location "${ex.location}"`;
      }
      const want = e.location.includes('?') ? target.pathname + target.search : target.pathname;
      if (want !== e.location && target.href !== e.location && !want.endsWith(e.location)) {
        return `expected a redirect to ${e.location}, got ${ex.location}`;
      }
    }
    if (e.bodyMatch !== null && (ex.body === null || !e.bodyMatch.test(ex.body))) {
      return `body does not match /${e.bodyMatch.source}/`;
    }
    return null;
  }

  private extract(step: Step): string | null {
    const ex = this.exchange;
    let h = 0;
    const all = step.extract;
    for (let i = 0; i < all.length; i++) {
      const x = all[i]!;
      let value: string | null = null;
      if (x.kind === 'header') value = ex.captured[h++] ?? null;
      else if (ex.body !== null) {
        if (x.kind === 'json') {
          try {
            value = jsonPath(JSON.parse(ex.body), x.path);
          } catch {
            value = null;
          }
        } else {
          const m = x.regex.exec(ex.body);
          if (m) value = x.kind === 'regex' ? (m[x.group] ?? null) : decodeEntities(m[1] ?? m[2] ?? m[3] ?? '');
        }
      }
      if (value === null) return `extract ${x.name}: no match`;
      // A match is a slice of the page: keeping the slice would keep the whole page (per VU, until the
      // next extraction), so the value is copied.
      const body = ex.body;
      this.vars[x.name] = body !== null && value.length >= 13 && value.length * 2 < body.length ? copyString(value) : value;
    }
    return null;
  }

  private recordLoss(step: Step, url: ResolvedUrl, status: number, reason: LossReason, nowMs: number): void {
    const { collector } = this.shared;
    collector.recordLoss(
      step.index,
      {
        atMs: collector.sinceStart(nowMs),
        vu: this.id,
        step: step.name,
        method: this.hopMethod,
        url: step.url.usesSecret ? displayTemplate(step.url, this.vars) : url.path,
        status,
        reason,
        location: reason === 'redirect-to-login' ? this.exchange.location : null,
        backend: this.exchange.servedBy,
        loginBackend: this.loginBackend,
      },
      nowMs,
    );
  }
}


