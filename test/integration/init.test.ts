/**
 * `init URL` against apps it has never seen, each with another framework's login and another way of
 * saying "no session": the lab (a redirect to /login), a JSON API (401 with a JSON body), a Django-like
 * app (200 with the login form), a Rails-like app whose logged-in pages have password fields, an app
 * behind a balancer that pins users with a cookie of its own and names no backend, and an OpenID Connect
 * app whose login is an identity provider's form on another origin. For each: init finds
 * the login, the session and the signal; the file it writes loads unchanged; `check` walks it; and a
 * load run on a fleet that loses sessions counts exactly the losses the servers counted themselves.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { labControlCommand } from '../../src/cli/demo-rows.js';
import { startLab, type Lab } from '../../src/lab/lab.js';
import type { RunResult } from '../../src/result/schema.js';
import { loadScenario } from '../../src/scenario/load.js';
import { APP_USERS, FRONT_COOKIE, startApp, startIdpApp, type App, type AppKind, type ReplicaCounts } from '../helpers/apps.js';
import { runCli } from '../helpers/cli.js';
import { cookiesOf, readBody, startServer } from '../helpers/servers.js';

const dir = mkdtempSync(join(tmpdir(), 'sb-init-'));
const VUS = 4;
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const apps: { close(): Promise<void> }[] = [];
afterEach(async () => {
  await Promise.all(apps.splice(0).map((a) => a.close()));
});

async function app(kind: AppKind): Promise<App> {
  const a = await startApp(kind);
  apps.push(a);
  // Discovery on a fleet that keeps sessions (one replica answers); the run on one that loses them.
  a.balance = 'first';
  return a;
}

let files = 0;
async function init(url: string, user: string, extra: string[] = []): Promise<{ file: string; stdout: string; stderr: string; code: number | null }> {
  const file = join(dir, `s${files++}.yaml`);
  const r = await runCli(['init', url, '--user', user, '--out', file, ...extra]);
  return { file, stdout: r.stdout, stderr: r.stderr, code: r.code };
}

async function runFile(file: string, args: string[]): Promise<RunResult> {
  const json = `${file}.json`;
  const r = await runCli(['run', file, '-q', '--json', json, ...args], { timeoutMs: 60_000 });
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(readFileSync(json, 'utf8')) as RunResult;
}

const delta = (after: ReplicaCounts, before: ReplicaCounts): ReplicaCounts => ({
  protected: after.protected - before.protected,
  lost: after.lost - before.lost,
  logins: after.logins - before.logins,
  loginFailures: after.loginFailures - before.loginFailures,
});

/**
 * The run's figures equal the servers' own: losses, logged-in requests, and so retention; and logins.
 * A login of several requests (an identity provider's redirects) that the end of the run cut after the
 * app made the session is the server's and not yet the run's: `loginsCut` bounds those (0 when the
 * login is one request).
 */
function expectServersCount(r: RunResult, served: ReplicaCounts, loginsCut = 0): void {
  expect(r.session.losses).toBe(served.lost);
  expect(r.session.flowRequests).toBe(served.protected);
  expect(r.session.flowRequestsKept).toBe(served.protected - served.lost);
  expect(served.logins - r.session.logins).toBeGreaterThanOrEqual(0);
  expect(served.logins - r.session.logins).toBeLessThanOrEqual(loginsCut);
  expect(r.session.loginFailures).toBe(served.loginFailures);
}

/** A load run of `file` once the fleet turns round-robin (sessions lost): its counts equal the servers'. */
async function runOnLosingFleet(a: App, file: string, loginsCut = 0): Promise<RunResult> {
  a.balance = 'round-robin';
  const before = a.totals();
  const r = await runFile(file, ['-n', '400', '-c', String(VUS)]);
  const served = delta(a.totals(), before);
  expect(served.lost).toBeGreaterThan(0);
  expectServersCount(r, served, loginsCut);
  return r;
}

describe('init finds the login and the lost-session signal; run counts what the servers count', () => {
  it('a JSON API that answers 401 with a JSON body: login, token, 401 rule', async () => {
    const a = await app('json-401');
    const i = await init(`${a.url}/`, `alice:${APP_USERS['alice']}`);
    expect(i.code, i.stderr).toBe(0);
    expect(i.stdout).toMatch(/Login\s+JSON POST \/api\/auth\/login/);
    expect(i.stdout).toMatch(/Session\s+token at access_token/);
    expect(i.stdout).toMatch(/Lost session\s+status 401\s+\[high\]/);
    // The password is in the file (mode 0600), never on the screen.
    expect(i.stdout + i.stderr).not.toContain(APP_USERS['alice']);
    expect(statSync(i.file).mode & 0o777).toBe(0o600);
    const s = loadScenario(i.file);
    expect([...s.session.lostStatus]).toEqual([401]);
    expect(s.login.map((x) => `${x.method} ${x.url.source}`)).toEqual(['POST /api/auth/login']);
    expect(s.flow[0]!.headers.map(([k, v]) => `${k}: ${v.source}`)).toEqual(['authorization: Bearer {{token}}']);

    const c = await runCli(['check', i.file]);
    expect(c.code, c.stdout).toBe(0);
    expect(c.stdout).toContain('the loss rule fires (session.lostStatus)');
    // Pages named with --page are the flow, the first one probed for the signal.
    const named = await init(`${a.url}/api/auth/login`, `alice:${APP_USERS['alice']}`, ['--page', '/api/orders', '--page', '/api/me']);
    expect(named.code, named.stderr).toBe(0);
    expect(loadScenario(named.file).flow.map((x) => x.url.source)).toEqual(['/api/orders', '/api/me']);
    expect(named.stderr).not.toContain('GET /signin');

    await runOnLosingFleet(a, i.file);
  });

  it('a Django-like app that answers 200 with the login form, CSRF by double submit, links with side effects', async () => {
    const a = await app('form-200');
    const i = await init(`${a.url}/`, `alice:${APP_USERS['alice']}`);
    expect(i.code, i.stderr).toBe(0);
    expect(i.stdout).toMatch(/Login form\s+POST \/accounts\/login\/: username, password; hidden: csrfmiddlewaretoken\s+\[high\]/);
    expect(i.stdout).toMatch(/Session cookie\s+sessionid\s+\[high\]/);
    expect(i.stdout).toMatch(/Lost session\s+200 with a login page\s+\[high\]/);
    // Logout and delete links are never followed (nor requested: the session would be gone).
    expect(i.stdout).toMatch(/skipped as logout or side effect: \/projects\/7\/delete\/, \/accounts\/logout\//);
    expect(i.stderr).not.toMatch(/GET \/(accounts\/logout|projects\/7\/delete)\//);
    const s = loadScenario(i.file);
    expect(s.session.lostBodyMatch).not.toBeNull();
    expect(s.flow.map((x) => x.url.source)).toEqual(['/dashboard/', '/projects/', '/reports/', '/projects/7/']);
    expect(s.login[1]!.hiddenInputs).toBe(true);

    const c = await runCli(['check', i.file]);
    expect(c.code, c.stdout).toBe(0);
    expect(c.stdout).toContain('the loss rule fires (session.lostBodyMatch)');

    await runOnLosingFleet(a, i.file);
  });

  it('a Rails-like app whose logged-in pages have password fields: the rule matches the sign-in form only', async () => {
    const a = await app('password-pages');
    const i = await init(`${a.url}/`, `alice:${APP_USERS['alice']}`);
    expect(i.code, i.stderr).toBe(0);
    expect(i.stdout).toMatch(/Login form\s+POST \/users\/sign_in: user\[email\], user\[password\]; hidden: authenticity_token/);
    expect(i.stdout).toMatch(/Lost session\s+200 with a login page\s+\[high\]/);
    // data-method="delete" and "Sign out": not a page to visit.
    expect(i.stderr).not.toContain('/users/sign_out');
    const s = loadScenario(i.file);
    expect(s.flow.map((x) => x.url.source)).toEqual(['/', '/projects', '/settings', '/users/new']);
    const settings = await fetch(`${a.url}/settings`, { headers: { cookie: '' } });
    expect(settings.status).toBe(200);

    const c = await runCli(['check', i.file]);
    expect(c.code, c.stdout).toBe(0);
    // Every logged-in page with a password field was walked and kept the session.
    expect(c.stdout).toMatch(/GET \/settings\s+200\s+ok/);
    expect(c.stdout).toMatch(/GET \/users\/new\s+200\s+ok/);

    // Losses equal to the servers' own "no session" count: no logged-in page with a password field was
    // taken for a lost session.
    await runOnLosingFleet(a, i.file);
  });

  it('behind a balancer with its own affinity cookie and no backend header: the cookie names the backend', async () => {
    const a = await app('affinity-cookie');
    const i = await init(`${a.url}/`, `bob:${APP_USERS['bob']}`);
    expect(i.code, i.stderr).toBe(0);
    expect(i.stdout).toMatch(new RegExp(`Affinity cookie\\s+${FRONT_COOKIE}\\s+\\[high\\]`));
    expect(i.stdout).toMatch(/Backend header\s+-\s+\[not found\]/);
    expect(i.stdout).toMatch(new RegExp(`Backend identity\\s+cookie ${FRONT_COOKIE}`));
    expect(i.stdout).toMatch(/Session cookie\s+JSESSIONID\s+\[high\]/);
    expect(i.stdout).toMatch(/Lost session\s+redirect to \/login\s+\[high\]/);
    const s = loadScenario(i.file);
    expect([...s.session.keepCookies]).toEqual([FRONT_COOKIE]);
    expect(s.session.loginPath).toBe('/login');

    const c = await runCli(['check', i.file]);
    expect(c.code, c.stdout).toBe(0);
    expect(c.stdout).toContain('Without the session (JSESSIONID)');

    // The balancer keeps users on their replica; a restart of one (its sessions gone) logs them out.
    const before = a.totals();
    const r = await runFile(i.file, ['-d', '3s', '-c', '4', '--at', `1s=${labControlCommand(a.url, 'restart/1', process.env)}`]);
    const served = delta(a.totals(), before);
    expect(served.lost).toBeGreaterThan(0);
    expectServersCount(r, served);
    expect(r.session.attribution.backendSource).toEqual({ kind: 'affinity-cookie', name: FRONT_COOKIE });
    expect(Object.keys(r.backends).sort()).toEqual(['b1', 'b2']);
  });

  it('an OpenID Connect app behind a Keycloak-like identity provider on another origin: the per-login action is read at each login', async () => {
    const a = await startIdpApp();
    apps.push(a);
    a.balance = 'first';
    const i = await init(`${a.url}/home`, `alice:${APP_USERS['alice']}`);
    expect(i.code, i.stderr).toBe(0);
    expect(i.stdout).toContain(`on another origin (${a.idpUrl}): an identity provider`);
    expect(i.stdout).toMatch(/Credentials\s+they work/);
    expect(i.stdout).toMatch(/Session cookie\s+APPSESSION\s+\[high\]/);
    expect(i.stdout).toMatch(/Lost session\s+redirect to \/oauth2\/authorization\/demo\s+\[high\]/);
    const s = loadScenario(i.file);
    // The app's login entry, then the provider's form, posted where the page says (its session_code changes).
    expect(s.login.map((x) => `${x.method} ${x.url.source}`)).toEqual(['GET /oauth2/authorization/demo', 'POST {{loginAction}}']);
    expect(s.login[0]!.extract).toEqual([{ name: 'loginAction', kind: 'login-form-action' }]);
    expect(s.flow.map((x) => x.url.source)).toEqual(['/home', '/orders', '/profile']);

    const c = await runCli(['check', i.file]);
    expect(c.code, c.stdout).toBe(0);
    expect(c.stdout).toMatch(/GET \/callback\?.*302 → \/\s+set APPSESSION/);

    // Each VU may be cut by the end of the run between the app's /callback and the login's last page.
    await runOnLosingFleet(a, i.file, VUS);
  });

  it('the lab: a redirect to /login, x-served-by, and its sticky balancer cookie', async () => {
    const l: Lab = await startLab({ replicas: 2, balancer: 'sticky', store: 'memory', delayMs: 2, threads: 0 });
    apps.push(l);
    const i = await init(`${l.url}/home`, 'admin:admin');
    expect(i.code, i.stderr).toBe(0);
    expect(i.stdout).toMatch(/Lost session\s+redirect to \/login\s+\[high\]/);
    expect(i.stdout).toMatch(/Backend header\s+x-served-by\s+\[high\]/);
    expect(i.stdout).toMatch(/Affinity cookie\s+LAB_AFFINITY/);
    const s = loadScenario(i.file);
    expect(s.session.servedByHeader).toBe('x-served-by');
    expect(s.flow.map((x) => x.url.source)).toEqual(['/home', '/owners', '/vets']);
    const c = await runCli(['check', i.file]);
    expect(c.code, c.stdout).toBe(0);
    // A scenario that shapes its load (stages, events) is walked by one user all the same.
    const staged = await runCli(['check', 'scenarios/rollout.yaml', '--target', l.url]);
    expect(staged.code, staged.stdout + staged.stderr).toBe(0);
    expect(staged.stdout).toContain('the loss rule fires');
    // run --validate is check with run's flags.
    const v = await runCli(['run', i.file, '--validate']);
    expect(v.code, v.stdout).toBe(0);
    expect(v.stdout).toContain('Without the session (SESSION), GET /home → 302 /login: the loss rule fires');
    // A bounded handful of requests, each listed on stderr.
    const probes = i.stderr.split('\n').filter((x) => /^\s+(GET|POST) /.test(x)).length;
    expect(probes).toBeGreaterThan(5);
    expect(probes).toBeLessThanOrEqual(48);
    expect(readFileSync(i.file, 'utf8')).toContain(`(${probes} requests)`);

    const misses = l.stats().totals.sessionMisses;
    const r = await runFile(i.file, ['-d', '3s', '-c', '6', '--at', `1s=${labControlCommand(l.url, 'restart/1', process.env)}`]);
    expect(r.session.losses).toBeGreaterThan(0);
    expect(r.session.losses).toBe(l.stats().totals.sessionMisses - misses);
  });
});

describe('init and check say what is wrong', () => {
  it('rejected credentials: the file is written, the reason printed, exit 3', async () => {
    const a = await app('form-200');
    const i = await init(`${a.url}/`, 'alice:wrong-password');
    expect(i.code).toBe(3);
    expect(i.stdout).toMatch(/Credentials\s+rejected/);
    expect(i.stdout).toContain('with the login form again');
    expect(i.stdout + i.stderr).not.toContain('wrong-password');
    // Without a session to compare with, the login form itself is the rule: check sees the login fail.
    expect(i.stdout).toMatch(/Lost session\s+a page with the login form \(a guess\)\s+\[low\]/);
    const c = await runCli(['check', i.file]);
    expect(c.code).toBe(3);
    expect(c.stdout).toContain('The login failed: POST /accounts/login/: answered the login form again');
  });

  it('check: a scenario whose loss rule cannot fire exits 1 and says so', async () => {
    const a = await app('form-200');
    const i = await init(`${a.url}/`, `alice:${APP_USERS['alice']}`);
    // Without its lostBodyMatch the app's 200 + login form would pass for a logged-in page.
    const text = readFileSync(i.file, 'utf8').replace(/^\s*lostBodyMatch:.*$/m, '');
    const broken = join(dir, 'broken.yaml');
    (await import('node:fs')).writeFileSync(broken, text);
    const c = await runCli(['check', broken]);
    expect(c.code).toBe(1);
    expect(c.stdout).toContain('the loss rule does not fire');
  });

  it('bad input exits 2 before any request, naming the flag; an app that is down exits 3', async () => {
    const bad = await runCli(['init', 'not-a-url', '--user', 'a']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('URL');
    expect(bad.stderr).toContain('--user');
    expect(bad.stderr).not.toMatch(/at .*\.js:\d+/);
    const down = await runCli(['init', 'http://127.0.0.1:9/', '--dry-run']);
    expect(down.code).toBe(3);
    expect(down.stderr).toContain('the app did not answer');
  });

  it('a page that drops the connection is left out of the flow, named with its error kind; the rest goes on', async () => {
    const sessions = new Set<string>();
    const server = await startServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      const logged = sessions.has(cookiesOf(req)['sid'] ?? '');
      if (path === '/login' && req.method === 'POST') {
        void readBody(req).then(() => {
          sessions.add('s1');
          res.writeHead(302, { location: '/home', 'set-cookie': 'sid=s1; Path=/', 'content-length': 0 }).end();
        });
        return;
      }
      if (path === '/login') return void res.writeHead(200, { 'content-type': 'text/html' }).end('<form method="post" action="/login"><input name="user"><input type="password" name="pw"></form>');
      if (!logged) return void res.writeHead(302, { location: '/login', 'content-length': 0 }).end();
      if (path === '/broken') return void req.socket.destroy();
      res.writeHead(200, { 'content-type': 'text/html' }).end('<a href="/broken">Broken</a> <a href="/a">A</a>');
    });
    apps.push(server);
    const i = await init(`${server.url}/home`, 'u:pw-secret');
    expect(i.code, i.stderr).toBe(0);
    expect(i.stdout).toMatch(/Navigation\s+\/home, \/a\s/);
    expect(i.stdout).toContain('left out: /broken (no answer: reset)');
    expect(i.stderr).toContain('GET /broken → no answer (reset');
  });

  it('an HTTPS app with a self-signed certificate: refused as a TLS error, then probed with --insecure, which the next commands carry', async () => {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'tls.key'), '-out', join(dir, 'tls.crt'), '-days', '2', '-subj', '/CN=localhost'], { stdio: 'ignore' });
    const sessions = new Set<string>();
    const server = createHttpsServer({ key: readFileSync(join(dir, 'tls.key')), cert: readFileSync(join(dir, 'tls.crt')) }, (req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      if (path === '/login' && req.method === 'POST') {
        void readBody(req).then(() => {
          const id = `s${sessions.size + 1}`;
          sessions.add(id);
          res.writeHead(302, { location: '/home', 'set-cookie': `sid=${id}; Path=/; Secure; HttpOnly`, 'content-length': 0 }).end();
        });
        return;
      }
      if (path === '/login') return void res.writeHead(200, { 'content-type': 'text/html' }).end('<form method="post" action="/login"><input name="user"><input type="password" name="pw"></form>');
      if (!sessions.has(cookiesOf(req)['sid'] ?? '')) return void res.writeHead(302, { location: '/login', 'content-length': 0 }).end();
      res.writeHead(200, { 'content-type': 'text/html' }).end('<p>home</p><a href="/home">Home</a>');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    apps.push({ close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }) });
    const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/home`;

    const refused = await init(url, 'u:pw-secret');
    expect(refused.code).toBe(3);
    expect(refused.stderr).toMatch(/the app did not answer: tls/);
    expect(refused.stderr).toContain('--insecure');

    const i = await init(url, 'u:pw-secret', ['--insecure']);
    expect(i.code, i.stderr).toBe(0);
    expect(i.stdout).toMatch(/Lost session\s+redirect to \/login\s+\[high\]/);
    expect(i.stdout).toContain(`session-bench check ${i.file} --insecure`);
    const c = await runCli(['check', i.file, '--insecure']);
    expect(c.code, c.stdout).toBe(0);
    expect(c.stdout).toContain('the loss rule fires');
  });

  it('--dry-run prints the scenario with the password hidden, and writes nothing', async () => {
    const a = await app('affinity-cookie');
    const out = join(dir, 'never.yaml');
    const r = await runCli(['init', `${a.url}/`, '--user', `bob:${APP_USERS['bob']}`, '--dry-run', '--out', out]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('password: "***"');
    expect(r.stdout).not.toContain(APP_USERS['bob']);
    expect(() => statSync(out)).toThrow();
  });
});
