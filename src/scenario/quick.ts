/** Quick mode: a scenario from flags, for people coming from ab (`run URL --login-form /login --nav /a`). */
import { pathOf } from './compile.js';
import type { ScenarioFile } from './schema.js';

/** Matches a password field: the default sign that a 2xx page is the login form (quick mode). */
export const PASSWORD_INPUT_PATTERN = String.raw`<input[^>]*type=["']?password`;

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

/** Builds a scenario from quick-mode flags: plain GETs, or login form + navigation. */
export function buildQuickScenario(o: QuickModeOptions): ScenarioFile {
  const navPaths = o.nav && o.nav.length > 0 ? [...o.nav] : [o.url];
  const flow = navPaths.map((p) => ({ get: p }));
  if (!o.loginForm) return { name: `GET ${o.url}`, target: o.url, flow };
  const action = o.loginAction ?? o.loginForm;
  return {
    name: `login ${o.loginForm} then ${navPaths.join(' ')}`,
    target: o.url,
    session: {
      loginPath: pathOf(o.loginForm),
      lostBodyMatch: PASSWORD_INPUT_PATTERN,
      ...(o.servedByHeader ? { servedByHeader: o.servedByHeader } : {}),
    },
    login: [
      { get: o.loginForm },
      {
        post: action,
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
