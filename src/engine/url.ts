/**
 * Where requests go: the run's target split into origin and base path, and step URLs resolved against it
 * the way undici's dispatch wants them. Constant step URLs are resolved once per run, not per request.
 */
import { UsageError } from '../common/errors.js';
import { httpUrlProblem } from '../scenario/values.js';

/** Where the target lives: its origin and the path prefix that step paths are appended to. */
export interface TargetBase {
  readonly origin: string;
  /** Target URL path without a trailing slash (`''` for the root). */
  readonly basePath: string;
  /**
   * `Basic ...` from credentials in the target URL (`http://alice:pw@host/`), sent to the target's
   * origin as curl does; null without them. (A URL's userinfo is never sent as such.)
   */
  readonly authorization: string | null;
}

/** A URL split the way undici's dispatch wants it. */
export interface ResolvedUrl {
  readonly origin: string;
  /** Path and query. */
  readonly path: string;
  readonly href: string;
}

/** Parses the target into origin and base path. Throws UsageError for a bad URL. */
export function targetBase(target: string): TargetBase {
  const problem = httpUrlProblem(target);
  if (problem !== null) throw new UsageError(`--target: ${problem}`);
  const u = new URL(target);
  const authorization =
    u.username === '' && u.password === '' ? null : `Basic ${Buffer.from(`${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`, 'utf8').toString('base64')}`;
  return { origin: u.origin, basePath: u.pathname.replace(/\/+$/, ''), authorization };
}

/** Resolves a step URL (path or absolute URL) against the target. Not on the hot path for constant URLs. */
export function resolveStepUrl(text: string, base: TargetBase): ResolvedUrl {
  if (/^https?:\/\//i.test(text)) return fromUrl(new URL(text));
  const path = base.basePath + (text.startsWith('/') ? text : `/${text}`);
  // Spaces and non-ASCII (a rendered `{{name}}`, `/café`) are percent-encoded as UTF-8, as a browser does.
  if (NOT_URL_SAFE.test(path)) return fromUrl(new URL(path, base.origin));
  return { origin: base.origin, path, href: base.origin + path };
}
const NOT_URL_SAFE = /[^\x21-\x7e]/;

/** A parsed URL as a {@link ResolvedUrl}. */
export function fromUrl(u: URL): ResolvedUrl {
  return { origin: u.origin, path: u.pathname + u.search, href: u.href };
}

/** The method a redirect is followed with: GET after a 303, and after a 301 or 302 to a POST (RFC 9110 §15.4, as browsers do); else the same. */
export const methodAfterRedirect = (status: number, method: string): string => (status === 303 || ((status === 301 || status === 302) && method === 'POST') ? 'GET' : method);
