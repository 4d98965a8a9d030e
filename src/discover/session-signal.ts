/**
 * How an app says "this user has no session", read from two answers to the same protected page: one sent
 * with the session, one with the session cookie (or token) removed. The difference is the signal: a
 * redirect target, a status, or a marker in a 200 body. Pure; every rule it returns is checked not to
 * fire on the logged-in answer (and, by the caller, on every navigation page).
 */
import { loginFormPattern } from '../scenario/quick.js';
import { escapeRegex } from '../scenario/extract.js';
import { findLoginForm } from './login-form.js';
import { parseHtml } from '../scenario/html.js';

export interface Answer {
  readonly url: string;
  readonly status: number;
  readonly location: string | null;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

export type LostSignal =
  | { readonly kind: 'redirect'; readonly loginPath: string; readonly crossOrigin: boolean; readonly why: string }
  | { readonly kind: 'status'; readonly status: number; readonly why: string }
  | { readonly kind: 'body'; readonly pattern: string; readonly status: number; readonly why: string }
  | { readonly kind: 'none'; readonly why: string };

const isRedirect = (a: Answer): boolean => a.status >= 300 && a.status < 400 && a.location !== null;

function resolved(a: Answer): URL | null {
  try {
    return new URL(a.location ?? '', a.url);
  } catch {
    return null;
  }
}

/** A regex source matches `body` (compiled as the scenario compiles it). */
export const matches = (pattern: string, body: string): boolean => new RegExp(pattern).test(body);

/**
 * The rule that tells `without` (no session) from `withSession`. `loginPagePath` is the path of the
 * login form's page, when known; `loginActionPath` where it posts.
 */
export function lostSessionSignal(withSession: Answer, without: Answer, loginPagePath: string | null, loginActionPath: string | null): LostSignal {
  const page = new URL(without.url).pathname;
  if (isRedirect(without)) {
    const to = resolved(without);
    if (to === null) return { kind: 'none', why: `${page} without the session answered ${without.status} with an invalid Location "${without.location}"` };
    const same = isRedirect(withSession) && resolved(withSession)?.pathname === to.pathname;
    if (same) return { kind: 'none', why: `${page} redirects to ${to.pathname} with and without the session` };
    const crossOrigin = to.origin !== new URL(without.url).origin;
    const where = crossOrigin ? `${to.origin}${to.pathname} (another origin: an identity provider)` : to.pathname;
    const known = loginPagePath !== null && to.pathname === loginPagePath ? ', the login page' : '';
    return {
      kind: 'redirect',
      loginPath: to.pathname,
      crossOrigin,
      why: `${page} answered ${withSession.status} with the session and ${without.status} to ${where}${known} without it`,
    };
  }
  if (without.status >= 400 && withSession.status < 400) {
    const www = without.headers['www-authenticate'];
    const type = (without.headers['content-type'] ?? '').split(';')[0]!.trim();
    return {
      kind: 'status',
      status: without.status,
      why: `${page} answered ${withSession.status} with the session and ${without.status}${www !== undefined ? ` (WWW-Authenticate: ${www.split(' ')[0]})` : ''}${type !== '' ? ` with ${type}` : ''} without it`,
    };
  }
  if (without.status === withSession.status && without.status >= 200 && without.status < 300) {
    if (without.body === withSession.body) return { kind: 'none', why: `${page} answered the same with and without the session: not a protected page` };
    const marker = bodyMarker(withSession.body, without.body, without.url, loginPagePath, loginActionPath);
    if (marker !== null) return { kind: 'body', pattern: marker.pattern, status: without.status, why: `${page} answered ${without.status} both times; without the session the page holds ${marker.what}` };
    return { kind: 'none', why: `${page} answered ${without.status} both times with different pages, and no marker of a login page tells them apart` };
  }
  return { kind: 'none', why: `${page} answered ${withSession.status} with the session and ${without.status} without it` };
}

/**
 * A pattern that matches the page seen without a session and not the logged-in one: the login form
 * itself (by where it posts), else its password field's name, else the page title. A password field alone
 * is never a marker: logged-in pages have them too (change password, add user).
 */
export function bodyMarker(loggedIn: string, loggedOut: string, url: string, loginPagePath: string | null, loginActionPath: string | null): { pattern: string; what: string } | null {
  const candidates: { pattern: string; what: string }[] = [];
  const form = findLoginForm(parseHtml(loggedOut), url);
  if (form !== null && form.actionWritten === null) {
    // A form without an action posts to the page it is on: any such form with a password field.
    const here = new URL(url).pathname;
    candidates.push({ pattern: loginFormPattern(here, here), what: 'the login form (a form without an action, with a password field)' });
  } else {
    const actionPath = form !== null ? new URL(form.actionUrl).pathname : loginActionPath;
    if (actionPath !== null) candidates.push({ pattern: loginFormPattern(actionPath, loginPagePath ?? new URL(url).pathname), what: `the login form (posting to ${actionPath})` });
  }
  if (form !== null) {
    const pw = escapeRegex(form.passwordField);
    candidates.push({ pattern: String.raw`<input(?=[^>]*\btype\s*=\s*["']?password)[^>]*\bname\s*=\s*["']?${pw}["'\s/>]`, what: `a password field named ${form.passwordField}` });
  }
  const title = /<title[^>]*>([^<]{1,120})<\/title>/i.exec(loggedOut)?.[1]?.trim();
  if (title !== undefined && title !== '') candidates.push({ pattern: String.raw`<title[^>]*>\s*${escapeRegex(title)}\s*</title>`, what: `the title "${title}"` });
  return candidates.find((c) => matches(c.pattern, loggedOut) && !matches(c.pattern, loggedIn)) ?? null;
}
