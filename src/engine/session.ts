/**
 * Session-loss rules, pure: is this response a sign that the user's session is gone? A redirect to the
 * login page, a lost-session status (401 by default) or, for apps that answer 200 with the login page,
 * a body that matches `lostBodyMatch`.
 */
import type { LossEvent } from '../result/schema.js';
import type { SessionRules } from '../scenario/types.js';
import type { TargetBase } from './url.js';

export type LossReason = LossEvent['reason'];

/** Paths that count as "the login page": the configured path, and the same under the target's base path. */
export function loginPathsFor(rules: SessionRules, base: TargetBase): readonly string[] {
  if (rules.loginPath === null) return [];
  const paths = new Set([rules.loginPath]);
  if (base.basePath !== '') paths.add(base.basePath + rules.loginPath);
  return [...paths];
}

/** Load balancers' affinity cookies (AWS ALB/ELB, HAProxy, nginx ingress, Traefik, Cloudflare, F5). */
const AFFINITY_COOKIES: ReadonlySet<string> = new Set(['AWSALB', 'AWSALBCORS', 'AWSALBTG', 'AWSALBTGCORS', 'AWSELB', 'SERVERID', 'route', 'INGRESSCOOKIE', '__cflb', 'sticky']);

/** True for a cookie that pins a user to a backend rather than holding the session. */
export function isAffinityCookie(name: string, keep: ReadonlySet<string>): boolean {
  return keep.has(name) || AFFINITY_COOKIES.has(name) || name.startsWith('BIGipServer');
}

/**
 * Affinity cookies whose value names the backend and stays the same while the user stays on it (HAProxy
 * SERVERID, nginx/ingress route and INGRESSCOOKIE, Cloudflare __cflb, F5 BIGipServer*): a backend
 * identity when no header names the backend. AWSALB is not one: its value is re-encrypted on every answer.
 */
const IDENTITY_AFFINITY_COOKIES: ReadonlySet<string> = new Set(['SERVERID', 'route', 'ROUTEID', 'INGRESSCOOKIE', '__cflb', 'sticky']);

/** True for a well-known affinity cookie whose value names the backend (see IDENTITY_AFFINITY_COOKIES). */
export const namesBackend = (name: string): boolean => IDENTITY_AFFINITY_COOKIES.has(name) || name.startsWith('BIGipServer');

/** Session-id cookies of common servers and frameworks: watched for silent regeneration by default. */
export const SESSION_ID_COOKIES: ReadonlySet<string> = new Set(['JSESSIONID', 'PHPSESSID', 'sessionid', 'ASP.NET_SessionId', 'connect.sid', 'SESSION', 'SESSIONID', 'sid']);

/** The name and value of a Set-Cookie header value (attributes dropped). */
export function cookieNameValue(setCookie: string): [string, string] {
  const semi = setCookie.indexOf(';');
  const pair = semi < 0 ? setCookie : setCookie.slice(0, semi);
  const eq = pair.indexOf('=');
  if (eq < 0) return ['', pair.trim()];
  let value = pair.slice(eq + 1).trim();
  if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
  return [pair.slice(0, eq).trim(), value];
}

/** True for a Set-Cookie that deletes its cookie (empty value, Max-Age <= 0, or an expiry in the past). */
export function deletesCookie(setCookie: string, value: string, nowMs: number): boolean {
  if (value === '') return true;
  const maxAge = /;\s*max-age\s*=\s*(-?\d+)/i.exec(setCookie);
  if (maxAge) return Number(maxAge[1]) <= 0;
  const expires = /;\s*expires\s*=\s*([^;]+)/i.exec(setCookie);
  return expires !== null && Date.parse(expires[1]!) <= nowMs;
}

/** A Tomcat-style route suffix (`JSESSIONID=8F2A...C1.node1`): the jvmRoute of the node, or null. */
export function sessionRoute(value: string): string | null {
  const dot = value.lastIndexOf('.');
  if (dot < 8 || dot === value.length - 1) return null;
  const route = value.slice(dot + 1);
  return route.length <= 32 && /^[A-Za-z0-9_-]+$/.test(route) ? route : null;
}

/** The session id without a route suffix: the same session when only the route changed (failover with replication). */
export function sessionIdPart(value: string): string {
  return sessionRoute(value) === null ? value : value.slice(0, value.lastIndexOf('.'));
}

export interface CookieBackend {
  backend: string;
  source: { kind: 'affinity-cookie' | 'session-route'; name: string };
}

/**
 * The backend that cookies of an answer name, when no header does: a stable affinity cookie (or one
 * the scenario keeps), else a jvmRoute suffix on JSESSIONID. Null when none is set here.
 */
export function backendFromSetCookies(setCookies: readonly string[], keep: ReadonlySet<string>, sessionCookies: ReadonlySet<string>, nowMs: number): CookieBackend | null {
  let route: CookieBackend | null = null;
  for (const c of setCookies) {
    const [name, value] = cookieNameValue(c);
    if (name === '' || deletesCookie(c, value, nowMs)) continue;
    if (keep.has(name) || namesBackend(name)) {
      return { backend: value, source: { kind: 'affinity-cookie', name } };
    }
    // Tomcat and Jetty append the node's jvmRoute to JSESSIONID; other frameworks' dots are signatures.
    if (route === null && name === 'JSESSIONID' && sessionCookies.has(name)) {
      const r = sessionRoute(value);
      if (r !== null) route = { backend: r, source: { kind: 'session-route', name } };
    }
  }
  return route;
}

/** True when `pathname` (no query) is a login page path. */
export function isLoginPath(pathname: string, loginPaths: readonly string[]): boolean {
  for (let i = 0; i < loginPaths.length; i++) {
    const p = loginPaths[i]!;
    if (pathname === p || (pathname.length === p.length + 1 && pathname.endsWith('/') && pathname.startsWith(p))) return true;
  }
  return false;
}

/**
 * Loss check for a final (not-followed) response of a flow step that is not a redirect to the login page
 * (redirects are checked as they are followed). `body` is null when it was not kept.
 */
export function lossInResponse(status: number, body: string | null, rules: SessionRules): LossReason | null {
  if (rules.lostStatus.has(status)) return 'status';
  if (status >= 200 && status < 300 && rules.lostBodyMatch !== null && body !== null && rules.lostBodyMatch.test(body)) {
    return 'body-match';
  }
  return null;
}
