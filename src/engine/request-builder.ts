/**
 * Builds a VU's requests from its steps: the body (form, JSON, raw, hidden inputs), the headers, and the
 * whole request for the built-in client. Steady requests build nothing: a step's headers and its whole
 * request are cached while the URL, the connection's origin and the cookie header stay the same.
 */
import { VERSION } from '../common/version.js';
import type { Step } from '../scenario/types.js';
import { renderTemplate, type Vars } from '../scenario/template.js';
import type { H1Connection } from './http/h1/connection.js';
import { ACCEPT_ENCODING } from './http/content-encoding.js';
import { buildRequestHead, SPECIAL_REQUEST_HEADERS, validHeaderValue, type RequestHead } from './http/request-head.js';
import { invalidArgument } from './http/errors.js';
import type { ResolvedUrl } from './url.js';
import type { VuShared } from './vu-shared.js';

const USER_AGENT = `session-bench/${VERSION}`;

/** A request body and its content type. */
export interface Payload {
  body: string;
  contentType: string;
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
  /** A cookieless request without its final empty line, for a VU's cookie line to end (see h1Head). */
  beforeCookie?: string | undefined;
}

/** What is fixed per step for a run, computed once and shared by every VU. */
interface StepPlan {
  /** No body and no content-length: the cookie header is the last line of the request (see h1Head). */
  readonly cookieLast: boolean;
  /** Every header is constant (requests differ only by URL and cookie). */
  readonly constantHeaders: boolean;
  /** The built-in HTTP/1.1 client can send it (undici handles a few headers and methods specially). */
  readonly builtIn: boolean;
  /** The request without a cookie, for the step's constant URL: the same for every VU, built once. */
  cookielessHead: HeadCacheEntry | null;
}
const PLAN_METHODS: ReadonlySet<string> = new Set(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']);
/** Methods whose request carries a content-length (0 without a body), written after the cookie. */
const PAYLOAD_METHODS: ReadonlySet<string> = new Set(['POST', 'PUT', 'PATCH']);
const plans = new WeakMap<VuShared, readonly StepPlan[]>();
function plansFor(shared: VuShared): readonly StepPlan[] {
  let p = plans.get(shared);
  if (p === undefined) {
    p = [...shared.scenario.login, ...shared.scenario.flow].map((s) => ({
      cookieLast: !PAYLOAD_METHODS.has(s.method),
      constantHeaders: s.headers.every(([, t]) => t.constant !== null),
      builtIn: PLAN_METHODS.has(s.method) && !s.headers.some(([k]) => SPECIAL_REQUEST_HEADERS.has(k)),
      cookielessHead: null,
    }));
    plans.set(shared, p);
  }
  return p;
}

/** One VU's request builder (its caches are per VU; the cookieless requests are shared by all VUs). */
export class RequestBuilder {
  private readonly headerCache: (HeaderCacheEntry | undefined)[] = [];
  private readonly headCache: (HeadCacheEntry | undefined)[] = [];
  /** The request's last lines, `cookie: ...\r\n\r\n`, for the cookie header it was made for: one per VU. */
  private cookieTail = '';
  private cookieTailFor: string | null = null;
  private readonly plans: readonly StepPlan[];

  constructor(
    private readonly shared: VuShared,
    private readonly vars: Vars,
  ) {
    this.plans = plansFor(shared);
  }

  /** The built-in client can carry this step's request (undici must take bodies on GET and DELETE). */
  builtInCapable(step: Step, method: string, payload: Payload | null): boolean {
    return this.plans[step.index]!.builtIn && (payload === null || (method !== 'GET' && method !== 'DELETE'));
  }

  /** The step's body; `hidden` are the hidden inputs of the previous page (posted when the step asks). */
  body(step: Step, hidden: readonly [string, string][]): Payload | null {
    const b = step.body;
    const vars = this.vars;
    switch (b.kind) {
      case 'none':
        if (!step.hiddenInputs) return null;
        return { body: new URLSearchParams(hidden as [string, string][]).toString(), contentType: 'application/x-www-form-urlencoded' };
      case 'form': {
        const params = new URLSearchParams(step.hiddenInputs ? (hidden as [string, string][]) : undefined);
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

  /** Request headers for undici as [name, value, ...]; cached per step while the cookie header stays the same. */
  headers(step: Step, url: ResolvedUrl, cookie: string | null, contentType: string | null): string[] {
    const cached = this.headerCache[step.index];
    // The headers depend on the URL only through its origin (credentials go to the step's own origin
    // alone): every request of a step to that origin shares them, a templated path included.
    const cacheable = contentType === null && url.origin === this.stepOrigin(step) && this.plans[step.index]!.constantHeaders;
    if (cacheable && cached !== undefined && cached.cookie === cookie) return cached.headers;
    const headers = this.buildHeaders(step, url, cookie, contentType);
    if (cacheable) this.headerCache[step.index] = { cookie, headers };
    return headers;
  }

  /** The origin a step's own requests go to (its constant URL's, else the target's). */
  private stepOrigin(step: Step): string {
    return this.shared.constantUrls[step.index]?.origin ?? this.shared.base.origin;
  }

  /**
   * Request headers as [name, value, ...] (uncached: the built-in client caches whole requests). The
   * step's `authorization` (and the target URL's credentials) go only to the step's own origin: after a
   * redirect to another host they are dropped, as curl, fetch and browsers do.
   */
  private buildHeaders(step: Step, url: ResolvedUrl, cookie: string | null, contentType: string | null): string[] {
    const headers: string[] = [];
    const ownOrigin = url.origin === this.stepOrigin(step);
    let hasUa = false;
    let hasAuth = false;
    let hasAcceptEncoding = false;
    for (const [k, t] of step.headers) {
      if (k === 'accept-encoding') hasAcceptEncoding = true;
      if (k === 'authorization' || k === 'proxy-authorization') {
        hasAuth = true;
        if (!ownOrigin) continue;
      }
      headers.push(k, renderTemplate(t, this.vars));
      if (k === 'user-agent') hasUa = true;
    }
    const basic = this.shared.base.authorization;
    if (basic !== null && !hasAuth && url.origin === this.shared.base.origin) headers.push('authorization', basic);
    if (!hasUa) headers.push('user-agent', USER_AGENT);
    if (!hasAcceptEncoding) headers.push('accept-encoding', ACCEPT_ENCODING);
    if (contentType !== null && !step.headers.some(([k]) => k === 'content-type')) headers.push('content-type', contentType);
    if (cookie !== null) headers.push('cookie', cookie);
    return headers;
  }

  /**
   * The whole request for the built-in client; for a step's own constant URL without a body it is cached
   * while the cookie header (a cached string) stays the same, so a steady request builds nothing.
   */
  h1Head(step: Step, url: ResolvedUrl, method: string, cookie: string | null, payload: Payload | null, conn: H1Connection): RequestHead | Error {
    const plan = this.plans[step.index]!;
    const cacheable = payload === null && url === this.shared.constantUrls[step.index] && plan.constantHeaders;
    if (cacheable && cookie !== null && plan.cookieLast && method === step.method) {
      // The step's request without a cookie (shared by every VU) with this VU's cookie line at the end:
      // the VU keeps one short line, not one whole request per step (memory per VU, 10,000s of VUs).
      const c = this.cookielessHead(step, url, method, conn, plan);
      if (c instanceof Error) return c;
      if (typeof c.head === 'string' && c.head.endsWith('\r\n\r\n')) {
        if (this.cookieTailFor !== cookie) {
          if (!validHeaderValue(cookie)) return invalidArgument('invalid cookie header');
          this.cookieTail = `cookie: ${cookie}\r\n\r\n`;
          this.cookieTailFor = cookie;
        }
        c.beforeCookie ??= c.head.slice(0, -2);
        return c.beforeCookie + this.cookieTail;
      }
    }
    if (cacheable) {
      const c = cookie === null ? plan.cookielessHead : this.headCache[step.index];
      // Connections to one origin write the same head, whichever VU owns them.
      if (c != null && c.cookie === cookie && c.url === url && c.conn.origin === conn.origin && c.conn.persistent === conn.persistent) return c.head;
    }
    const head = buildRequestHead(conn.hostHeader, method, url.path, this.buildHeaders(step, url, cookie, payload?.contentType ?? null), payload?.body ?? null, conn.persistent ? 'keep-alive' : 'close');
    if (cacheable && !(head instanceof Error)) {
      const entry = { url, conn, cookie, head };
      if (cookie === null) plan.cookielessHead = entry;
      else this.headCache[step.index] = entry;
    }
    return head;
  }

  /** A cacheable step's request without a cookie, built once for every VU (per connection origin and kind). */
  private cookielessHead(step: Step, url: ResolvedUrl, method: string, conn: H1Connection, plan: StepPlan): HeadCacheEntry | Error {
    const c = plan.cookielessHead;
    if (c !== null && c.url === url && c.conn.origin === conn.origin && c.conn.persistent === conn.persistent) return c;
    const head = buildRequestHead(conn.hostHeader, method, url.path, this.buildHeaders(step, url, null, null), null, conn.persistent ? 'keep-alive' : 'close');
    if (head instanceof Error) return head;
    return (plan.cookielessHead = { url, conn, cookie: null, head });
  }
}
