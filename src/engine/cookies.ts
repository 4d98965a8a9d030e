/**
 * A virtual user's cookie jar: the only module that imports tough-cookie. tough-cookie applies the
 * domain, path, Secure, expiry and public-suffix rules; this wrapper caches the `Cookie` header per URL
 * so that a request whose cookies did not change costs a short scan of a few cached URLs (the cache is
 * cleared whenever a Set-Cookie arrives, and an entry lapses when the first of its cookies expires).
 *
 * Memory matters here (one jar per VU, 10,000s of VUs): tough-cookie is loaded on the first Set-Cookie
 * of the process, a jar's CookieJar is created on its first cookie, and the header cache is one flat
 * array rather than a Map.
 */
import { createRequire } from 'node:module';
import type { Cookie as CookieType, CookieJar as CookieJarType } from 'tough-cookie';

type ToughCookie = typeof import('tough-cookie');
const requireCjs = createRequire(import.meta.url);
let tough: ToughCookie | null = null;
/** tough-cookie (and its public-suffix list) costs ~0.1 s of CPU to load: only runs that get cookies pay. */
const toughCookie = (): ToughCookie => (tough ??= requireCjs('tough-cookie') as ToughCookie);

/** Cached URLs per jar; URLs with per-VU ids stay few, so this only bounds pathological flows. */
const MAX_CACHED_URLS = 64;
/** The largest time a Date can hold. */
const MAX_DATE_MS = 8.64e15;

export class VuCookieJar {
  private jar: CookieJarType | null = null;
  /** Flat cache: url, header (string or null), validUntil (epoch ms after which a cookie in it may have expired), ... */
  private cache: (string | number | null)[] | null = null;

  /** Stores every Set-Cookie value of a response received from `url`. Invalid cookies are ignored. */
  store(setCookies: readonly string[], url: string): void {
    const now = Date.now();
    let tc: ToughCookie | null = null;
    for (const text of setCookies) {
      tc ??= toughCookie();
      const c: CookieType | undefined = tc.Cookie.parse(text, { loose: true });
      // RFC 6265bis 5.6: a cookie whose name and value are both empty is ignored.
      if (c === undefined || (c.key === '' && c.value === '')) continue;
      // RFC 6265 5.2.2: Max-Age counts from when the cookie was received. tough-cookie counts it from the
      // cookie's last access, so a cookie that is sent more often than its Max-Age would never expire.
      if (typeof c.maxAge === 'number') {
        c.expires = new Date(Math.min(now + Math.max(c.maxAge, 0) * 1000, MAX_DATE_MS));
        c.maxAge = null;
      }
      this.jar ??= new tc.CookieJar(undefined, { looseMode: true, rejectPublicSuffixes: true });
      this.jar.setCookieSync(c, url, { ignoreError: true });
    }
    if (this.cache !== null) this.cache.length = 0;
  }

  /** The Cookie header for a request to `url`, or null when no cookie applies. Called once per request. */
  headerFor(url: string, nowMs: number): string | null {
    if (this.jar === null) return null; // no cookie was ever stored
    const cache = (this.cache ??= []);
    for (let i = 0; i < cache.length; i += 3) {
      if (cache[i] === url) {
        if (nowMs < (cache[i + 2] as number)) return cache[i + 1] as string | null;
        cache.splice(i, 3);
        break;
      }
    }
    const cookies = this.jar.getCookiesSync(url);
    let header: string | null = null;
    let validUntil = Number.POSITIVE_INFINITY;
    for (const c of cookies) {
      header = header === null ? c.cookieString() : `${header}; ${c.cookieString()}`;
      const exp = c.expiryTime();
      if (exp !== undefined && exp < validUntil) validUntil = exp;
    }
    if (cache.length >= MAX_CACHED_URLS * 3) cache.length = 0;
    cache.push(url, header, validUntil);
    return header;
  }

  /** Removes every cookie whose name `drop` says, on every domain and path (a re-login's clean slate). */
  forget(drop: (name: string) => boolean): void {
    const jar = this.jar;
    if (jar === null) return;
    for (const c of jar.serializeSync()?.cookies ?? []) {
      // The memory store removes synchronously (its promise is already settled).
      if (typeof c.key === 'string' && drop(c.key) && typeof c.domain === 'string' && typeof c.path === 'string') void jar.store.removeCookie(c.domain, c.path, c.key);
    }
    if (this.cache !== null) this.cache.length = 0;
  }

  /** Empties the jar. */
  clear(): void {
    this.jar = null;
    this.cache = null;
  }

  /** The value of cookie `name` that a request to `url` would send, or null. */
  valueFor(name: string, url: string): string | null {
    if (this.jar === null) return null;
    for (const c of this.jar.getCookiesSync(url)) if (c.key === name) return c.value;
    return null;
  }

  /** Every cookie name in the jar, for tests and diagnostics. */
  names(url: string): string[] {
    return this.jar === null ? [] : this.jar.getCookiesSync(url).map((c) => c.key);
  }
}
