/**
 * A virtual user's cookie jar: the only module that imports tough-cookie. tough-cookie applies the
 * domain, path, Secure, expiry and public-suffix rules; this wrapper caches the `Cookie` header per URL
 * so that a request whose cookies did not change costs one Map lookup (the cache is cleared whenever a
 * Set-Cookie arrives, and an entry lapses when the first of its cookies expires).
 */
import { Cookie, CookieJar } from 'tough-cookie';

/** Cached entries per jar; URLs with per-VU ids stay few, so this only bounds pathological flows. */
const MAX_CACHED_URLS = 64;
/** The largest time a Date can hold. */
const MAX_DATE_MS = 8.64e15;

interface CachedHeader {
  header: string | null;
  /** Epoch ms after which a cookie in `header` may have expired. */
  validUntil: number;
}

export class VuCookieJar {
  private readonly jar = new CookieJar(undefined, { looseMode: true, rejectPublicSuffixes: true });
  private readonly cache = new Map<string, CachedHeader>();

  /** Stores every Set-Cookie value of a response received from `url`. Invalid cookies are ignored. */
  store(setCookies: readonly string[], url: string): void {
    const now = Date.now();
    for (const text of setCookies) {
      const c = Cookie.parse(text, { loose: true });
      // RFC 6265bis 5.6: a cookie whose name and value are both empty is ignored.
      if (c === undefined || (c.key === '' && c.value === '')) continue;
      // RFC 6265 5.2.2: Max-Age counts from when the cookie was received. tough-cookie counts it from the
      // cookie's last access, so a cookie that is sent more often than its Max-Age would never expire.
      if (typeof c.maxAge === 'number') {
        c.expires = new Date(Math.min(now + Math.max(c.maxAge, 0) * 1000, MAX_DATE_MS));
        c.maxAge = null;
      }
      this.jar.setCookieSync(c, url, { ignoreError: true });
    }
    this.cache.clear();
  }

  /** The Cookie header for a request to `url`, or null when no cookie applies. Called once per request. */
  headerFor(url: string, nowMs: number): string | null {
    const hit = this.cache.get(url);
    if (hit !== undefined && nowMs < hit.validUntil) return hit.header;
    const cookies = this.jar.getCookiesSync(url);
    let header: string | null = null;
    let validUntil = Number.POSITIVE_INFINITY;
    for (const c of cookies) {
      header = header === null ? c.cookieString() : `${header}; ${c.cookieString()}`;
      const exp = c.expiryTime();
      if (exp !== undefined && exp < validUntil) validUntil = exp;
    }
    if (this.cache.size >= MAX_CACHED_URLS) this.cache.clear();
    this.cache.set(url, { header, validUntil });
    return header;
  }

  /** Every cookie name in the jar, for tests and diagnostics. */
  names(url: string): string[] {
    return this.jar.getCookiesSync(url).map((c) => c.key);
  }
}
