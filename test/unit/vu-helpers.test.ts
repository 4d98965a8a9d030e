import { describe, it, expect } from 'vitest';
import type { TargetBase } from '../../src/engine/url.js';
import { hiddenInputs, loginFormAction } from '../../src/scenario/extract.js';
import { resolveStepUrl, type ResolvedUrl } from '../../src/engine/url.js';

describe('hiddenInputs', () => {
  it.each<[string, string, [string, string][]]>([
    ['none', '<form><input type="text" name="q" value="x"></form>', []],
    ['empty page', '', []],
    ['one', '<input type="hidden" name="_csrf" value="abc">', [['_csrf', 'abc']]],
    [
      'several, in page order',
      '<form><input type="hidden" name="a" value="1"><input name="user" type="text"><input type="hidden" name="b" value="2"></form>',
      [['a', '1'], ['b', '2']],
    ],
    ['value before name and type', '<input value="abc" name="_csrf" type="hidden">', [['_csrf', 'abc']]],
    ['single quotes', "<input type='hidden' name='tok' value='x y'>", [['tok', 'x y']]],
    ['unquoted', '<input type=hidden name=tok value=xyz>', [['tok', 'xyz']]],
    ['spaces around =', '<input type = "hidden" name = "tok" value = "v">', [['tok', 'v']]],
    ['upper case', '<INPUT TYPE="HIDDEN" NAME="Tok" VALUE="V">', [['Tok', 'V']]],
    ['self-closing', '<input type="hidden" name="tok" value="v"/>', [['tok', 'v']]],
    ['no value attribute', '<input type="hidden" name="empty">', [['empty', '']]],
    ['empty value', '<input type="hidden" name="empty" value="">', [['empty', '']]],
    ['no name is skipped', '<input type="hidden" value="orphan">', []],
    [
      'HTML entities decoded',
      '<input type="hidden" name="a&amp;b" value="&lt;x&gt; &quot;q&quot; &#39;s&#x27; &amp;amp;">',
      [['a&b', `<x> "q" 's' &amp;`]],
    ],
    ['quotes of the other kind inside a value', `<input type="hidden" name="j" value='{"a":1}'>`, [['j', '{"a":1}']]],
    ['across lines', '<input\n  type="hidden"\n  name="tok"\n  value="v"\n>', [['tok', 'v']]],
    ['not hidden: password', '<input type="password" name="password" value="">', []],
    ['not hidden: submit', '<input type="submit" name="go" value="Go">', []],
    ['not hidden: no type', '<input name="q" value="x">', []],
    ['not an input', '<hidden name="a" value="b"><inputs type="hidden" name="c" value="d">', []],
  ])('%s', (_name, html, expected) => {
    expect(hiddenInputs(html)).toEqual(expected);
  });

  it('finds the inputs of a realistic login page', () => {
    const html = `<!doctype html><html><body>
      <form method="post" action="/login">
        <input type="hidden" name="_csrf" value="4bfd1575-3ad1-4d21-96c7-4ef2d9f86721"/>
        <label>User <input type="text" name="username"></label>
        <label>Password <input type="password" name="password"></label>
        <input type="hidden" name="redirect" value="/owners?lastName=&amp;page=2">
        <button type="submit">Log in</button>
      </form></body></html>`;
    expect(hiddenInputs(html)).toEqual([
      ['_csrf', '4bfd1575-3ad1-4d21-96c7-4ef2d9f86721'],
      ['redirect', '/owners?lastName=&page=2'],
    ]);
  });

  it('is stateless between calls (global regexes)', () => {
    const html = '<input type="hidden" name="a" value="1">';
    expect(hiddenInputs(html)).toEqual([['a', '1']]);
    expect(hiddenInputs(html)).toEqual([['a', '1']]);
  });
});

describe('resolveStepUrl', () => {
  const ROOT: TargetBase = { origin: 'http://127.0.0.1:8080', basePath: '', authorization: null };
  const BASED: TargetBase = { origin: 'http://127.0.0.1:8080', basePath: '/petclinic', authorization: null };
  it.each<[string, string, TargetBase, ResolvedUrl]>([
    ['path at the root', '/owners', ROOT, { origin: 'http://127.0.0.1:8080', path: '/owners', href: 'http://127.0.0.1:8080/owners' }],
    ['path with a query', '/owners?page=2', ROOT, { origin: 'http://127.0.0.1:8080', path: '/owners?page=2', href: 'http://127.0.0.1:8080/owners?page=2' }],
    ['root path', '/', ROOT, { origin: 'http://127.0.0.1:8080', path: '/', href: 'http://127.0.0.1:8080/' }],
    ['path without a leading slash', 'owners', ROOT, { origin: 'http://127.0.0.1:8080', path: '/owners', href: 'http://127.0.0.1:8080/owners' }],
    ['path under a base path', '/owners/1', BASED, { origin: 'http://127.0.0.1:8080', path: '/petclinic/owners/1', href: 'http://127.0.0.1:8080/petclinic/owners/1' }],
    ['root under a base path', '/', BASED, { origin: 'http://127.0.0.1:8080', path: '/petclinic/', href: 'http://127.0.0.1:8080/petclinic/' }],
    ['relative under a base path', 'login', BASED, { origin: 'http://127.0.0.1:8080', path: '/petclinic/login', href: 'http://127.0.0.1:8080/petclinic/login' }],
    ['absolute URL ignores the base', 'http://other.test:9000/a/b?x=1', BASED, { origin: 'http://other.test:9000', path: '/a/b?x=1', href: 'http://other.test:9000/a/b?x=1' }],
    ['absolute https URL without a path', 'https://secure.test', ROOT, { origin: 'https://secure.test', path: '/', href: 'https://secure.test/' }],
    ['non-ASCII and spaces percent-encoded as UTF-8', '/caf\u00e9/\u0100 x?q=a b', ROOT, { origin: 'http://127.0.0.1:8080', path: '/caf%C3%A9/%C4%80%20x?q=a%20b', href: 'http://127.0.0.1:8080/caf%C3%A9/%C4%80%20x?q=a%20b' }],
    ['absolute URL, scheme in upper case', 'HTTP://Upper.Test/X', ROOT, { origin: 'http://upper.test', path: '/X', href: 'http://upper.test/X' }],
    ['absolute URL on the default port', 'http://h.test:80/p', ROOT, { origin: 'http://h.test', path: '/p', href: 'http://h.test/p' }],
  ])('%s', (_name, text, base, expected) => {
    expect(resolveStepUrl(text, base)).toEqual(expected);
  });
});

describe('hiddenInputs picks what a browser would post with the login form', () => {
  it('keeps a value containing ">" whole and decodes every entity', () => {
    expect(hiddenInputs('<form><input type="hidden" name="t" value="a>b&eacute;&#x2F;&amp;"></form>')).toEqual([['t', 'a>bé/&']]);
  });

  it('leaves out other forms, HTML comments and disabled inputs', () => {
    const html = `
      <form action="/search"><input type="hidden" name="q" value="x"></form>
      <!-- <input type="hidden" name="old" value="1"> -->
      <form action="/login" method="post">
        <input type="hidden" name="csrf" value="tok">
        <input type="hidden" name="off" value="1" disabled>
        <input type="password" name="password">
      </form>`;
    expect(hiddenInputs(html)).toEqual([['csrf', 'tok']]);
    expect(hiddenInputs(html, '/search', 'http://app.test/')).toEqual([['q', 'x']]);
    expect(hiddenInputs(html, '/login', 'http://app.test/')).toEqual([['csrf', 'tok']]);
  });

  it('resolves relative actions against the page, and a form without an action posts to the page', () => {
    const html = '<form action="other"><input type="hidden" name="a" value="1"></form><form><input type="hidden" name="b" value="2"></form>';
    expect(hiddenInputs(html, '/app/other', 'http://app.test/app/login')).toEqual([['a', '1']]);
    expect(hiddenInputs(html, '/app/login', 'http://app.test/app/login')).toEqual([['b', '2']]);
  });

  it('counts inputs that name their form with form="id"; a page without forms gives every hidden input', () => {
    expect(hiddenInputs('<input type="hidden" name="x" value="1" form="f"><form id="f"><input type="password"></form>')).toEqual([['x', '1']]);
    expect(hiddenInputs('<div><input type="hidden" name="k" value="v"></div>')).toEqual([['k', 'v']]);
  });
});

describe('loginFormAction: where the login form posts, as a browser resolves it', () => {
  it.each<[string, string, string, string | null]>([
    ['an identity provider\'s absolute action, entities decoded', '<form id="kc-form-login" action="https://sso.test/realms/r/login-actions/authenticate?session_code=a&amp;tab_id=b" method="post"><input type="password" name="password"></form>', 'https://sso.test/realms/r/auth', 'https://sso.test/realms/r/login-actions/authenticate?session_code=a&tab_id=b'],
    ['a relative action', '<form action="do-login?x=1"><input type="password"></form>', 'https://app.test/account/login', 'https://app.test/account/do-login?x=1'],
    ['no action: the page itself', '<form method="post"><input type="password"></form>', 'https://app.test/login?next=%2F', 'https://app.test/login?next=%2F'],
    ['the form with the password field, not the search form before it', '<form action="/search"><input name="q"></form><form action="/session"><input type="password"></form>', 'https://app.test/', 'https://app.test/session'],
    ['no login form', '<form action="/search"><input name="q"></form>', 'https://app.test/', null],
  ])('%s', (_name, html, page, expected) => {
    expect(loginFormAction(html, page)).toBe(expected);
  });
});
