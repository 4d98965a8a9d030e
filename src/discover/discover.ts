/**
 * `init`'s discovery: a bounded handful of requests that find how an app logs a user in and how it says a
 * session is gone, and the scenario that measures it. In order:
 *
 * 1. the given URL, redirects followed: a login form there, or behind a redirect (to the app's login page
 *    or an identity provider), else at a common login path, else a JSON login endpoint;
 * 2. one login with the credentials, from a fresh client, as the scenario's first iteration will do it:
 *    its outcome, and the cookies it set or renewed (the session), or the token it returned;
 * 3. a protected page (the landing page, or one the user names) with the session and without it: the
 *    difference is the lost-session rule, which must not fire on any logged-in page;
 * 4. the landing page's links (no logout, nothing with a side effect), each checked with the session;
 * 5. a few answers to fresh clients: a header whose value varies names the backend; a cookie set on every
 *    answer, or with a value that repeats across clients, is the balancer's affinity cookie.
 *
 * Every step's finding says how sure it is and why; what it cannot find is left for the user to edit.
 */
import { ExitCode, SessionBenchError } from '../common/errors.js';
import { VuCookieJar } from '../engine/cookies.js';
import { createProbeClient, ProbeFailure, type ProbeClient, type ProbeResponse } from '../engine/http/probe.js';
import { cookieNameValue, deletesCookie, SESSION_ID_COOKIES } from '../engine/session.js';
import { methodAfterRedirect } from '../engine/url.js';
import { hiddenInputs } from '../scenario/extract.js';
import { parseHtml } from '../scenario/html.js';
import type { ScenarioFile, StepFile } from '../scenario/schema.js';
import type { Credential } from '../scenario/users.js';
import { findAffinityCookie, findBackendHeader, type Observed } from './backend.js';
import type { Finding, ScenarioComment } from './findings.js';
import { findLoginForm, type LoginForm } from './login-form.js';
import { navigationCandidates } from './navigation.js';
import { lostSessionSignal, matches, type Answer, type LostSignal } from './session-signal.js';
import { loginFormPattern } from '../scenario/quick.js';

export interface DiscoverOptions {
  readonly url: string;
  readonly user: Credential | null;
  /** Protected pages to check the signal on and to walk (paths or URLs); default: found from links. */
  readonly pages: readonly string[];
  /** Where the login page (or JSON login endpoint) is, when the URL does not lead to it. */
  readonly loginUrl: string | null;
  readonly insecure: boolean;
  readonly timeoutMs: number;
  /** Called after each request: method, URL path, status (or error). Never the body. */
  readonly onRequest?: ((method: string, url: string, outcome: string) => void) | undefined;
}

export interface Discovery {
  readonly findings: Finding[];
  readonly scenario: ScenarioFile;
  readonly comments: ScenarioComment[];
  readonly requests: number;
  /** Whether the credentials logged in; null when none were given or no login was found. */
  readonly loginWorks: boolean | null;
}

/** The most requests discovery sends: a few dozen at most, whatever the app does. */
export const MAX_PROBE_REQUESTS = 48;
const MAX_REDIRECTS = 5;
const NAV_PAGES = 4;
const FRESH_CLIENTS = 4;
const COMMON_LOGIN_PATHS = ['/login', '/signin', '/sign-in', '/users/sign_in', '/accounts/login/', '/account/login', '/Account/Login', '/auth/login', '/user/login', '/wp-login.php'];
const COMMON_JSON_LOGINS = ['/api/login', '/api/auth/login', '/api/v1/auth/login', '/api/session', '/api/sessions', '/api/token', '/auth/login', '/login'];
const COMMON_API_PAGES = ['/api/me', '/api/user', '/api/users/me', '/api/profile', '/api/v1/me', '/me', '/userinfo', '/api/account'];
/** Keys a JSON login answer keeps its token under, in order of preference. */
const TOKEN_KEYS = ['access_token', 'accessToken', 'token', 'jwt', 'id_token', 'idToken', 'auth_token', 'authToken', 'sessionToken'];
const NOT_SESSION = /csrf|xsrf/i;

interface Seen extends Answer {
  readonly setCookies: readonly string[];
}

class DiscoveryBudgetSpent extends Error {}

/** The requests of one discovery: the budget, and every answer kept for the backend and cookie findings. */
class Prober {
  requests = 0;
  readonly observed: Observed[] = [];
  private clients = 0;
  constructor(
    readonly http: ProbeClient,
    private readonly onRequest: DiscoverOptions['onRequest'],
  ) {}

  browser(): Browser {
    return new Browser(this, this.clients++);
  }

  async send(client: number, phase: Observed['phase'], method: string, url: string, headers: Record<string, string>, body?: string): Promise<Seen> {
    if (this.requests >= MAX_PROBE_REQUESTS) throw new DiscoveryBudgetSpent(`discovery stopped after ${MAX_PROBE_REQUESTS} requests`);
    this.requests++;
    const shown = new URL(url);
    let r: ProbeResponse;
    try {
      r = await this.http.send({ method, url, headers, ...(body !== undefined ? { body } : {}) });
    } catch (err) {
      const e = err as ProbeFailure;
      this.onRequest?.(method, shown.pathname + shown.search, `no answer (${e.kind}: ${e.message})`);
      throw err;
    }
    this.onRequest?.(method, shown.pathname + shown.search, `${r.status}${r.headers['location'] !== undefined ? ` → ${r.headers['location']}` : ''}`);
    this.observed.push({ client, phase, headers: r.headers, setCookies: r.setCookies });
    return { url, status: r.status, location: r.headers['location'] ?? null, headers: r.headers, body: r.body, setCookies: r.setCookies };
  }
}

/** One client with its own cookie jar, as a browser tab would be. */
class Browser {
  readonly jar = new VuCookieJar();
  constructor(
    private readonly p: Prober,
    readonly client: number,
  ) {}

  /** Sends a request with the jar's cookies (less `dropCookies`), following redirects when `follow`. */
  async send(
    method: string,
    url: string,
    o: { body?: string; contentType?: string; headers?: Record<string, string>; follow?: boolean; phase?: Observed['phase']; dropCookies?: ReadonlySet<string>; keepJar?: boolean } = {},
  ): Promise<{ final: Seen; chain: Seen[] }> {
    const chain: Seen[] = [];
    let current = url;
    let m = method;
    let body = o.body;
    for (let hop = 0; ; hop++) {
      const headers: Record<string, string> = { accept: 'text/html,application/xhtml+xml,application/json;q=0.9,*/*;q=0.8', ...o.headers };
      let cookie = this.jar.headerFor(current, Date.now());
      if (cookie !== null && o.dropCookies !== undefined) cookie = withoutCookies(cookie, o.dropCookies);
      if (cookie !== null && cookie !== '') headers['cookie'] = cookie;
      if (body !== undefined && o.contentType !== undefined) headers['content-type'] = o.contentType;
      const seen = await this.p.send(this.client, o.phase ?? 'anonymous', m, current, headers, body);
      // keepJar: a probe whose answer must not change this client (its cookies stay as they were).
      if (!o.keepJar) this.jar.store(seen.setCookies, current);
      chain.push(seen);
      if (!(o.follow ?? true) || seen.status < 300 || seen.status >= 400 || seen.location === null || hop >= MAX_REDIRECTS) return { final: seen, chain };
      let next: URL;
      try {
        next = new URL(seen.location, current);
      } catch {
        return { final: seen, chain };
      }
      if (next.protocol !== 'http:' && next.protocol !== 'https:') return { final: seen, chain };
      current = next.href;
      const nextMethod = methodAfterRedirect(seen.status, m);
      if (nextMethod !== m) {
        m = nextMethod;
        body = undefined;
      }
    }
  }
}

/** A Cookie header without the cookies named in `drop`. */
export function withoutCookies(header: string, drop: ReadonlySet<string>): string {
  return header
    .split(';')
    .map((p) => p.trim())
    .filter((p) => p !== '' && !drop.has(p.slice(0, Math.max(0, p.indexOf('=')))))
    .join('; ');
}

const pathOf = (url: string): string => new URL(url).pathname;
const pathAndQuery = (url: string): string => {
  const u = new URL(url);
  return u.pathname + u.search;
};
const isJson = (a: Answer): boolean => /json/i.test(a.headers['content-type'] ?? '');
const hasLoginForm = (a: Answer): LoginForm | null => (a.status >= 200 && a.status < 300 && /html/i.test(a.headers['content-type'] ?? 'text/html') ? findLoginForm(parseHtml(a.body), a.url) : null);

/** Where a JSON login answer keeps the token, as a scenario `json` extractor path; null when none. */
export function tokenPath(body: string): { path: string; type: string } | null {
  let v: unknown;
  try {
    v = JSON.parse(body);
  } catch {
    return null;
  }
  const look = (o: unknown, prefix: string): { path: string; type: string } | null => {
    if (o === null || typeof o !== 'object' || Array.isArray(o)) return null;
    const rec = o as Record<string, unknown>;
    for (const k of TOKEN_KEYS) if (typeof rec[k] === 'string' && (rec[k] as string).length >= 8) return { path: prefix + k, type: typeof rec['token_type'] === 'string' ? (rec['token_type'] as string) : 'Bearer' };
    for (const nest of ['data', 'result', 'auth', 'session']) {
      const found = look(rec[nest], `${prefix}${nest}.`);
      if (found !== null) return found;
    }
    return null;
  };
  return look(v, '');
}

/** The cookies an answer set (not deleted), by name. */
function cookiesSet(setCookies: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const c of setCookies) {
    const [name, value] = cookieNameValue(c);
    if (name !== '' && !deletesCookie(c, value, Date.now())) out.set(name, value);
  }
  return out;
}

/** A login tried, with the client that tried it (its jar holds the session). */
type LoggedIn = LoginOutcome & { readonly browser: Browser };

interface LoginOutcome {
  readonly works: boolean;
  readonly why: string;
  /** Where the app sent the user after the login (absolute URL), or the answer's own URL for a 200. */
  readonly landing: string | null;
  readonly landingAnswer: Seen | null;
  readonly sessionCookies: string[];
  readonly token: { path: string; type: string; value: string } | null;
  readonly status: number;
  readonly location: string | null;
}

export async function discover(o: DiscoverOptions): Promise<Discovery> {
  const http = createProbeClient({ insecure: o.insecure, timeoutMs: o.timeoutMs });
  try {
    return await discoverWith(new Prober(http, o.onRequest), o);
  } catch (err) {
    if (err instanceof DiscoveryBudgetSpent) {
      throw new SessionBenchError(err.message, ExitCode.targetUnusable, 'name the login page with --login PATH and the pages with --page PATH, so that fewer requests are needed');
    }
    if (err instanceof ProbeFailure) {
      throw new SessionBenchError(`the app did not answer: ${err.kind} (${err.message})`, ExitCode.targetUnusable, 'check the URL, that the app is running, and --insecure for a self-signed certificate');
    }
    throw err;
  } finally {
    await http.close();
  }
}

/** What every phase of a discovery reads, and the findings it adds to. */
interface Discovering {
  readonly p: Prober;
  readonly o: DiscoverOptions;
  readonly findings: Finding[];
  readonly entryUrl: string;
  readonly origin: string;
  /** A path or URL the user gave, resolved against the URL given. */
  readonly at: (s: string) => string;
}

/** Where the login is: a form (on the app's origin, or an identity provider's), or none (an API). */
interface LoginPlace {
  readonly entry: Seen;
  readonly loginPage: Seen | null;
  /** The app's page whose redirects led to the login page (the start of an identity provider's flow). */
  readonly loginEntry: string | null;
  readonly form: LoginForm | null;
  readonly crossOrigin: boolean;
  /** The URL is an API's (a JSON answer, 405 to a GET, an /api/ path): no login page to look for. */
  readonly api: boolean;
}

/** The lost-session signal and the protected page it was read on, with its logged-in answer. */
interface SignalRead {
  readonly signal: LostSignal | null;
  readonly protectedUrl: string | null;
  readonly withSession: Seen | null;
}

async function discoverWith(p: Prober, o: DiscoverOptions): Promise<Discovery> {
  const entryUrl = new URL(o.url).href;
  const d: Discovering = { p, o, findings: [], entryUrl, origin: new URL(entryUrl).origin, at: (x) => new URL(x, entryUrl).href };
  const place = await findLoginPlace(d);
  const { login, jsonLogin } = await logInOnce(d, place);
  const read = await readLostSignal(d, place, login);
  const rules = rulesOf(read.signal);
  const flowPages = await walkNavigation(d, place, login, read, rules, jsonLogin);
  const { header, affinity } = await whoAnswers(d, place, login);
  if (place.crossOrigin && place.form !== null && place.loginPage !== null && rules.lostBodyMatch === undefined) {
    // The identity provider's form, answered again to the login's POST, is a failed login (not a page
    // of the app): the rule a run checks the last login step with.
    rules.lostBodyMatch = loginFormPattern(pathOf(place.form.actionUrl), pathOf(place.loginPage.url));
  }
  const scenario = buildScenario({
    o,
    origin: d.origin,
    loginPage: place.loginPage,
    loginEntry: place.crossOrigin ? place.loginEntry : null,
    form: place.form,
    jsonLogin,
    login,
    rules,
    flowPages,
    header,
    affinity,
  });
  return { findings: d.findings, scenario, comments: scenarioComments(scenario, d.findings), requests: p.requests, loginWorks: login === null ? null : login.works };
}

/** 1. The login: a form at the URL (or behind its redirects), at a common path, or none (an API). */
async function findLoginPlace(d: Discovering): Promise<LoginPlace> {
  const { o, entryUrl, origin, at } = d;
  const anon = d.p.browser();
  const entry = await anon.send('GET', entryUrl);
  let loginPage: Seen | null = null;
  let loginEntry: string | null = null;
  let form: LoginForm | null = null;
  let formWhere = '';
  const api = isJson(entry.final) || entry.final.status === 405 || /\/api(?:\/|$)/i.test(pathOf(entryUrl));
  const candidates = o.loginUrl !== null ? [at(o.loginUrl)] : [entryUrl, ...(api ? [] : COMMON_LOGIN_PATHS.map((x) => origin + x))];
  for (const c of candidates) {
    const r = c === entryUrl ? entry : await anon.send('GET', c);
    const found = hasLoginForm(r.final);
    if (found !== null) {
      loginPage = r.final;
      // The last page of the app on the way (Spring's /oauth2/authorization/x, or the protected page itself).
      loginEntry = [...r.chain].reverse().find((h) => new URL(h.url).origin === origin)?.url ?? r.chain[0]!.url;
      form = found;
      const viaRedirect = r.chain.length > 1 ? ` (reached by a redirect from ${pathAndQuery(r.chain[0]!.url)})` : '';
      formWhere = c === entryUrl ? `at the URL given${viaRedirect}` : o.loginUrl !== null ? 'at --login' : `at ${pathOf(c)}, a common login path${viaRedirect}`;
      break;
    }
    if (o.loginUrl !== null) break;
  }
  const crossOrigin = loginPage !== null && new URL(loginPage.url).origin !== origin;
  if (!crossOrigin && loginPage !== null && form !== null && pathOf(form.actionUrl) !== pathOf(loginPage.url) && new URL(form.actionUrl).origin === origin && new URL(form.actionUrl).search === '' && o.loginUrl === null) {
    // The form sits on a protected page (rendered in place of it): its action's own page, when it shows
    // the form, is the login page a user would bookmark, and the one the scenario opens.
    const own = (await anon.send('GET', form.actionUrl)).final;
    const ownForm = hasLoginForm(own);
    if (ownForm !== null && ownForm.passwordField === form.passwordField) {
      formWhere += `, and at ${pathOf(own.url)}, where it posts (the login page)`;
      loginPage = own;
      loginEntry = own.url;
      form = ownForm;
    }
  }
  if (form !== null && loginPage !== null) {
    d.findings.push({
      item: 'Login form',
      value: `${form.method} ${pathOf(form.actionUrl)}: ${form.usernameField ?? '(no username field)'}, ${form.passwordField}${form.hidden.length > 0 ? `; hidden: ${form.hidden.join(', ')}` : ''}`,
      confidence: form.usernameField !== null && !crossOrigin ? 'high' : 'medium',
      why: `${formWhere}: ${form.why}${form.csrf.length > 0 ? `; ${form.csrf.join(', ')} look${form.csrf.length === 1 ? 's' : ''} like a CSRF token, sent from the page at each login` : ''}${crossOrigin ? `; on another origin (${new URL(loginPage.url).origin}): an identity provider` : ''}`,
      ...(form.usernameField === null ? { edit: 'login[1].form: add the username field' } : {}),
    });
  }
  return { entry: entry.final, loginPage, loginEntry, form, crossOrigin, api };
}

/** 2. One login with the credentials: through the form, or as a JSON login at the usual endpoints. */
async function logInOnce(d: Discovering, place: LoginPlace): Promise<{ login: LoggedIn | null; jsonLogin: { url: string; fields: [string, string] } | null }> {
  const { p, o, entryUrl, origin, at, findings } = d;
  let login: LoggedIn | null = null;
  let jsonLogin: { url: string; fields: [string, string] } | null = null;
  if (place.form !== null && place.loginPage !== null) {
    if (o.user !== null) login = await formLogin(p, place.crossOrigin ? place.loginEntry! : place.loginPage.url, place.form, o.user, place.crossOrigin ? origin : null);
  } else {
    // No form: an API. Try the URL itself when it names a login, then the usual endpoints.
    const looksLikeLogin = /log-?in|sign-?in|auth|session|token/i.test(pathOf(entryUrl));
    const endpoints = o.loginUrl !== null ? [at(o.loginUrl)] : [...new Set([...(looksLikeLogin ? [entryUrl] : []), ...COMMON_JSON_LOGINS.map((x) => origin + x)])];
    if (o.user === null) {
      findings.push({
        item: 'Login',
        value: null,
        confidence: 'not found',
        why: `no form with a password field at the URL${place.api ? ' (an API)' : ` or at ${COMMON_LOGIN_PATHS.length} common login paths`}; a JSON login can only be tried with credentials`,
        edit: 'login: the request that logs in (or pass --user NAME:PASSWORD, and --login PATH)',
      });
    } else {
      const tried = await jsonLoginAt(p, endpoints, o.user);
      if (tried !== null) {
        jsonLogin = { url: tried.url, fields: tried.fields };
        login = tried.outcome;
        findings.push({
          item: 'Login',
          value: `JSON POST ${pathOf(tried.url)} {${tried.fields[0]}, ${tried.fields[1]}}`,
          confidence: tried.outcome.works ? 'high' : 'medium',
          why: `no form with a password field; ${pathOf(tried.url)} ${tried.outcome.works ? 'accepted' : 'answered'} a JSON login (${tried.outcome.status})`,
        });
      } else {
        findings.push({
          item: 'Login',
          value: null,
          confidence: 'not found',
          why: `no form with a password field, and none of ${endpoints.map(pathOf).join(', ')} took a JSON login`,
          edit: 'login: the request that logs in (or --login PATH)',
        });
      }
    }
  }
  if (login !== null) {
    findings.push({
      item: 'Credentials',
      value: login.works ? 'they work' : 'rejected',
      confidence: 'high',
      why: login.why,
      ...(login.works ? {} : { edit: 'users: a username and password that log in' }),
    });
    if (login.works) {
      findings.push(
        login.token !== null
          ? { item: 'Session', value: `token at ${login.token.path}`, confidence: 'high', why: `the login answer holds a token (${login.token.path}); sent as "Authorization: ${login.token.type} ..."` }
          : login.sessionCookies.length > 0
            ? { item: 'Session cookie', value: login.sessionCookies.join(', '), confidence: 'high', why: `set or renewed by the login answer` }
            : { item: 'Session cookie', value: null, confidence: 'low', why: 'the login set no cookie and returned no token', edit: 'session.sessionCookies: the cookie that holds the session' },
      );
    }
  }
  return { login, jsonLogin };
}

/** What "the session" is: the cookies the login set (to drop), or the token it returned (to send). */
const sessionOf = (login: LoggedIn | null): { drop: Set<string>; headers: Record<string, string> } => ({
  drop: new Set(login?.sessionCookies ?? []),
  headers: login?.token != null ? { authorization: `${login.token.type} ${login.token.value}` } : {},
});

/** 3. The lost-session signal, on a protected page: with the session, and without it. */
async function readLostSignal(d: Discovering, place: LoginPlace, login: LoggedIn | null): Promise<SignalRead> {
  const { o, entryUrl, origin, at } = d;
  const { loginPage, form } = place;
  let signal: LostSignal | null = null;
  let protectedUrl: string | null = null;
  let withSession: Seen | null = null;
  const s = sessionOf(login);
  const browser = login?.works ? login.browser : undefined;
  if (login !== null && browser !== undefined) {
    const named = o.pages.map(at);
    // The pages named; else the landing page, then the URL given (a landing page such as / may be
    // public); else, for an API, the usual "who am I" endpoints.
    const fallback = login.landing !== null ? [...new Set([login.landing, entryUrl])] : COMMON_API_PAGES.map((x) => origin + x);
    const candidates = named.length > 0 ? named.slice(0, 1) : fallback;
    const apiGuess = named.length === 0 && login.landing === null;
    for (const c of candidates) {
      // Not followed: the signal may be the redirect itself. A redirect to another page of the app with
      // the session (/ to /dashboard/) is followed by hand.
      let url = c;
      let w = (await browser.send('GET', url, { headers: s.headers, follow: false, phase: 'logged-in' })).final;
      for (let i = 0; i < 2 && w.status >= 300 && w.status < 400 && w.location !== null; i++) {
        const next = new URL(w.location, url);
        if (next.origin !== origin || (loginPage !== null && next.pathname === pathOf(loginPage.url))) break;
        url = next.href;
        w = (await browser.send('GET', url, { headers: s.headers, follow: false, phase: 'logged-in' })).final;
      }
      // An API guess that is not there (404) is no page at all; try the next one.
      if (apiGuess && (w.status < 200 || w.status >= 300)) continue;
      protectedUrl = url;
      withSession = w;
      if (w.status >= 300) {
        signal = { kind: 'none', why: `${pathOf(url)} answered ${w.status} even with the session${w.location !== null ? ` (to ${w.location})` : ''}: the session did not last one request (several replicas without shared sessions? run init against one replica, or name a page with --page)` };
        break;
      }
      const without = (await browser.send('GET', url, { follow: false, dropCookies: s.drop, phase: 'anonymous', keepJar: true })).final;
      signal = lostSessionSignal(w, without, loginPage !== null ? pathOf(loginPage.url) : null, form !== null ? pathOf(form.actionUrl) : null);
      // A page that is the same without the session is public: the next candidate may be protected.
      if (signal.kind !== 'none') break;
    }
  }
  if ((signal === null || signal.kind === 'none') && form !== null && loginPage !== null) {
    // Not compared with a logged-in page: the login form itself is the best guess (it also makes a run
    // see a login answered with the form again as failed). `check` tells whether it holds.
    const why = signal?.why ?? (login?.works ? 'no protected page answered with the session' : 'not compared with a logged-in page (it needs a working login)');
    signal = { kind: 'body', pattern: loginFormPattern(pathOf(form.actionUrl), pathOf(loginPage.url)), status: 200, why };
    d.findings.push({ item: 'Lost session', value: 'a page with the login form (a guess)', confidence: 'low', why, edit: 'session: loginPath, lostStatus or lostBodyMatch (then session-bench check FILE)' });
  } else {
    d.findings.push(
      signal === null || signal.kind === 'none'
        ? { item: 'Lost session', value: null, confidence: 'not found', why: signal?.why ?? (login?.works ? 'no protected page answered with the session' : 'needs a working login (--user NAME:PASSWORD)'), edit: 'session: loginPath, lostStatus or lostBodyMatch' }
        : {
            item: 'Lost session',
            value: signal.kind === 'redirect' ? `redirect to ${signal.loginPath}` : signal.kind === 'status' ? `status ${signal.status}` : `${signal.status} with a login page`,
            confidence: signal.kind === 'redirect' && signal.crossOrigin ? 'medium' : 'high',
            why: signal.why,
          },
    );
  }
  return { signal, protectedUrl, withSession };
}

/** 4. Navigation: the pages named, else the protected page's links, each checked with the session. */
async function walkNavigation(d: Discovering, place: LoginPlace, login: LoggedIn | null, read: SignalRead, rules: SessionRulesFile, jsonLogin: { url: string } | null): Promise<string[]> {
  const { o, origin, at, findings } = d;
  const { loginPage, form } = place;
  const { signal, protectedUrl, withSession } = read;
  const flowPages: string[] = [];
  const browser = login?.works ? login.browser : undefined;
  if (protectedUrl === null || withSession === null || browser === undefined) return flowPages;
  // As a run compiles it: without a loginPath, the first login step's path is the login page.
  const loginPath = rules.loginPath ?? (loginPage !== null ? pathOf(loginPage.url) : jsonLogin !== null ? pathOf(jsonLogin.url) : undefined);
  const firesOn = (a: Answer): boolean =>
    (loginPath !== undefined && a.status >= 300 && a.status < 400 && a.location !== null && new URL(a.location, a.url).pathname === loginPath) ||
    (rules.lostStatus ?? [401]).includes(a.status) ||
    (rules.lostBodyMatch !== undefined && a.status < 300 && matches(rules.lostBodyMatch, a.body));
  if (signal !== null && signal.kind !== 'none' && firesOn(withSession)) {
    findings.push({ item: 'Check', value: 'the rule fires on the logged-in page', confidence: 'low', why: `the lost-session rule matches ${pathOf(protectedUrl)} with the session: edit it`, edit: 'session.lostBodyMatch' });
  }
  flowPages.push(pathAndQuery(protectedUrl));
  if (o.pages.length > 0) {
    for (const extra of o.pages.slice(1)) flowPages.push(pathAndQuery(at(extra)));
    findings.push({ item: 'Navigation', value: flowPages.join(', '), confidence: 'high', why: 'the pages named with --page' });
    return flowPages;
  }
  if (!/html/i.test(withSession.headers['content-type'] ?? '')) {
    findings.push({ item: 'Navigation', value: flowPages.join(', '), confidence: 'low', why: 'an API answer has no links to follow', edit: 'flow: the calls a logged-in client makes (or --page PATH, repeatable)' });
    return flowPages;
  }
  const s = sessionOf(login);
  const nav = navigationCandidates(parseHtml(withSession.body).links, protectedUrl, new Set([pathOf(protectedUrl), ...(loginPage !== null ? [pathOf(loginPage.url)] : []), ...(form !== null ? [pathOf(form.actionUrl)] : [])]));
  const dropped: string[] = [];
  for (const path of nav.paths.slice(0, NAV_PAGES + 2)) {
    if (flowPages.length > NAV_PAGES) break;
    let a: Seen;
    try {
      a = (await browser.send('GET', origin + path, { headers: s.headers, follow: false, phase: 'logged-in' })).final;
    } catch (err) {
      // A page that does not answer is left out of the flow, not the end of the discovery.
      if (!(err instanceof ProbeFailure)) throw err;
      dropped.push(`${path} (no answer: ${err.kind})`);
      continue;
    }
    if (a.status >= 200 && a.status < 300 && !firesOn(a)) flowPages.push(path);
    else dropped.push(`${path} (${a.status >= 200 && a.status < 300 ? 'the lost-session rule fires on it' : a.status})`);
  }
  findings.push({
    item: 'Navigation',
    value: flowPages.join(', '),
    confidence: flowPages.length > 1 ? 'medium' : 'low',
    why:
      `${pathOf(protectedUrl)} and the same-origin links on it that answered 2xx with the session` +
      (nav.skipped.length > 0 ? `; skipped as logout or side effect: ${nav.skipped.slice(0, 5).join(', ')}` : '') +
      (dropped.length > 0 ? `; left out: ${dropped.join(', ')}` : ''),
    edit: 'flow: the pages a logged-in user visits, in order (or --page PATH, repeatable)',
  });
  return flowPages;
}

/** 5. Who answers: a few fresh clients, then every answer seen so far. */
async function whoAnswers(d: Discovering, place: LoginPlace, login: LoggedIn | null): Promise<{ header: string | null; affinity: string | null }> {
  const { p, findings } = d;
  const freshUrl = place.loginPage?.url ?? d.entryUrl;
  for (let i = 0; i < FRESH_CLIENTS; i++) {
    await p.browser().send('GET', freshUrl, { follow: false }).catch((err: unknown) => {
      if (!(err instanceof ProbeFailure)) throw err;
    });
  }
  const header = findBackendHeader(p.observed);
  const affinity = findAffinityCookie(p.observed, new Set(login?.sessionCookies ?? []));
  findings.push(header?.finding ?? { item: 'Backend header', value: null, confidence: 'not found', why: `no header on ${p.observed.length} answers names a backend (X-Served-By, X-Backend, X-Upstream, Server, Via...)`, edit: 'session.servedByHeader: a header your pods set with their name' });
  findings.push(affinity?.finding ?? { item: 'Affinity cookie', value: null, confidence: 'not found', why: 'no cookie is a known affinity cookie (AWSALB, SERVERID, route, INGRESSCOOKIE, __cflb...), set on every answer, or repeated across clients', edit: "session.keepCookies: your balancer's affinity cookie, if any" });
  if (header === null && affinity !== null && affinity.namesBackend) {
    findings.push({ item: 'Backend identity', value: `cookie ${affinity.name}`, confidence: affinity.finding.confidence, why: 'no header names the backend: a run reads it from this cookie' });
  }
  return { header: header?.name ?? null, affinity: affinity?.name ?? null };
}

/** The `session` rules of the written scenario that decide a loss. */
type SessionRulesFile = { loginPath?: string; lostStatus?: number[]; lostBodyMatch?: string };

/** The scenario's `session` rules for a signal. */
function rulesOf(signal: LostSignal | null): SessionRulesFile {
  if (signal === null) return {};
  switch (signal.kind) {
    case 'redirect':
      return { loginPath: signal.loginPath };
    case 'status':
      return { lostStatus: signal.status === 401 ? [401] : [401, signal.status] };
    case 'body':
      return { lostBodyMatch: signal.pattern };
    case 'none':
      return {};
  }
}

/**
 * Logs in once through the form from a fresh client, as the scenario's login steps will. With an identity
 * provider (`appOrigin` set), it starts from the app's page that leads there and follows the POST's
 * redirects back to the app, as a browser does; the session is what the app's origin set on the way.
 */
async function formLogin(p: Prober, startUrl: string, found: LoginForm, user: Credential, appOrigin: string | null): Promise<LoggedIn> {
  const b = p.browser();
  const page = (await b.send('GET', startUrl, { phase: 'login' })).final;
  const form = hasLoginForm(page) ?? found;
  const cookieOrigin = appOrigin ?? form.actionUrl;
  const before = new Map<string, string>();
  for (const n of b.jar.names(cookieOrigin)) before.set(n, b.jar.valueFor(n, cookieOrigin) ?? '');
  const fields = new URLSearchParams(hiddenInputs(page.body, pathOf(form.actionUrl), page.url));
  for (const [k, v] of form.extra) fields.set(k, v);
  if (form.usernameField !== null) fields.set(form.usernameField, user.username);
  fields.set(form.passwordField, user.password);
  const sent = await b.send(form.method, form.actionUrl, { body: fields.toString(), contentType: 'application/x-www-form-urlencoded', follow: appOrigin !== null, phase: 'login' });
  if (appOrigin !== null) {
    const final = sent.final;
    const setOnApp = new Map<string, string>();
    for (const h of sent.chain) if (new URL(h.url).origin === appOrigin) for (const [k, v] of cookiesSet(h.setCookies)) setOnApp.set(k, v);
    const sessionCookies = [...setOnApp.keys()].filter((n) => !NOT_SESSION.test(n) && (!before.has(n) || before.get(n) !== setOnApp.get(n)));
    const base = { browser: b, token: null, status: final.status, location: final.location };
    const back = new URL(final.url).origin === appOrigin;
    if (!back || final.status >= 300 || hasLoginForm(final) !== null) {
      return { ...base, works: false, why: `the identity provider's login ended at ${new URL(final.url).origin}${pathOf(final.url)} (${final.status}${hasLoginForm(final) !== null ? ', the login form again' : ''}): the credentials were not accepted`, landing: null, landingAnswer: null, sessionCookies: [] };
    }
    return {
      ...base,
      works: true,
      why: `the identity provider sent the user back to the app (${sent.chain.length - 1} redirects, then ${final.status} at ${pathOf(final.url)}); the app set ${sessionCookies.join(', ') || 'no cookie'}`,
      landing: final.url,
      landingAnswer: final,
      sessionCookies,
    };
  }
  const post = sent.final;
  const set = cookiesSet(post.setCookies);
  const renewed = [...set.keys()].filter((n) => before.has(n) && before.get(n) !== set.get(n));
  // Set anew or renewed by the login: a cookie set again with the same value (a balancer's, on every
  // answer) is not the session.
  let sessionCookies = [...set.keys()].filter((n) => !NOT_SESSION.test(n) && (!before.has(n) || renewed.includes(n)));
  const base = { browser: b, token: null, status: post.status, location: post.location };
  const setText = set.size > 0 ? `; it set ${[...set.keys()].map((n) => (renewed.includes(n) ? `${n} (renewed)` : n)).join(', ')}` : '; it set no cookie';
  if (post.status >= 300 && post.status < 400 && post.location !== null) {
    const to = new URL(post.location, form.actionUrl);
    const rejected = (what: string): LoggedIn => ({ ...base, works: false, why: `the login answered ${post.status} to ${to.pathname}${to.search}${what}: the app rejected the credentials`, landing: null, landingAnswer: null, sessionCookies: [] });
    if (/[?&](?:error|failed|fail|invalid)\b/i.test(to.search)) return rejected('');
    // Where the login sends the user tells: the app's page, or the login form again (the form may sit on
    // the protected page itself, so the path alone does not).
    const landing = to.origin === new URL(startUrl).origin ? (await b.send('GET', to.href, { phase: 'logged-in' })).final : null;
    if (landing !== null && (hasLoginForm(landing) !== null || landing.status >= 400)) return rejected(`, which answered ${landing.status}${landing.status < 300 ? ' with the login form again' : ''}`);
    if (sessionCookies.length === 0) sessionCookies = [...before.keys()].filter((n) => SESSION_ID_COOKIES.has(n));
    return { ...base, works: true, why: `${form.method} ${pathOf(form.actionUrl)} answered ${post.status} to ${to.pathname}${setText}`, landing: to.href, landingAnswer: landing, sessionCookies };
  }
  if (post.status >= 200 && post.status < 300) {
    if (hasLoginForm(post) !== null) return { ...base, works: false, why: `the login answered ${post.status} with the login form again: the app rejected the credentials`, landing: null, landingAnswer: null, sessionCookies: [] };
    if (sessionCookies.length === 0) sessionCookies = [...before.keys()].filter((n) => SESSION_ID_COOKIES.has(n));
    return { ...base, works: true, why: `${form.method} ${pathOf(form.actionUrl)} answered ${post.status} with a page without the login form${setText}`, landing: post.url, landingAnswer: post, sessionCookies };
  }
  const hint = post.status === 403 || post.status === 419 || post.status === 422 ? ' (a CSRF check? the form was posted with every hidden field of the page)' : '';
  return { ...base, works: false, why: `the login answered ${post.status}${hint}`, landing: null, landingAnswer: null, sessionCookies: [] };
}

/** Tries a JSON login at each endpoint in turn: the first that answers other than 404/405 is the one. */
async function jsonLoginAt(p: Prober, endpoints: readonly string[], user: Credential): Promise<{ url: string; fields: [string, string]; outcome: LoggedIn } | null> {
  for (const url of endpoints) {
    for (const fields of [['username', 'password'], ['email', 'password']] as [string, string][]) {
      const b = p.browser();
      const r = (await b.send('POST', url, { body: JSON.stringify({ [fields[0]]: user.username, [fields[1]]: user.password }), contentType: 'application/json', headers: { accept: 'application/json' }, follow: false, phase: 'login' })).final;
      if (r.status === 404 || r.status === 405 || (r.status >= 300 && r.status < 400)) break;
      if ((r.status === 400 || r.status === 422) && fields[0] === 'username') continue;
      const set = cookiesSet(r.setCookies);
      const token = r.status >= 200 && r.status < 300 && isJson(r) ? tokenPath(r.body) : null;
      const base = { browser: b, status: r.status, location: r.location, landing: null, landingAnswer: null };
      if (r.status >= 200 && r.status < 300 && (token !== null || set.size > 0)) {
        const value = token !== null ? String(token.path.split('.').reduce<unknown>((v, k) => (v as Record<string, unknown>)[k], JSON.parse(r.body))) : '';
        return {
          url,
          fields,
          outcome: {
            ...base,
            works: true,
            why: `POST ${pathOf(url)} answered ${r.status}${token !== null ? ` with a token at ${token.path}` : ''}${set.size > 0 ? `; it set ${[...set.keys()].join(', ')}` : ''}`,
            sessionCookies: token !== null ? [] : [...set.keys()].filter((n) => !NOT_SESSION.test(n)),
            token: token !== null ? { ...token, value } : null,
          },
        };
      }
      if (r.status === 401 || r.status === 403 || (r.status >= 200 && r.status < 300)) {
        return { url, fields, outcome: { ...base, works: false, why: `POST ${pathOf(url)} answered ${r.status}${r.status < 300 ? ' without a token or a cookie' : ''}: the credentials were not accepted`, sessionCookies: [], token: null } };
      }
      break;
    }
  }
  return null;
}

interface ScenarioParts {
  o: DiscoverOptions;
  origin: string;
  loginPage: Seen | null;
  /** With an identity provider: the app's page that leads to its login form. */
  loginEntry: string | null;
  form: LoginForm | null;
  jsonLogin: { url: string; fields: [string, string] } | null;
  login: LoginOutcome | null;
  rules: SessionRulesFile;
  flowPages: string[];
  header: string | null;
  affinity: string | null;
}

/** A step's URL: a path on the target's origin, or the whole URL on another (an identity provider). */
const stepUrl = (url: string, origin: string): string => (new URL(url).origin === origin ? pathAndQuery(url) : url);

function buildScenario(x: ScenarioParts): ScenarioFile {
  const { origin } = x;
  const login: StepFile[] = [];
  const authHeaders = x.login?.token != null ? { authorization: `${x.login.token.type} {{token}}` } : undefined;
  if (x.form !== null && x.loginPage !== null) {
    const form: Record<string, string> = {};
    if (x.form.usernameField !== null) form[x.form.usernameField] = '{{username}}';
    form[x.form.passwordField] = '{{password}}';
    for (const [k, v] of x.form.extra) form[k] = v;
    const idp = x.loginEntry !== null;
    // An identity provider's action carries a per-login code (Keycloak's session_code): read it from the
    // page at each login, as for any action with a query.
    const dynamic = idp || new URL(x.form.actionUrl).search !== '';
    const expect = x.login?.works
      ? !idp && x.login.status >= 300 && x.login.status < 400 && x.login.landing !== null
        ? { status: x.login.status, location: stepUrl(x.login.landing, origin).split('?')[0]! }
        : { status: x.login.status }
      : undefined;
    login.push({ get: stepUrl(x.loginEntry ?? x.loginPage.url, origin), ...(dynamic ? { extract: { loginAction: { loginFormAction: true } } } : {}) } as StepFile);
    login.push({
      [x.form.method === 'GET' ? 'get' : 'post']: dynamic ? '{{loginAction}}' : stepUrl(x.form.actionUrl, origin),
      ...(x.form.hidden.length > 0 ? { hiddenInputs: true } : {}),
      form,
      // The login answer itself is judged: following its redirect could land on another replica. An
      // identity provider's answer is followed back to the app, as a browser does.
      ...(idp ? {} : { followRedirects: false }),
      ...(expect !== undefined ? { expect } : {}),
    } as StepFile);
  } else if (x.jsonLogin !== null) {
    const [u, pw] = x.jsonLogin.fields;
    login.push({
      post: stepUrl(x.jsonLogin.url, origin),
      json: { [u]: '{{username}}', [pw]: '{{password}}' },
      expect: { status: x.login?.works ? x.login.status : 200 },
      ...(x.login?.token != null ? { extract: { token: { json: x.login.token.path } } } : {}),
    } as StepFile);
  }
  const flow: StepFile[] = (x.flowPages.length > 0 ? x.flowPages : [pathAndQuery(x.o.url)]).map((path) => ({ get: path, ...(authHeaders !== undefined ? { headers: authHeaders } : {}) }));
  const session: NonNullable<ScenarioFile['session']> = {
    ...x.rules,
    ...(x.header !== null ? { servedByHeader: x.header } : {}),
    ...(x.affinity !== null && x.affinity !== 'JSESSIONID' ? { keepCookies: [x.affinity] } : {}),
    ...(x.login?.sessionCookies.length ? { sessionCookies: x.login.sessionCookies } : {}),
  };
  const host = new URL(origin).host;
  return {
    name: `${host}: log in, then ${flow.map((s) => s.get).join(' ')}`,
    target: origin,
    ...(Object.keys(session).length > 0 ? { session } : {}),
    users: [x.o.user !== null ? { username: x.o.user.username, password: x.o.user.password } : { username: 'CHANGE_ME', password: 'CHANGE_ME' }],
    ...(login.length > 0 ? { login } : {}),
    flow,
  };
}

/** The comments of the written file: each finding next to the lines it decided. */
function scenarioComments(s: ScenarioFile, findings: readonly Finding[]): ScenarioComment[] {
  const f = (item: string): Finding | undefined => findings.find((x) => x.item === item);
  const note = (x: Finding | undefined): string => (x === undefined ? '' : `${x.confidence}: ${x.why}`);
  const out: ScenarioComment[] = [];
  const add = (path: (string | number)[], text: string): void => {
    if (text !== '') out.push({ path, text });
  };
  const sess = s.session ?? {};
  if (sess.loginPath !== undefined || sess.lostStatus !== undefined || sess.lostBodyMatch !== undefined) {
    const key = sess.loginPath !== undefined ? 'loginPath' : sess.lostStatus !== undefined ? 'lostStatus' : 'lostBodyMatch';
    add(['session', key], `How this app says the session is gone (${note(f('Lost session'))})`);
  }
  if (sess.servedByHeader !== undefined) add(['session', 'servedByHeader'], `The backend that answered (${note(f('Backend header'))})`);
  if (sess.keepCookies !== undefined) add(['session', 'keepCookies'], `The balancer's affinity cookie: kept when a user logs in again (${note(f('Affinity cookie'))})`);
  if (sess.sessionCookies !== undefined) add(['session', 'sessionCookies'], `Watched for silent regeneration (${note(f('Session cookie'))})`);
  add(['users'], 'CHANGE: the accounts the virtual users log in with, or { file: users.csv } (username,password).\nThis file holds a password: keep it out of version control, or use a users file.');
  if (s.login !== undefined) add(['login'], `Run once per virtual user, and again after each lost session (${note(f('Login form') ?? f('Login'))})`);
  const nav = f('Navigation');
  add(['flow'], `CHANGE: the pages a logged-in user visits, looped${nav !== undefined ? ` (${note(nav)})` : ''}`);
  return out;
}

