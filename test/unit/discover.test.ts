/**
 * init's pure parts, table-driven over the login pages, lost-session answers, headers and cookies of
 * frameworks and balancers other than ours (Keycloak, ASP.NET Identity, Laravel, WordPress, Spring
 * Security, Devise), and fuzzed: no page makes the parsers throw.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { findAffinityCookie, findBackendHeader, type Observed } from '../../src/discover/backend.js';
import { tokenPath, withoutCookies } from '../../src/discover/discover.js';
import { findLoginForm } from '../../src/discover/login-form.js';
import { navigationCandidates } from '../../src/discover/navigation.js';
import { bodyMarker, lostSessionSignal, matches, type Answer } from '../../src/discover/session-signal.js';
import { parseHtml } from '../../src/scenario/html.js';
import { parseScenario } from '../../src/scenario/load.js';
import { scenarioYaml } from '../../src/scenario/write.js';
import { parse as parseYaml } from 'yaml';

const form = (html: string, url = 'https://app.test/login') => findLoginForm(parseHtml(html), url);

describe('findLoginForm: the form a browser would log in with', () => {
  it.each<[string, string, string, Partial<NonNullable<ReturnType<typeof form>>>]>([
    [
      'Spring Security default page',
      '<form class="form-signin" method="post" action="/login"><input type="text" id="username" name="username"><input type="password" id="password" name="password"><input name="_csrf" type="hidden" value="abc"><button type="submit">Sign in</button></form>',
      'https://app.test/login',
      { actionUrl: 'https://app.test/login', method: 'POST', usernameField: 'username', passwordField: 'password', hidden: ['_csrf'], csrf: ['_csrf'], extra: [] },
    ],
    [
      'Keycloak: an absolute action on the identity provider, a named submit button',
      '<form id="kc-form-login" action="https://sso.test/realms/demo/login-actions/authenticate?session_code=x&amp;execution=y" method="post"><input tabindex="1" id="username" name="username" type="text" autofocus autocomplete="off"><input id="password" name="password" type="password" autocomplete="off"><input type="hidden" id="id-hidden-input" name="credentialId"><input tabindex="4" name="login" id="kc-login" type="submit" value="Sign In"></form>',
      'https://sso.test/realms/demo/protocol/openid-connect/auth',
      { actionUrl: 'https://sso.test/realms/demo/login-actions/authenticate?session_code=x&execution=y', usernameField: 'username', hidden: ['credentialId'], extra: [['login', 'Sign In']] },
    ],
    [
      'ASP.NET Core Identity: dotted names, an anti-forgery token, a remember-me checkbox left out',
      '<form id="account" method="post"><input class="form-control" autocomplete="username" type="email" id="Input_Email" name="Input.Email" value=""><input class="form-control" autocomplete="current-password" type="password" id="Input_Password" name="Input.Password"><input type="checkbox" name="Input.RememberMe" value="true"><button id="login-submit" type="submit">Log in</button><input name="__RequestVerificationToken" type="hidden" value="CfDJ8"><input name="Input.RememberMe" type="hidden" value="false"></form>',
      'https://app.test/Identity/Account/Login',
      { actionUrl: 'https://app.test/Identity/Account/Login', usernameField: 'Input.Email', passwordField: 'Input.Password', hidden: ['__RequestVerificationToken', 'Input.RememberMe'], csrf: ['__RequestVerificationToken'] },
    ],
    [
      'Laravel: _token and email',
      '<form method="POST" action="https://app.test/login"><input type="hidden" name="_token" value="t"><input id="email" type="email" name="email" required autofocus><input id="password" type="password" name="password" required><input type="checkbox" name="remember"><button type="submit">Log in</button></form>',
      'https://app.test/login',
      { usernameField: 'email', hidden: ['_token'], csrf: ['_token'] },
    ],
    [
      'WordPress: log and pwd, the named submit and hidden redirect_to',
      '<form name="loginform" id="loginform" action="https://blog.test/wp-login.php" method="post"><input type="text" name="log" id="user_login" autocapitalize="off" autocomplete="username"><input type="password" name="pwd" id="user_pass" autocomplete="current-password"><input name="rememberme" type="checkbox" id="rememberme" value="forever"><input type="submit" name="wp-submit" id="wp-submit" value="Log In"><input type="hidden" name="redirect_to" value="https://blog.test/wp-admin/"><input type="hidden" name="testcookie" value="1"></form>',
      'https://blog.test/wp-login.php',
      { usernameField: 'log', passwordField: 'pwd', hidden: ['redirect_to', 'testcookie'], extra: [['wp-submit', 'Log In']] },
    ],
    [
      'a sign-up form beside the login form: the one with a single, current password wins',
      '<form action="/users" method="post"><input name="user[email]"><input type="password" name="user[password]" autocomplete="new-password"><input type="password" name="user[password_confirmation]"></form><form action="/session" method="post"><input name="login"><input type="password" name="password"></form>',
      'https://app.test/',
      { actionUrl: 'https://app.test/session', usernameField: 'login', passwordField: 'password' },
    ],
  ])('%s', (_name, html, url, expected) => {
    expect(form(html, url)).toMatchObject(expected);
  });

  it('no password field: no login form', () => {
    expect(form('<form action="/search"><input name="q"></form>')).toBeNull();
  });
});

const answer = (url: string, status: number, body = '', headers: Record<string, string> = {}, location: string | null = null): Answer => ({ url, status, body, headers: { 'content-type': 'text/html', ...headers }, location });
const LOGIN = '<form method="post" action="/users/sign_in"><input name="user[email]"><input type="password" name="user[password]"></form>';
const CHANGE_PASSWORD = '<form method="post" action="/users/password"><input type="password" name="user[current_password]"><input type="password" name="user[password]"></form>';

describe('lostSessionSignal: the difference between a page with and without the session', () => {
  it.each<[string, Answer, Answer, Record<string, unknown>]>([
    ['a redirect to the login page (Spring, Django)', answer('https://a.test/home', 200, 'hi'), answer('https://a.test/home', 302, '', {}, '/login?next=/home'), { kind: 'redirect', loginPath: '/login', crossOrigin: false }],
    [
      'a redirect to an identity provider (Keycloak, Azure AD)',
      answer('https://a.test/home', 200, 'hi'),
      answer('https://a.test/home', 302, '', {}, 'https://login.microsoftonline.com/t/oauth2/v2.0/authorize?client_id=x'),
      { kind: 'redirect', loginPath: '/t/oauth2/v2.0/authorize', crossOrigin: true },
    ],
    ['401 with WWW-Authenticate and a JSON body', answer('https://a.test/api/me', 200, '{}', { 'content-type': 'application/json' }), answer('https://a.test/api/me', 401, '{"error":"x"}', { 'www-authenticate': 'Bearer', 'content-type': 'application/json' }), { kind: 'status', status: 401 }],
    ['403 (Laravel Sanctum, some proxies)', answer('https://a.test/api/me', 200, '{}'), answer('https://a.test/api/me', 403, 'Forbidden'), { kind: 'status', status: 403 }],
    ['200 with the login form, the logged-in page having a change-password form', answer('https://a.test/settings', 200, `<p>me</p>${CHANGE_PASSWORD}`), answer('https://a.test/settings', 200, LOGIN), { kind: 'body' }],
    ['the same page both times: not protected', answer('https://a.test/about', 200, 'same'), answer('https://a.test/about', 200, 'same'), { kind: 'none' }],
    ['a redirect both times: not the signal', answer('https://a.test/', 302, '', {}, '/home'), answer('https://a.test/', 302, '', {}, '/home'), { kind: 'none' }],
  ])('%s', (_name, withSession, without, expected) => {
    const signal = lostSessionSignal(withSession, without, '/users/sign_in', '/users/sign_in');
    expect(signal).toMatchObject(expected);
    if (signal.kind === 'body') {
      expect(matches(signal.pattern, without.body)).toBe(true);
      expect(matches(signal.pattern, withSession.body)).toBe(false);
    }
  });

  it('a body marker never matches the logged-in page, and none is made when nothing tells them apart', () => {
    // The same password form on both pages: no marker can be trusted.
    expect(bodyMarker(`<title>App</title>${LOGIN}`, `<title>App</title>${LOGIN}<p>please log in</p>`, 'https://a.test/x', null, null)).toBeNull();
    // Only the title differs: the title is the marker.
    const m = bodyMarker('<title>Dashboard</title>', '<title>Sign in</title>', 'https://a.test/x', null, null)!;
    expect(m.what).toContain('Sign in');
  });
});

const seen = (client: number, headers: Record<string, string>, setCookies: string[] = [], phase: Observed['phase'] = 'anonymous'): Observed => ({ client, headers, setCookies, phase });

describe('findBackendHeader and findAffinityCookie', () => {
  it('a header whose value varies across fresh clients names the backend; Date and request ids never do', () => {
    const obs = [0, 1, 2, 3].map((i) => seen(i, { 'x-backend-server': `pod-${i % 2}`, 'x-request-id': `r${i}`, date: `d${i}`, server: 'nginx' }));
    expect(findBackendHeader(obs)).toMatchObject({ name: 'x-backend-server', finding: { confidence: 'high' } });
  });

  it('Server that varies (a node name) counts; a constant Server (the software) does not', () => {
    expect(findBackendHeader([0, 1, 2].map((i) => seen(i, { server: `web-${i}` })))?.name).toBe('server');
    expect(findBackendHeader([0, 1, 2].map((i) => seen(i, { server: 'nginx/1.24' })))).toBeNull();
  });

  it.each<[string, Observed[], string | null, boolean]>([
    ['AWSALB: known, but its value does not name the backend', [seen(0, {}, ['AWSALB=abc; Path=/']), seen(1, {}, ['AWSALB=def; Path=/'])], 'AWSALB', false],
    ['SERVERID (HAProxy insert mode)', [seen(0, {}, ['SERVERID=s1; path=/']), seen(1, {}, ['SERVERID=s2; path=/'])], 'SERVERID', true],
    [
      'an unknown cookie whose value repeats across fresh clients',
      [0, 1, 2, 3].map((i) => seen(i, {}, [`lbx=node${i % 2}; Path=/`, `sess=${i}${i}${i}; Path=/`])),
      'lbx',
      true,
    ],
    ['a Tomcat jvmRoute on JSESSIONID', [seen(0, {}, ['JSESSIONID=8F2A31C4D5E6F708.node1; Path=/'])], 'JSESSIONID', true],
    ['session cookies only: none', [0, 1, 2, 3].map((i) => seen(i, {}, [`PHPSESSID=${i}abcdef; path=/`])), null, false],
  ])('%s', (_name, obs, name, names) => {
    const found = findAffinityCookie(obs, new Set());
    expect(found?.name ?? null).toBe(name);
    if (found !== null) expect(found.namesBackend).toBe(names);
  });
});

describe('navigationCandidates', () => {
  it('keeps same-origin pages in order; drops logout, side effects, data-method links, other origins and files', () => {
    const links = parseHtml(
      '<a href="/a">A</a><a href="/b?page=2">B</a><a href="/a">A again</a><a href="/logout">Out</a><a href="/x" data-method="delete">Remove</a>' +
        '<a href="/items/3/delete">Delete</a><a href="https://other.test/">Elsewhere</a><a href="/report.pdf">PDF</a><a href="#top">Top</a>' +
        '<a href="mailto:x@y">Mail</a><a href="/c">Sign out</a><a href="/users/sign_out">Bye</a><a href="/login">Login</a>',
    ).links;
    const r = navigationCandidates(links, 'https://app.test/home', new Set(['/login']));
    expect(r.paths).toEqual(['/a', '/b?page=2']);
    expect(r.skipped).toEqual(['/logout', '/x', '/items/3/delete', '/c', '/users/sign_out']);
  });
});

describe('tokenPath and withoutCookies', () => {
  it.each<[string, string, { path: string; type: string } | null]>([
    ['OAuth style', '{"access_token":"abcdefghij","token_type":"bearer"}', { path: 'access_token', type: 'bearer' }],
    ['nested', '{"data":{"token":"abcdefghij"}}', { path: 'data.token', type: 'Bearer' }],
    ['too short to be a token', '{"token":"x"}', null],
    ['not JSON', '<html>', null],
  ])('%s', (_name, body, expected) => {
    expect(tokenPath(body)).toEqual(expected);
  });

  it('removes only the named cookies from a Cookie header', () => {
    expect(withoutCookies('a=1; SESSION=xyz; AWSALB=q=', new Set(['SESSION']))).toBe('a=1; AWSALB=q=');
  });
});

describe('scenarioYaml', () => {
  it('writes comments before keys and a file that the loader takes unchanged', () => {
    const file = {
      name: 'x',
      target: 'http://127.0.0.1:1',
      session: { loginPath: '/login', keepCookies: ['lb'] },
      users: [{ username: 'u', password: 'p: "quoted" #not a comment' }],
      login: [{ get: '/login' }, { post: '/login', hiddenInputs: true, form: { 'user[email]': '{{username}}', 'user[password]': '{{password}}' }, followRedirects: false, expect: { status: 302, location: '/home' } }],
      flow: [{ get: '/home' }],
    };
    const text = scenarioYaml(file, ['line one'], [{ path: ['session', 'loginPath'], text: 'why: a redirect\nsecond line' }]);
    expect(text).toMatch(/^# line one\n/);
    expect(text).toContain('  # why: a redirect\n  # second line\n  loginPath: /login');
    expect(parseYaml(text)).toEqual(file);
    expect(parseScenario(parseYaml(text), 'x.yaml').login[1]!.hiddenInputs).toBe(true);
  });
});

describe('fuzz: no page makes the HTML readers throw', () => {
  it('parseHtml, findLoginForm, navigationCandidates and bodyMarker take any text', () => {
    const html = fc.oneof(
      fc.string(),
      fc.array(fc.constantFrom('<form', ' action="', '/login', '">', '<input type="password" name="p">', '<input type=hidden name=t value=1>', '</form>', '<a href="', '/x', '">', '</a>', '<!--', '-->', '&amp;', '<title>', '</title>'), { maxLength: 40 }).map((a) => a.join('')),
    );
    fc.assert(
      fc.property(html, html, (a, b) => {
        const page = parseHtml(a);
        findLoginForm(page, 'https://app.test/p');
        navigationCandidates(page.links, 'https://app.test/p', new Set());
        const m = bodyMarker(a, b, 'https://app.test/p', '/login', '/login');
        if (m !== null) expect(matches(m.pattern, b) && !matches(m.pattern, a)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});
