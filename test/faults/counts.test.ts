/** Counts that must stay exact against the server's own: ramp-up, and logged-in pages with password forms. */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { runWithResult } from '../helpers/fault-run.js';
import { cookiesOf, readBody, serversClosedAfterEach } from '../helpers/servers.js';

const server = serversClosedAfterEach(afterEach);

/** A small form-login app that counts what it did, like a real app's logs. */
function loginApp(opts: { delayMs?: number; loggedInPage?: string } = {}) {
  const sessions = new Set<string>();
  const counts = { requests: 0, logins: 0, noSession: 0 };
  const handler = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    counts.requests++;
    if (opts.delayMs) await new Promise((r) => setTimeout(r, opts.delayMs));
    const sid = cookiesOf(req)['SID'];
    if (req.url === '/login' && req.method === 'GET') {
      res.end('<form method="post" action="/login"><input type="hidden" name="csrf" value="c1"><input name="username"><input type="password" name="password"></form>');
    } else if (req.url === '/login') {
      const form = new URLSearchParams(await readBody(req));
      if (form.get('csrf') !== 'c1' || form.get('password') !== 'pw') return void res.writeHead(403).end('bad');
      const id = randomBytes(8).toString('hex');
      sessions.add(id);
      counts.logins++;
      res.writeHead(302, { 'set-cookie': `SID=${id}; Path=/`, location: '/home' }).end();
    } else if (sid !== undefined && sessions.has(sid)) {
      res.end(opts.loggedInPage ?? 'home');
    } else {
      counts.noSession++;
      res.writeHead(302, { location: '/login' }).end();
    }
  };
  return { counts, handler: (req: IncomingMessage, res: ServerResponse) => void handler(req, res) };
}

describe('counts equal the server\'s own', () => {
  it('with --ramp-up: no request cut at the stop, logins and requests exact', async () => {
    const app = loginApp({ delayMs: 60 });
    const s = await server(app.handler);
    const r = await runWithResult([`${s.url}/home`, '--login-form', '/login', '--user', 'alice:pw', '-c', '10', '--ramp-up', '600ms', '-d', '1s']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.result.requests.errors.other).toBe(0);
    expect(r.result.requests.aborted).toBe(0);
    expect(r.result.requests.total).toBe(app.counts.requests);
    expect(r.result.session.logins).toBe(app.counts.logins);
    expect(r.result.session.losses).toBe(app.counts.noSession);
  });

  it('quick mode: a logged-in page with a password form ("change password") is not a lost session', async () => {
    const app = loginApp({ loggedInPage: '<h1>Account</h1><form method="post" action="/account/password"><input type="password" name="old"><input type="password" name="new"></form>' });
    const s = await server(app.handler);
    const r = await runWithResult([`${s.url}/home`, '--login-form', '/login', '--user', 'alice:pw', '-c', '2', '-n', '60']);
    expect(r.code).toBe(0);
    expect(r.result.session.losses).toBe(0);
    expect(app.counts.noSession).toBe(0);
    expect(r.result.session.logins).toBe(2);
    expect(r.result.session.retention).toBe(1);
  });

  it('every login failure says why, in the report and the JSON', async () => {
    const app = loginApp();
    const s = await server(app.handler);
    const r = await runWithResult([`${s.url}/home`, '--login-form', '/login', '--user', 'alice:wrong', '-c', '1', '-n', '20']);
    expect(r.code).toBe(3);
    expect(r.result.session.loginFailureReasons).toEqual({ 'POST /login: status 403': 10 });
    expect(r.stdout).toMatch(/10 x POST \/login: status 403/);
  });
});

describe('logging in again after a loss', () => {
  /** An app that answers some logged-in requests 401 (a flaky check) and whose login page sends a user with a valid session home. */
  function flakyApp() {
    const sessions = new Set<string>();
    const counts = { logins: 0, forbidden: 0, homes: 0 };
    const handler = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
      const sid = cookiesOf(req)['SID'];
      const valid = sid !== undefined && sessions.has(sid);
      if (req.url === '/login' && req.method === 'GET') {
        if (valid) return void res.writeHead(302, { location: '/home' }).end(); // "you are logged in already"
        return void res.end('<form method="post" action="/login"><input type="hidden" name="csrf" value="c1"><input type="password" name="password"></form>');
      }
      if (req.url === '/login') {
        const form = new URLSearchParams(await readBody(req));
        if (form.get('csrf') !== 'c1') {
          counts.forbidden++;
          return void res.writeHead(403).end('CSRF');
        }
        const id = randomBytes(8).toString('hex');
        sessions.add(id);
        counts.logins++;
        return void res.writeHead(302, { 'set-cookie': `SID=${id}; Path=/`, location: '/home' }).end();
      }
      if (!valid) return void res.writeHead(302, { location: '/login' }).end();
      counts.homes++;
      res.writeHead(counts.homes % 5 === 0 ? 401 : 200).end('home');
    };
    return { counts, handler: (req: IncomingMessage, res: ServerResponse) => void handler(req, res) };
  }

  it('by default drops the cookies the login set, so the login page shows its form again', async () => {
    const app = flakyApp();
    const s = await server(app.handler);
    const r = await runWithResult([`${s.url}/home`, '--login-form', '/login', '--user', 'a:pw', '-c', '1', '-n', '60']);
    expect(r.result.session.loginFailures).toBe(0);
    expect(app.counts.forbidden).toBe(0);
    expect(r.result.session.losses).toBeGreaterThan(0);
    expect(r.result.session.logins).toBe(app.counts.logins);
  });

  it('with --relogin keep the old session cookie stays: the login page sends the user on, recognised as still logged in', async () => {
    const app = flakyApp();
    const s = await server(app.handler);
    const r = await runWithResult([`${s.url}/home`, '--login-form', '/login', '--user', 'a:pw', '-c', '1', '-n', '60', '--relogin', 'keep']);
    // Before: the VU followed the redirect, posted the login without the form's CSRF token, got 403 forever.
    expect(app.counts.forbidden).toBe(0);
    expect(r.result.session.stillLoggedIn).toBeGreaterThan(0);
    expect(r.result.session.logins).toBe(app.counts.logins);
    expect(r.stdout).toMatch(/Still logged in: +\d+ re-logins found the session still valid/);
  });
});
