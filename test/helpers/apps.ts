/**
 * Small multi-replica web apps, each with another framework's way of logging in and of answering a
 * lost session, behind one balancing front on 127.0.0.1: what `init` must discover without being told.
 * Sessions live in each replica's memory (as with Spring's HttpSession, Django's locmem cache or PHP's
 * files), so a request that reaches another replica has none. Every replica counts the protected pages
 * it answered and how many of them it answered as "no session": the count a run must equal.
 *
 * - `json-401`: an SPA shell and a JSON API (POST /api/auth/login returns an access token; a call without
 *   a valid token gets 401 with a JSON body and WWW-Authenticate).
 * - `form-200`: Django-like: a form that posts to itself with a double-submit CSRF token; a protected page
 *   without a session answers 200 with the login form.
 * - `password-pages`: Rails/Devise-like: `user[email]` and `user[password]`, an authenticity token; the
 *   logged-in pages have password fields (change password, add user); a lost session is 200 + sign-in form.
 * - `affinity-cookie`: Spring-like (redirect to /login) behind a balancer that pins users with a cookie of
 *   its own, set on every answer, and adds no header naming the backend.
 */
import { createHmac, randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { cookiesOf, readBody, startServer, type TestServer } from './servers.js';

export type AppKind = 'json-401' | 'form-200' | 'password-pages' | 'affinity-cookie';

export interface ReplicaCounts {
  /** Protected pages answered (with or without a session). */
  protected: number;
  /** Of those, answered as "no session". */
  lost: number;
  logins: number;
  loginFailures: number;
}

export interface Replica {
  readonly name: string;
  readonly counts: ReplicaCounts;
  /** Forgets every session (a restart of an app with in-memory sessions). */
  restart(): void;
}

export interface App {
  readonly url: string;
  readonly replicas: readonly Replica[];
  /**
   * How the front picks a replica; the affinity-cookie app's front is always sticky. `round-robin` turns
   * per connection: each connection's requests go to the replicas in turn, from a start that moves on with
   * each new connection. (A global turn would let an even number of clients in lockstep each meet the
   * same replica every time, and lose nothing.)
   */
  balance: 'round-robin' | 'first';
  totals(): ReplicaCounts;
  close(): Promise<void>;
}

export const APP_USERS: Readonly<Record<string, string>> = { alice: 's3cret-pw', bob: 'hunter22' };
/** The affinity cookie of the `affinity-cookie` app's balancer: not a name any tool knows. */
export const FRONT_COOKIE = '_srv';

const HTML = 'text/html; charset=utf-8';
const SECRET = randomBytes(16);
const sign = (nonce: string): string => `${nonce}.${createHmac('sha256', SECRET).update(nonce).digest('hex').slice(0, 16)}`;
const validSignature = (token: string | undefined): boolean => token !== undefined && token.includes('.') && sign(token.split('.')[0]!) === token;
const newId = (): string => randomBytes(12).toString('hex');

function send(res: ServerResponse, status: number, type: string, body: string, headers: Record<string, string | string[]> = {}): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body), ...headers });
  res.end(body);
}
const redirect = (res: ServerResponse, location: string, headers: Record<string, string | string[]> = {}): void => {
  res.writeHead(302, { location, 'content-length': 0, ...headers });
  res.end();
};
const page = (title: string, body: string): string => `<!doctype html><html><head><title>${title}</title></head><body>${body}</body></html>`;

type Handler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

interface ReplicaImpl extends Replica {
  handle: Handler;
}

function replica(name: string, kind: AppKind): ReplicaImpl {
  const sessions = new Map<string, string>();
  const counts: ReplicaCounts = { protected: 0, lost: 0, logins: 0, loginFailures: 0 };
  const handlers: Record<AppKind, Handler> = {
    async 'json-401'(req, res) {
      const path = (req.url ?? '/').split('?')[0]!;
      if (path === '/' || path === '/index.html') return send(res, 200, HTML, page('Shop', '<div id="root"></div><script src="/static/app.js"></script>'));
      if (path === '/api/auth/login' && req.method === 'POST') {
        let creds: { username?: unknown; password?: unknown } = {};
        try {
          creds = JSON.parse(await readBody(req)) as typeof creds;
        } catch {
          return send(res, 400, 'application/json', '{"error":"invalid JSON"}');
        }
        if (typeof creds.username !== 'string' || typeof creds.password !== 'string') return send(res, 400, 'application/json', '{"error":"username and password are required"}');
        if (APP_USERS[creds.username] !== creds.password) {
          counts.loginFailures++;
          return send(res, 401, 'application/json', '{"error":"invalid_credentials"}');
        }
        counts.logins++;
        const token = newId();
        sessions.set(token, creds.username);
        return send(res, 200, 'application/json', JSON.stringify({ access_token: token, token_type: 'Bearer', expires_in: 3600 }));
      }
      if (path === '/api/me' || path === '/api/orders') {
        counts.protected++;
        const auth = req.headers.authorization ?? '';
        const user = auth.startsWith('Bearer ') ? sessions.get(auth.slice(7)) : undefined;
        if (user === undefined) {
          counts.lost++;
          return send(res, 401, 'application/json', '{"error":"unauthorized","message":"a valid access token is required"}', { 'www-authenticate': 'Bearer realm="api"' });
        }
        return send(res, 200, 'application/json', path === '/api/me' ? JSON.stringify({ username: user }) : '{"orders":[{"id":1},{"id":2}]}');
      }
      return send(res, 404, 'application/json', '{"error":"not found"}');
    },

    async 'form-200'(req, res) {
      const path = (req.url ?? '/').split('?')[0]!;
      const cookies = cookiesOf(req);
      const user = cookies['sessionid'] !== undefined ? sessions.get(cookies['sessionid']) : undefined;
      const loginForm = (error: string, action = ''): { body: string; headers: Record<string, string> } => {
        // Django's double submit: the hidden token must equal the csrftoken cookie.
        const csrf = cookies['csrftoken'] ?? newId();
        return {
          body: page(
            'Log in | Projects',
            `${error}<form method="post"${action}><input type="hidden" name="csrfmiddlewaretoken" value="${csrf}">` +
              '<label>Username <input type="text" name="username" autocomplete="username" autofocus></label>' +
              '<label>Password <input type="password" name="password" autocomplete="current-password"></label>' +
              '<input type="submit" value="Log in"></form>',
          ),
          headers: cookies['csrftoken'] === undefined ? { 'set-cookie': `csrftoken=${csrf}; Path=/; SameSite=Lax` } : {},
        };
      };
      if (path === '/') return redirect(res, '/dashboard/');
      if (path === '/accounts/login/') {
        if (req.method === 'POST') {
          const form = new URLSearchParams(await readBody(req));
          if (form.get('csrfmiddlewaretoken') !== cookies['csrftoken'] || cookies['csrftoken'] === undefined) return send(res, 403, HTML, page('Forbidden', 'CSRF verification failed.'));
          const name = form.get('username') ?? '';
          if (APP_USERS[name] !== form.get('password')) {
            counts.loginFailures++;
            const f = loginForm('<p class="error">Please enter a correct username and password.</p>');
            return send(res, 200, HTML, f.body, f.headers);
          }
          counts.logins++;
          const id = newId();
          sessions.set(id, name);
          return redirect(res, '/dashboard/', { 'set-cookie': `sessionid=${id}; Path=/; HttpOnly; SameSite=Lax` });
        }
        const f = loginForm('');
        return send(res, 200, HTML, f.body, f.headers);
      }
      if (path === '/accounts/logout/') {
        if (cookies['sessionid'] !== undefined) sessions.delete(cookies['sessionid']);
        return redirect(res, '/accounts/login/');
      }
      if (!['/dashboard/', '/projects/', '/projects/7/', '/reports/'].includes(path)) return send(res, 404, HTML, page('Not found', 'Not found'));
      counts.protected++;
      if (user === undefined) {
        counts.lost++;
        const f = loginForm('', ' action="/accounts/login/"');
        return send(res, 200, HTML, f.body, f.headers);
      }
      const nav =
        '<nav><a href="/dashboard/">Dashboard</a> <a href="/projects/">Projects</a> <a href="/reports/">Reports</a> ' +
        '<a href="/projects/7/delete/">Delete project 7</a> <a href="/accounts/logout/">Log out</a> <a href="https://docs.example.org/">Docs</a></nav>';
      return send(res, 200, HTML, page(`${path} | Projects`, `${nav}<p>Hello ${user}</p><a href="/projects/7/">Project 7</a>`));
    },

    async 'password-pages'(req, res) {
      const path = (req.url ?? '/').split('?')[0]!;
      const cookies = cookiesOf(req);
      const user = cookies['_app_session'] !== undefined ? sessions.get(cookies['_app_session']) : undefined;
      const signIn = (): string =>
        page(
          'Sign in',
          `<form class="new_user" id="new_user" action="/users/sign_in" accept-charset="UTF-8" method="post">` +
            `<input type="hidden" name="authenticity_token" value="${sign(newId())}" autocomplete="off">` +
            '<input autofocus autocomplete="email" type="email" value="" name="user[email]" id="user_email">' +
            '<input autocomplete="current-password" type="password" name="user[password]" id="user_password">' +
            '<input name="user[remember_me]" type="hidden" value="0"><input type="checkbox" value="1" name="user[remember_me]">' +
            '<input type="submit" name="commit" value="Log in" data-disable-with="Log in"></form>',
        );
      if (path === '/users/sign_in') {
        if (req.method === 'POST') {
          const form = new URLSearchParams(await readBody(req));
          if (!validSignature(form.get('authenticity_token') ?? undefined)) return send(res, 422, HTML, page('Unprocessable', 'The change you wanted was rejected.'));
          const email = form.get('user[email]') ?? '';
          if (APP_USERS[email] !== form.get('user[password]')) {
            counts.loginFailures++;
            return send(res, 200, HTML, signIn().replace('<form', '<p class="alert">Invalid Email or password.</p><form'));
          }
          counts.logins++;
          const id = newId();
          sessions.set(id, email);
          return redirect(res, '/', { 'set-cookie': `_app_session=${id}; path=/; HttpOnly; SameSite=Lax` });
        }
        return send(res, 200, HTML, signIn());
      }
      if (path === '/users/sign_out') {
        if (cookies['_app_session'] !== undefined) sessions.delete(cookies['_app_session']);
        return redirect(res, '/users/sign_in');
      }
      if (!['/', '/settings', '/users/new', '/projects'].includes(path)) return send(res, 404, HTML, page('Not found', 'Not found'));
      counts.protected++;
      if (user === undefined) {
        // Rendered in place, status 200, as an app with a "login required" layout does.
        counts.lost++;
        return send(res, 200, HTML, signIn());
      }
      const nav = '<nav><a href="/">Home</a> <a href="/projects">Projects</a> <a href="/settings">Settings</a> <a href="/users/new">Add user</a> <a rel="nofollow" data-method="delete" href="/users/sign_out">Sign out</a></nav>';
      const token = `<input type="hidden" name="authenticity_token" value="${sign(newId())}">`;
      const bodies: Record<string, string> = {
        '/': '<p>Dashboard</p>',
        '/projects': '<ul><li>Apollo</li><li>Gemini</li></ul>',
        '/settings': `<form action="/users/password" method="post">${token}<input type="password" name="user[current_password]"><input type="password" name="user[password]"><input type="password" name="user[password_confirmation]"><input type="submit" value="Change password"></form>`,
        '/users/new': `<form action="/users" method="post">${token}<input type="email" name="user[email]"><input type="password" name="user[password]"><input type="submit" value="Add user"></form>`,
      };
      return send(res, 200, HTML, page(path, `${nav}<p>Signed in as ${user}</p>${bodies[path]}`));
    },

    async 'affinity-cookie'(req, res) {
      const path = (req.url ?? '/').split('?')[0]!;
      const cookies = cookiesOf(req);
      const session = cookies['JSESSIONID'] !== undefined ? sessions.get(cookies['JSESSIONID']) : undefined;
      const host = `http://${req.headers.host}`;
      if (path === '/login') {
        if (req.method === 'POST') {
          const form = new URLSearchParams(await readBody(req));
          // The CSRF token lives in the anonymous session (Spring Security's HttpSessionCsrfTokenRepository).
          if (session === undefined || session !== `anon:${form.get('_csrf')}`) return send(res, 403, HTML, page('Forbidden', 'Invalid CSRF token'));
          const name = form.get('username') ?? '';
          if (APP_USERS[name] !== form.get('password')) {
            counts.loginFailures++;
            return redirect(res, `${host}/login?error`);
          }
          counts.logins++;
          sessions.delete(cookies['JSESSIONID']!);
          const id = newId().toUpperCase();
          sessions.set(id, `user:${name}`);
          return redirect(res, `${host}/home`, { 'set-cookie': `JSESSIONID=${id}; Path=/; HttpOnly` });
        }
        const csrf = newId();
        const id = newId().toUpperCase();
        sessions.set(id, `anon:${csrf}`);
        return send(
          res,
          200,
          HTML,
          page('Please sign in', `<form class="form-signin" method="post" action="/login"><input name="username" type="text" placeholder="Username"><input name="password" type="password"><input name="_csrf" type="hidden" value="${csrf}"><button type="submit">Sign in</button></form>`),
          { 'set-cookie': `JSESSIONID=${id}; Path=/; HttpOnly` },
        );
      }
      if (path === '/logout') return redirect(res, `${host}/login?logout`, { 'set-cookie': 'JSESSIONID=; Path=/; Max-Age=0' });
      if (path === '/') return redirect(res, `${host}/home`);
      if (!['/home', '/owners', '/vets'].includes(path)) return send(res, 404, HTML, page('Not found', 'Not found'));
      counts.protected++;
      if (session === undefined || !session.startsWith('user:')) {
        counts.lost++;
        return redirect(res, `${host}/login`);
      }
      const nav = '<a href="/home">Home</a> <a href="/owners">Owners</a> <a href="/vets">Vets</a> <form action="/logout" method="post"><button>Logout</button></form>';
      return send(res, 200, HTML, page(path, `${nav}<p>${session.slice(5)}</p>`));
    },
  };
  return { name, counts, restart: () => sessions.clear(), handle: handlers[kind] };
}

/** The fleet's counts: each replica's added. */
const sumCounts = (replicas: readonly Replica[]): ReplicaCounts =>
  replicas.reduce<ReplicaCounts>(
    (a, r) => ({ protected: a.protected + r.counts.protected, lost: a.lost + r.counts.lost, logins: a.logins + r.counts.logins, loginFailures: a.loginFailures + r.counts.loginFailures }),
    { protected: 0, lost: 0, logins: 0, loginFailures: 0 },
  );

/** The replica for a request under per-connection round-robin (see App.balance). */
function rotation<T>(replicas: readonly T[]): (req: IncomingMessage) => T {
  const turn = new WeakMap<object, number>();
  let connections = 0;
  return (req) => {
    const n = turn.get(req.socket) ?? connections++;
    turn.set(req.socket, n + 1);
    return replicas[n % replicas.length]!;
  };
}

/** Starts an app of `kind` with `replicas` replicas behind one front on 127.0.0.1. */
export async function startApp(kind: AppKind, o: { replicas?: number } = {}): Promise<App> {
  const replicas = Array.from({ length: o.replicas ?? 2 }, (_v, i) => replica(`b${i + 1}`, kind));
  let next = 0;
  const roundRobin = rotation(replicas);
  const app: App & { server: TestServer | null } = {
    url: '',
    replicas,
    balance: 'round-robin',
    server: null,
    totals: () => sumCounts(replicas),
    close: async () => app.server?.close(),
  };
  app.server = await startServer((req, res) => {
    // The lab's control path (so that labControlCommand drives it from a run's --at): restart replica N.
    const control = /^\/_lab\/restart\/(\d+)$/.exec(req.url ?? '');
    if (control !== null && req.method === 'POST') {
      const target = replicas[Number(control[1]) - 1];
      target?.restart();
      return send(res, target !== undefined ? 200 : 404, 'text/plain', target !== undefined ? 'restarted' : 'no such replica');
    }
    let r: ReplicaImpl;
    if (kind === 'affinity-cookie') {
      // Sticky on its own cookie, which it sets on every answer (as AWSALB or Traefik's do).
      const wanted = replicas.find((x) => x.name === cookiesOf(req)[FRONT_COOKIE]);
      r = wanted ?? replicas[next++ % replicas.length]!;
      res.setHeader('set-cookie', `${FRONT_COOKIE}=${r.name}; Path=/; HttpOnly`);
      const writeHead = res.writeHead.bind(res);
      // The app's own Set-Cookie is added to the balancer's, not put in its place.
      res.writeHead = ((status: number, headers?: Record<string, string | string[]>) => {
        const own = headers?.['set-cookie'];
        if (own !== undefined) {
          headers!['set-cookie'] = [`${FRONT_COOKIE}=${r.name}; Path=/; HttpOnly`, ...(Array.isArray(own) ? own : [own])];
          res.removeHeader('set-cookie');
        }
        return writeHead(status, headers);
      }) as typeof res.writeHead;
    } else r = app.balance === 'first' ? replicas[0]! : roundRobin(req);
    r.handle(req, res).catch(() => {
      if (!res.headersSent) send(res, 500, 'text/plain', 'error');
    });
  });
  (app as { url: string }).url = app.server.url;
  return app;
}

/** The OIDC app's identity provider, Keycloak-like: its own origin, a per-login code in the form's action. */
export interface IdpApp extends App {
  readonly idpUrl: string;
}

/**
 * An app that logs users in through an identity provider on another origin (127.0.0.2), as an
 * OpenID Connect client behind Keycloak does (Spring Security's oauth2Login): a protected page without a
 * session redirects to /oauth2/authorization/demo, which redirects to the provider's authorize URL (state
 * in a cookie); the provider's form posts to an action whose query holds a single-use session_code; its
 * answer redirects to the app's /callback with a code, where the app's replica makes the session, then
 * to the public /. Sessions in each replica's memory, as for the other apps.
 */
export async function startIdpApp(o: { replicas?: number } = {}): Promise<IdpApp> {
  const authSessions = new Map<string, { redirect: string; state: string }>();
  const codes = new Map<string, string>();
  const ssoSessions = new Map<string, string>();
  const idp = await startServer(async (req, res) => {
    const u = new URL(req.url ?? '/', 'http://idp.invalid');
    const cookies = cookiesOf(req);
    const form = (error: string, redirect: string, state: string): void => {
      const sc = newId();
      authSessions.set(sc, { redirect, state });
      send(
        res,
        200,
        HTML,
        page(
          'Sign in to demo',
          `${error}<form id="kc-form-login" onsubmit="login.disabled = true; return true;" action="/realms/demo/login-actions/authenticate?session_code=${sc}&amp;execution=${newId()}&amp;client_id=app&amp;tab_id=${newId().slice(0, 11)}" method="post">` +
            '<input tabindex="1" id="username" name="username" value="" type="text" autofocus autocomplete="off"><input tabindex="2" id="password" name="password" type="password" autocomplete="off">' +
            '<input type="hidden" id="id-hidden-input" name="credentialId"><input tabindex="4" name="login" id="kc-login" type="submit" value="Sign In"></form>',
        ),
        { 'set-cookie': `AUTH_SESSION_ID=${newId()}; Path=/realms/demo/; HttpOnly` },
      );
    };
    if (u.pathname === '/realms/demo/protocol/openid-connect/auth') {
      const back = u.searchParams.get('redirect_uri') ?? '';
      const state = u.searchParams.get('state') ?? '';
      const sso = cookies['KEYCLOAK_SESSION'] !== undefined ? ssoSessions.get(cookies['KEYCLOAK_SESSION']) : undefined;
      if (sso !== undefined) {
        const code = newId();
        codes.set(code, sso);
        return redirect(res, `${back}?state=${state}&code=${code}`);
      }
      return form('', back, state);
    }
    if (u.pathname === '/realms/demo/login-actions/authenticate' && req.method === 'POST') {
      const auth = authSessions.get(u.searchParams.get('session_code') ?? '');
      if (auth === undefined) return send(res, 400, HTML, page('Error', 'Your login attempt timed out. Login will start from the beginning.'));
      authSessions.delete(u.searchParams.get('session_code')!);
      const f = new URLSearchParams(await readBody(req));
      const name = f.get('username') ?? '';
      if (APP_USERS[name] !== f.get('password')) return form('<span id="input-error">Invalid username or password.</span>', auth.redirect, auth.state);
      const sso = newId();
      ssoSessions.set(sso, name);
      const code = newId();
      codes.set(code, name);
      return redirect(res, `${auth.redirect}?state=${auth.state}&session_state=${newId()}&code=${code}`, { 'set-cookie': `KEYCLOAK_SESSION=${sso}; Path=/realms/demo/` });
    }
    return send(res, 404, HTML, page('Not found', 'Not found'));
  }, '127.0.0.2');

  const replicas: ReplicaImpl[] = Array.from({ length: o.replicas ?? 2 }, (_v, i) => {
    const sessions = new Map<string, string>();
    const counts: ReplicaCounts = { protected: 0, lost: 0, logins: 0, loginFailures: 0 };
    const handle: Handler = async (req, res) => {
      const u = new URL(req.url ?? '/', `http://${req.headers.host}`);
      const cookies = cookiesOf(req);
      const app = `http://${req.headers.host}`;
      if (u.pathname === '/callback') {
        const name = codes.get(u.searchParams.get('code') ?? '');
        if (name === undefined || u.searchParams.get('state') !== cookies['oidc_state']) {
          counts.loginFailures++;
          return send(res, 401, HTML, page('Error', 'invalid state or code'));
        }
        codes.delete(u.searchParams.get('code')!);
        counts.logins++;
        const id = newId();
        sessions.set(id, name);
        return redirect(res, '/', { 'set-cookie': [`APPSESSION=${id}; Path=/; HttpOnly`, 'oidc_state=; Path=/; Max-Age=0'] });
      }
      if (u.pathname === '/oauth2/authorization/demo') {
        // Spring Security's OAuth2 login entry: the state in a cookie, then off to the provider.
        const state = newId();
        return redirect(res, `${idp.url}/realms/demo/protocol/openid-connect/auth?client_id=app&response_type=code&scope=openid&redirect_uri=${encodeURIComponent(`${app}/callback`)}&state=${state}`, {
          'set-cookie': `oidc_state=${state}; Path=/; HttpOnly`,
        });
      }
      if (u.pathname === '/') return send(res, 200, HTML, page('Welcome', '<p>Welcome</p><a href="/home">Your account</a>'));
      if (!['/home', '/orders', '/profile'].includes(u.pathname)) return send(res, 404, HTML, page('Not found', 'Not found'));
      counts.protected++;
      const user = cookies['APPSESSION'] !== undefined ? sessions.get(cookies['APPSESSION']) : undefined;
      if (user === undefined) {
        counts.lost++;
        return redirect(res, '/oauth2/authorization/demo');
      }
      return send(res, 200, HTML, page(u.pathname, `<a href="/home">Home</a> <a href="/orders">Orders</a> <a href="/profile">Profile</a> <a href="${idp.url}/realms/demo/protocol/openid-connect/logout">Sign out</a><p>${user}</p>`));
    };
    return { name: `b${i + 1}`, counts, restart: () => sessions.clear(), handle };
  });
  const roundRobin = rotation(replicas);
  const front: IdpApp & { balance: App['balance'] } = {
    url: '',
    idpUrl: idp.url,
    replicas,
    balance: 'round-robin',
    totals: () => sumCounts(replicas),
    close: async () => {
      await server.close();
      await idp.close();
    },
  };
  const server = await startServer((req, res) => {
    const r = front.balance === 'first' ? replicas[0]! : roundRobin(req);
    r.handle(req, res).catch(() => {
      if (!res.headersSent) send(res, 500, 'text/plain', 'error');
    });
  });
  (front as { url: string }).url = server.url;
  return front;
}
