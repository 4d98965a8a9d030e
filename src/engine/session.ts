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
