import { describe, it, expect } from 'vitest';
import type { SessionRules } from '../../src/scenario/types.js';
import { isLoginPath, loginPathsFor, lossInResponse } from '../../src/engine/session.js';
import { ratio } from '../../src/metrics/summary.js';
import { type TargetBase } from '../../src/engine/url.js';

const rules = (over: Partial<SessionRules> = {}): SessionRules => ({
  loginPath: '/login',
  lostStatus: new Set([401]),
  lostBodyMatch: null,
  servedByHeader: null,
  relogin: 'clear-session',
  sessionCookies: null,
  keepCookies: new Set(),
  ...over,
});
const ROOT: TargetBase = { origin: 'http://h.test', basePath: '', authorization: null };
const PETCLINIC: TargetBase = { origin: 'http://h.test', basePath: '/petclinic', authorization: null };

describe('loginPathsFor', () => {
  it.each<[string, SessionRules, TargetBase, string[]]>([
    ['no login', rules({ loginPath: null }), PETCLINIC, []],
    ['root target', rules(), ROOT, ['/login']],
    ['base path target', rules(), PETCLINIC, ['/login', '/petclinic/login']],
    ['login path already under the base path', rules({ loginPath: '/petclinic/login' }), PETCLINIC, ['/petclinic/login', '/petclinic/petclinic/login']],
  ])('%s', (_name, r, base, paths) => {
    expect(loginPathsFor(r, base)).toEqual(paths);
  });
});

describe('isLoginPath', () => {
  const root = loginPathsFor(rules(), ROOT);
  const based = loginPathsFor(rules(), PETCLINIC);
  it.each<[string, readonly string[], string, boolean]>([
    ['exact', root, '/login', true],
    ['trailing slash', root, '/login/', true],
    ['two trailing slashes', root, '/login//', false],
    ['longer path with the same start', root, '/loginx', false],
    ['sub-path', root, '/login/help', false],
    ['prefix only', root, '/log', false],
    ['another page', root, '/home', false],
    ['case differs', root, '/Login', false],
    ['root', root, '/', false],
    ['base path variant', based, '/petclinic/login', true],
    ['base path variant with a trailing slash', based, '/petclinic/login/', true],
    ['plain path with a base path', based, '/login', true],
    ['base path alone', based, '/petclinic', false],
    ['base path variant not configured', root, '/petclinic/login', false],
    ['no login paths', [], '/login', false],
  ])('%s: %s', (_name, paths, pathname, expected) => {
    expect(isLoginPath(pathname, paths)).toBe(expected);
  });
});

describe('lossInResponse', () => {
  const bodyRule = rules({ lostBodyMatch: /name="password"/ });
  const LOGIN_PAGE = '<form><input type="password" name="password"></form>';
  it.each<[string, number, string | null, SessionRules, string | null]>([
    ['200 without body rule', 200, LOGIN_PAGE, rules(), null],
    ['401 is a lost status', 401, null, rules(), 'status'],
    ['401 with a body is still status', 401, LOGIN_PAGE, bodyRule, 'status'],
    ['403 is not lost by default', 403, null, rules(), null],
    ['configured 403', 403, null, rules({ lostStatus: new Set([401, 403]) }), 'status'],
    ['no lost statuses (no login)', 401, null, rules({ lostStatus: new Set() }), null],
    ['200 login page body', 200, LOGIN_PAGE, bodyRule, 'body-match'],
    ['204 login page body', 204, LOGIN_PAGE, bodyRule, 'body-match'],
    ['200 other body', 200, '<h1>Owners</h1>', bodyRule, null],
    ['200 body not kept', 200, null, bodyRule, null],
    ['200 empty body', 200, '', bodyRule, null],
    ['302 with a login page body is not a body match', 302, LOGIN_PAGE, bodyRule, null],
    ['500 with a login page body is not a body match', 500, LOGIN_PAGE, bodyRule, null],
    ['404 with a login page body is not a body match', 404, LOGIN_PAGE, bodyRule, null],
  ])('%s', (_name, status, body, r, expected) => {
    expect(lossInResponse(status, body, r)).toBe(expected);
  });

  it('gives the same answer when called repeatedly', () => {
    const r = rules({ lostBodyMatch: /password/ });
    for (let i = 0; i < 3; i++) expect(lossInResponse(200, 'password', r)).toBe('body-match');
  });
});

describe('ratio', () => {
  it.each<[number, number, number | null]>([
    [0, 0, null],
    [5, 0, null],
    [0, 10, 0],
    [10, 10, 1],
    [3, 4, 0.75],
    [1, 3, 1 / 3],
  ])('ratio(%d, %d) = %s', (kept, total, expected) => {
    expect(ratio(kept, total)).toBe(expected);
  });
});
