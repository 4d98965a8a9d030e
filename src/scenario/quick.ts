/** Quick mode: a scenario from flags, for people coming from ab (`run URL --login-form /login --nav /a`). */
import { pathOf } from './compile.js';
import { escapeRegex, PASSWORD_INPUT_PATTERN } from './extract.js';
import type { ScenarioFile } from './schema.js';


/**
 * Matches the login form itself: a form that posts to `actionPath` (or, when the form page is the
 * action, a form without an action) and has a password field. A logged-in page with another password
 * form ("change password", "add user") is not a lost session.
 */
export function loginFormPattern(actionPath: string, formPath: string): string {
  const last = actionPath.split('/').filter((p) => p !== '').pop() ?? '';
  const target = [escapeRegex(actionPath), ...(last !== '' ? [escapeRegex(last)] : [])].join('|');
  const end = String.raw`(?:[?#"'\s>]|$)`;
  const withAction = String.raw`<form\b[^>]*\baction\s*=\s*["']?(?:https?://[^/"'\s>]+)?(?:${target})${end}`;
  const withoutAction = String.raw`<form\b(?![^>]*\baction\s*=\s*["']?[^"'\s>])[^>]*>`;
  const form = actionPath === formPath ? `(?:${withAction}|${withoutAction})` : withAction;
  return String.raw`${form}(?:(?!</form>)[\s\S])*?${PASSWORD_INPUT_PATTERN}`;
}

export interface QuickModeOptions {
  /** The URL given on the command line. */
  url: string;
  /** Path (or URL) of the login form page; enables login-then-navigate. */
  loginForm?: string | undefined;
  /** Where the form is posted; default: the login form path. */
  loginAction?: string | undefined;
  usernameField?: string | undefined;
  passwordField?: string | undefined;
  /** Pages visited in order after login; default: the URL itself. */
  nav?: readonly string[] | undefined;
  servedByHeader?: string | undefined;
}

/**
 * Builds a scenario from quick-mode flags: plain GETs, or login form + navigation. Paths are URLs
 * relative to the one given, as in a browser: `/login` is from the origin, `login` from its folder.
 */
export function buildQuickScenario(o: QuickModeOptions): ScenarioFile {
  const base = new URL(o.url);
  const folder = base.origin + base.pathname.replace(/[^/]*$/, '');
  // Not new URL(p, base): that would percent-encode the braces of a {{variable}}.
  const at = (p: string): string => (/^https?:\/\//i.test(p) ? p : p.startsWith('/') ? base.origin + p : folder + p);
  const navPaths = o.nav && o.nav.length > 0 ? [...o.nav] : [o.url];
  const flow = navPaths.map((p) => ({ get: at(p), name: `GET ${p}` }));
  if (!o.loginForm) return { name: `GET ${o.url}`, target: o.url, flow };
  const form = at(o.loginForm);
  const action = o.loginAction !== undefined ? at(o.loginAction) : form;
  return {
    name: `login ${o.loginForm} then ${navPaths.join(' ')}`,
    target: o.url,
    session: {
      loginPath: pathOf(form),
      lostBodyMatch: loginFormPattern(pathOf(action), pathOf(form)),
      ...(o.servedByHeader ? { servedByHeader: o.servedByHeader } : {}),
    },
    login: [
      { get: form, name: `GET ${o.loginForm}` },
      {
        post: action,
        name: `POST ${o.loginAction ?? o.loginForm}`,
        hiddenInputs: true,
        form: { [o.usernameField ?? 'username']: '{{username}}', [o.passwordField ?? 'password']: '{{password}}' },
        // Check the login answer itself: following its redirect could land on another replica and
        // would then measure the session, not the login.
        followRedirects: false,
      },
    ],
    flow,
  };
}
