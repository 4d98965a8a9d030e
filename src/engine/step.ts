/**
 * One step of a VU, request by request: build it, send it, judge the answer, follow redirects. The
 * judging is where a session loss is decided (with the pure rules of session.ts) and where every answer
 * is recorded into the Collector. Driven by callbacks: the answer arrives in `hopDone` (from the socket's
 * read callback for the built-in client), which judges it and sends the next hop straight away.
 */
import type { Dispatcher } from 'undici';
import { extractFromBody, hiddenInputs, PASSWORD_INPUT_PATTERN } from '../scenario/extract.js';
import { displayTemplate, renderTemplate, type Vars } from '../scenario/template.js';
import type { Step } from '../scenario/types.js';
import type { VuCookieJar } from './cookies.js';
import { classifyError } from './http/errors.js';
import { Exchange } from './http/exchange.js';
import type { H1Connection } from './http/h1/connection.js';
import type { RequestHead } from './http/request-head.js';
import type { OutgoingRequest, Transport } from './http/transport.js';
import { RequestBuilder, type Payload } from './request-builder.js';
import type { UserFigures } from '../metrics/collector.js';
import { backendFromSetCookies, cookieNameValue, deletesCookie, isAffinityCookie, isLoginPath, lossInResponse, sessionIdPart, type LossReason } from './session.js';
import { fromUrl, methodAfterRedirect, resolveStepUrl, type ResolvedUrl } from './url.js';
import type { HopTrace, VuShared } from './vu-shared.js';

/** Redirects followed per step; one more is a failure, "too many redirects" (browsers stop near 20). */
export const MAX_REDIRECTS = 10;

/** Outcome of one step. */
export enum Outcome {
  Ok,
  /** Response arrived but failed the expectation (or a login step failed). */
  Failed,
  /** No response (transport error). */
  NoResponse,
  /** The response showed the session was lost (flow steps only). */
  Lost,
  /** The run stopped before or during the step; nothing recorded. */
  Stopped,
  /**
   * A login step's page sent the user on to a logged-in page of the app: the session was still valid
   * (so the loss that sent this VU to log in again was not one the app shows on every page).
   */
  StillLoggedIn,
}

/** A password field anywhere on a page: a login form (ours or an identity provider's). */
const PASSWORD_FIELD = new RegExp(PASSWORD_INPUT_PATTERN, 'i');

/** Methods that may be sent again without changing what they do (RFC 9110 §9.2.2). */
const IDEMPOTENT_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'PUT', 'DELETE', 'OPTIONS', 'TRACE']);

const HOP_OUTCOMES: Record<Outcome, HopTrace['outcome']> = {
  [Outcome.Ok]: 'ok',
  [Outcome.Failed]: 'failed',
  [Outcome.NoResponse]: 'no response',
  [Outcome.Lost]: 'lost',
  [Outcome.Stopped]: 'stopped',
  [Outcome.StillLoggedIn]: 'still logged in',
};

/** judgeHop: follow the redirect (not an Outcome). */
const NEXT_HOP = -1;

/** A flat copy of a string (never a slice of a larger one). */
const copyString = (s: string): string => Buffer.from(s, 'utf8').toString('utf8');

/** Where a step's outcome goes: the VU's state machine. */
export interface StepOwner {
  stepDone(outcome: Outcome): void;
  /** A bug while handling the step: the iteration fails with it. */
  stepCrashed(err: unknown): void;
}

/**
 * A VU's step runner: owns its exchange, its request builder and what it learned from answers (the
 * backend of the last login, the hidden inputs of the last page). One step at a time. It is also the
 * {@link OutgoingRequest} the transport reads, so a request is described without allocating.
 */
export class StepRunner implements OutgoingRequest {
  // OutgoingRequest: the hop being sent.
  origin = '';
  builtInCapable = false;
  idempotent = true;

  /** Why the last step failed (reported with a failed login). */
  failureReason = '';
  /**
   * How long the VU should wait before its next request: set when the generator itself ran out of file
   * descriptors or ports (error kind `local`), doubling up to 1 s while it lasts, 0 after an answer.
   */
  backoffMs = 0;
  private readonly exchange = new Exchange();
  private readonly builder: RequestBuilder;
  /** Backend that answered the last login step, for loss events. */
  private loginBackend: string | null = null;
  private lastBackend: string | null = null;
  /** The backend that the VU's affinity cookie or session-id route names (no backend header). */
  private cookieBackend: string | null = null;
  private regenerated = false;
  // What this VU saw over the run (UserFigures).
  private everLoggedIn = false;
  private firstLoginBackend: string | null = null;
  private losses = 0;
  private sinceLogin = 0;
  private attributedRequests = 0;
  private sameBackend = 0;
  private hidden: [string, string][] = [];
  /** Why the last loss was judged one (told to `check`). */
  private lastLossReason: LossReason | null = null;
  private stoppedByAbort = false;
  // The step being sent: what a redirect hop carries over.
  private step: Step | null = null;
  private url: ResolvedUrl | null = null;
  private method = '';
  private payload: Payload | null = null;
  private cookie: string | null = null;
  /** Open model: the first request's scheduled start (its latency is measured from it). */
  private scheduledMs: number | undefined = undefined;
  private hop = 0;

  constructor(
    private readonly vuId: number,
    private readonly shared: VuShared,
    private readonly transport: Transport,
    private readonly jar: VuCookieJar,
    private readonly vars: Vars,
    private readonly owner: StepOwner,
  ) {
    this.builder = new RequestBuilder(shared, vars);
  }

  /** Sends `step`; its outcome comes back through `owner.stepDone`. */
  start(step: Step, scheduledMs: number | undefined): void {
    this.step = step;
    this.scheduledMs = scheduledMs;
    try {
      this.url = this.shared.constantUrls[step.index] ?? resolveStepUrl(renderTemplate(step.url, this.vars), this.shared.base);
      this.method = step.method;
      this.payload = this.builder.body(step, this.hidden);
      this.hop = 0;
      this.regenerated = false;
    } catch (err) {
      this.owner.stepCrashed(err);
      return;
    }
    this.hopNow();
  }

  /** The login just completed: losses from now on are attributed to the backend that served it. */
  loggedIn(): void {
    this.loginBackend = this.lastBackend;
    this.sinceLogin = 0;
    if (!this.everLoggedIn) {
      this.everLoggedIn = true;
      this.firstLoginBackend = this.lastBackend;
    }
  }

  /** What this VU saw over the whole run. */
  figures(): UserFigures {
    return {
      loggedIn: this.everLoggedIn,
      losses: this.losses,
      firstLoginBackend: this.firstLoginBackend,
      attributedRequests: this.attributedRequests,
      sameBackend: this.sameBackend,
    };
  }

  /** The session was lost: clear the jar as the scenario's re-login policy says, before logging in again. */
  afterLoss(): void {
    const { relogin } = this.shared.scenario.session;
    if (relogin === 'fresh') {
      this.jar.clear();
      this.cookieBackend = null;
    }
    else if (relogin === 'clear-session') this.forgetSession();
  }

  /** Aborts the request in flight; it will not be recorded. */
  abort(): void {
    this.stoppedByAbort = true;
    this.exchange.abort();
  }

  // --- OutgoingRequest (read by the transport while sending)

  h1Head(conn: H1Connection): RequestHead | Error {
    return this.builder.h1Head(this.step!, this.url!, this.method, this.cookie, this.payload, conn);
  }

  dispatchOptions(): Dispatcher.DispatchOptions {
    const url = this.url!;
    const payload = this.payload;
    return {
      origin: url.origin,
      path: url.path,
      method: this.method,
      headers: this.builder.headers(this.step!, url, this.cookie, payload?.contentType ?? null),
      body: payload?.body ?? null,
    };
  }

  // --- sending and judging

  /** Sends the current hop; its answer comes back through {@link hopDone}. */
  private hopNow(): void {
    try {
      if (!this.sendHop(this.step!)) this.owner.stepDone(Outcome.Stopped);
    } catch (err) {
      this.owner.stepCrashed(err);
    }
  }

  private readonly hopDone = (): void => {
    try {
      const trace = this.shared.trace;
      const sent = trace === null ? null : this.sentOfHop();
      const r = this.judgeHop(this.step!);
      if (sent !== null) trace!(this.hopTrace(sent, r));
      if (r === NEXT_HOP) this.hopNow();
      else this.owner.stepDone(r);
    } catch (err) {
      this.owner.stepCrashed(err);
    }
  };

  /** What the hop in hand sent, read before judging (judging moves on to a redirect's URL). */
  private sentOfHop(): { method: string; url: string } {
    const step = this.step!;
    return { method: this.method, url: step.url.usesSecret ? displayTemplate(step.url, this.vars) : this.url!.path };
  }

  /** What `check` is told of a judged hop. */
  private hopTrace(sent: { method: string; url: string }, r: Outcome | typeof NEXT_HOP): HopTrace {
    const ex = this.exchange;
    const now = Date.now();
    const answered = ex.error === null && !this.stoppedByAbort;
    return {
      step: this.step!,
      ...sent,
      status: answered ? ex.status : 0,
      location: answered ? ex.location : null,
      cookies: (answered ? (ex.setCookies ?? []) : []).map((c) => {
        const [name, value] = cookieNameValue(c);
        return deletesCookie(c, value, now) ? `-${name}` : name;
      }),
      backend: answered ? (ex.servedBy ?? this.cookieBackend) : null,
      outcome: r === NEXT_HOP ? 'redirect' : HOP_OUTCOMES[r],
      reason: r === Outcome.Failed || r === Outcome.NoResponse ? this.failureReason : r === Outcome.Lost ? this.lastLossReason : null,
    };
  }

  /** Forgets the session (the cookies the login set, but an affinity cookie): also how `check` shows the loss rule fires. */
  forgetSession(): void {
    this.jar.forget((name) => this.isSessionCookie(name));
  }

  /** A cookie the login set that is not an affinity cookie: what a lost session takes away. */
  isSessionCookie(name: string): boolean {
    return this.shared.loginCookieNames.has(name) && !isAffinityCookie(name, this.shared.scenario.session.keepCookies);
  }

  /** Sends the current hop's request; false when the run is over (no request may start). */
  private sendHop(step: Step): boolean {
    if (!this.shared.control.takeRequest()) return false;
    const url = this.url!;
    this.origin = url.origin;
    this.cookie = this.jar.headerFor(url.href, Date.now());
    this.builtInCapable = this.builder.builtInCapable(step, this.method, this.payload);
    this.idempotent = this.method === 'GET' || IDEMPOTENT_METHODS.has(this.method);
    this.transport.send(this.exchange, this, this.shared.exchangeSpecs[step.index]!, this.hopDone);
    return true;
  }

  /** Records the current hop's answer; returns the step's outcome, or NEXT_HOP to follow a redirect. */
  private judgeHop(step: Step): Outcome | typeof NEXT_HOP {
    const { collector, scenario, loginPaths } = this.shared;
    const ex = this.exchange;
    const url = this.url!;
    if (this.stoppedByAbort) {
      // In flight when the run stopped (after the grace period, or Ctrl-C): its answer never came.
      collector.recordAborted();
      return Outcome.Stopped;
    }
    const now = ex.endMs;
    const scheduled = this.scheduledMs;
    const startedAt = scheduled !== undefined && scheduled < ex.startMs ? scheduled : ex.startMs;
    this.scheduledMs = undefined;
    const latencyUs = Math.max(1, Math.round((now - startedAt) * 1000));
    if (ex.retries > 0) collector.recordRetries(ex.retries);
    if (ex.error !== null) {
      const kind = classifyError(ex.error);
      this.backoffMs = kind === 'local' ? Math.min(1000, Math.max(50, this.backoffMs * 2)) : 0;
      collector.recordError(step.index, kind, ex.error, now);
      this.failureReason = `${step.name}: ${(ex.error as Error).message ?? ex.error}`;
      return Outcome.NoResponse;
    }
    this.backoffMs = 0;
    const status = ex.status;
    if (status < 100 || status > 599) {
      // RFC 9110 §15: a status is 100-599. Anything else is not an answer to count by its status.
      collector.recordError(step.index, 'invalid', new Error(`invalid status ${status}`), now);
      this.failureReason = `${step.name}: invalid status ${status}`;
      return Outcome.NoResponse;
    }
    if (ex.setCookies !== null) {
      // Compared with the jar before it takes the new cookies (a flow answer that sets cookies is rare).
      if (step.phase === 'flow' && this.sessionIdReplaced(ex.setCookies, url.href)) this.regenerated = true;
      this.jar.store(ex.setCookies, url.href);
      if (step.phase === 'login') for (const c of ex.setCookies) this.shared.loginCookieNames.add(cookieNameValue(c)[0]);
      if (this.shared.backendFromCookies) {
        const found = backendFromSetCookies(ex.setCookies, scenario.session.keepCookies, this.shared.sessionCookieNames, Date.now());
        if (found !== null) {
          this.cookieBackend = found.backend;
          collector.noteBackendSource(found.source);
        }
      }
    }
    const backend = ex.servedBy ?? this.cookieBackend;
    if (backend !== null) this.lastBackend = backend;

    if (status >= 300 && status < 400 && ex.location !== null) {
      let next: URL | null = null;
      try {
        next = new URL(ex.location, url.href);
      } catch {
        next = null;
      }
      // The first login step may be sent to the login page (a protected page that leads to an identity
      // provider's form); any later step sent there was refused.
      const toLogin = next !== null && loginPaths.length > 0 && isLoginPath(next.pathname, loginPaths) && !this.expectsLocation(step, next);
      if (toLogin && (step.phase === 'flow' || step.index > 0 || !step.followRedirects)) {
        if (step.phase === 'flow') {
          collector.recordResponse(step.index, latencyUs, status, ex.bytes, backend, false, now);
          this.countLoggedInRequest(backend);
          this.recordLoss(step, url, status, 'redirect-to-login', backend, now);
          return Outcome.Lost;
        }
        collector.recordResponse(step.index, latencyUs, status, ex.bytes, backend, true, now);
        return this.fail(`${step.name}: answered ${status} back to the login page (${ex.location})`);
      }
      if (next !== null && step.followRedirects && next.protocol !== 'http:' && next.protocol !== 'https:') {
        // A browser would hand `mailto:`, `ftp:` or an app scheme to another program: the step ends here.
        collector.recordResponse(step.index, latencyUs, status, ex.bytes, backend, true, now);
        return this.fail(`${step.name}: redirected to ${next.protocol} (${ex.location}), which session-bench cannot follow`);
      }
      if (next !== null && step.followRedirects && this.hop >= MAX_REDIRECTS) {
        collector.recordResponse(step.index, latencyUs, status, ex.bytes, backend, true, now);
        return this.fail(`${step.name}: too many redirects (${MAX_REDIRECTS + 1} in a row, the last to ${ex.location})`);
      }
      if (next !== null && step.followRedirects) {
        collector.recordResponse(step.index, latencyUs, status, ex.bytes, backend, false, now);
        this.url = fromUrl(next);
        const method = methodAfterRedirect(status, this.method);
        if (method !== this.method) {
          this.method = method;
          this.payload = null;
        }
        this.hop++;
        return NEXT_HOP;
      }
    }

    // The final response of this step.
    if (step.phase === 'flow') this.countLoggedInRequest(backend);
    if (step.phase === 'flow') {
      const loss = lossInResponse(status, ex.body, scenario.session);
      if (loss !== null) {
        collector.recordResponse(step.index, latencyUs, status, ex.bytes, backend, false, now);
        this.recordLoss(step, url, status, loss, backend, now);
        return Outcome.Lost;
      }
    } else if (status >= 200 && status < 300 && scenario.session.lostBodyMatch !== null && step.index === scenario.login.length - 1 && ex.body !== null && scenario.session.lostBodyMatch.test(ex.body)) {
      collector.recordResponse(step.index, latencyUs, status, ex.bytes, backend, true, now);
      return this.fail(`${step.name}: answered the login form again`);
    } else if (this.sentOnToAppPage(step, url, status)) {
      collector.recordResponse(step.index, latencyUs, status, ex.bytes, backend, false, now);
      ex.body = null;
      return Outcome.StillLoggedIn;
    }
    const problem = this.checkExpectation(step, url, status);
    const extractProblem = problem === null ? this.extract(step) : null;
    if (this.shared.captureHidden[step.index] && ex.body !== null) this.hidden = hiddenInputs(ex.body, this.shared.hiddenFormAction[step.index]!, url.href);
    const failed = problem !== null || extractProblem !== null;
    collector.recordResponse(step.index, latencyUs, status, ex.bytes, backend, failed, now);
    if (this.regenerated && step.phase === 'flow') collector.recordRegeneration();
    // The page is not needed any more: a VU that thinks for a while should not hold it.
    ex.body = null;
    return failed ? this.fail(`${step.name}: ${problem ?? extractProblem}`) : Outcome.Ok;
  }

  /**
   * The first login step (the login page) was redirected, within the app's origin, to a 2xx page that is
   * neither a login path nor a form with a password field: the app's way of saying "you are logged in".
   * (A redirect to an identity provider leaves the origin, and its page has a password field.)
   */
  private sentOnToAppPage(step: Step, url: ResolvedUrl, status: number): boolean {
    if (step.index !== 0 || this.hop === 0 || status < 200 || status >= 300 || this.shared.scenario.login.length < 2) return false;
    const first = this.shared.constantUrls[0];
    if (first == null || url.origin !== first.origin) return false;
    const body = this.exchange.body;
    if (body === null || PASSWORD_FIELD.test(body)) return false;
    return !isLoginPath(new URL(url.href).pathname, this.shared.loginPaths);
  }

  private fail(reason: string): Outcome {
    this.failureReason = reason;
    return Outcome.Failed;
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

  /** Runs the step's extractors into the VU's variables; the first one that finds nothing fails the step. */
  private extract(step: Step): string | null {
    const ex = this.exchange;
    const body = ex.body;
    let h = 0;
    const all = step.extract;
    for (let i = 0; i < all.length; i++) {
      const x = all[i]!;
      const value = x.kind === 'header' ? (ex.captured[h++] ?? null) : body !== null ? extractFromBody(x, body, this.url!.href) : null;
      if (value === null) return `extract ${x.name}: no match`;
      // A match is a slice of the page: keeping the slice would keep the whole page (per VU, until the
      // next extraction), so the value is copied.
      this.vars[x.name] = body !== null && value.length >= 13 && value.length * 2 < body.length ? copyString(value) : value;
    }
    return null;
  }

  /** A logged-in request got its final answer from `backend`: counted for stickiness and since-login. */
  private countLoggedInRequest(backend: string | null): void {
    this.sinceLogin++;
    if (this.loginBackend !== null && backend !== null) {
      this.attributedRequests++;
      if (backend === this.loginBackend) this.sameBackend++;
    }
  }

  /**
   * True when an answer replaces a session-id cookie the VU holds with another session (a route suffix
   * alone changing is the same session, moved; a deletion is not a replacement). Read from the jar, so
   * that no VU keeps a copy of its session id.
   */
  private sessionIdReplaced(setCookies: readonly string[], url: string): boolean {
    const names = this.shared.sessionCookieNames;
    for (const c of setCookies) {
      const [name, value] = cookieNameValue(c);
      if (!names.has(name) || deletesCookie(c, value, Date.now())) continue;
      const held = this.jar.valueFor(name, url);
      if (held !== null && held !== '' && sessionIdPart(held) !== sessionIdPart(value)) return true;
    }
    return false;
  }

  private recordLoss(step: Step, url: ResolvedUrl, status: number, reason: LossReason, backend: string | null, nowMs: number): void {
    const { collector } = this.shared;
    this.lastLossReason = reason;
    if (++this.losses === 1) collector.recordUserAffected();
    collector.recordLoss(
      step.index,
      {
        atMs: collector.sinceStart(nowMs),
        vu: this.vuId,
        step: step.name,
        method: this.method,
        url: step.url.usesSecret ? displayTemplate(step.url, this.vars) : url.path,
        status,
        reason,
        location: reason === 'redirect-to-login' ? this.exchange.location : null,
        backend,
        loginBackend: this.loginBackend,
        requestsSinceLogin: this.sinceLogin,
      },
      nowMs,
    );
  }
}
