import { afterEach, describe, it, expect, vi } from 'vitest';
import { VuCookieJar } from '../../src/engine/cookies.js';

const now = (): number => Date.now();

describe('VuCookieJar: isolation', () => {
  it('two jars never share cookies', () => {
    const a = new VuCookieJar();
    const b = new VuCookieJar();
    a.store(['SESSION=one'], 'http://app.test/login');
    b.store(['SESSION=two'], 'http://app.test/login');
    expect(a.headerFor('http://app.test/home', now())).toBe('SESSION=one');
    expect(b.headerFor('http://app.test/home', now())).toBe('SESSION=two');
    expect(new VuCookieJar().headerFor('http://app.test/home', now())).toBeNull();
  });

  it('an empty jar sends no Cookie header', () => {
    expect(new VuCookieJar().headerFor('http://app.test/', now())).toBeNull();
  });

  it('sends several cookies in one header, replaces a cookie of the same name', () => {
    const jar = new VuCookieJar();
    jar.store(['a=1', 'b=2'], 'http://app.test/');
    jar.store(['a=3'], 'http://app.test/');
    expect(jar.headerFor('http://app.test/', now())?.split('; ').sort()).toEqual(['a=3', 'b=2']);
    expect(jar.names('http://app.test/').sort()).toEqual(['a', 'b']);
  });

  it('ignores invalid Set-Cookie values', () => {
    const jar = new VuCookieJar();
    jar.store(['', ';;;', 'ok=1'], 'http://app.test/');
    expect(jar.headerFor('http://app.test/', now())).toBe('ok=1');
  });
});

describe('VuCookieJar: domain, path and Secure rules', () => {
  it.each<[string, string, string, string, boolean]>([
    ['host-only cookie, same host', 'c=1', 'http://a.test/', 'http://a.test/x', true],
    ['host-only cookie, other site', 'c=1', 'http://a.test/', 'http://b.test/', false],
    ['host-only cookie, subdomain', 'c=1', 'http://a.test/', 'http://www.a.test/', false],
    ['host-only cookie, other port (ports do not matter)', 'c=1', 'http://a.test:8080/', 'http://a.test:9090/', true],
    ['Domain cookie to a sibling subdomain', 'c=1; Domain=example.test', 'http://www.example.test/', 'http://api.example.test/', true],
    ['Domain cookie with a leading dot', 'c=1; Domain=.example.test', 'http://www.example.test/', 'http://api.example.test/', true],
    ['Domain cookie to the parent domain', 'c=1; Domain=example.test', 'http://www.example.test/', 'http://example.test/', true],
    ['Domain cookie not to another site', 'c=1; Domain=example.test', 'http://www.example.test/', 'http://example2.test/', false],
    ['Domain of another site is rejected', 'c=1; Domain=other.test', 'http://www.example.test/', 'http://other.test/', false],
    ['Domain of another site is not sent back either', 'c=1; Domain=other.test', 'http://www.example.test/', 'http://www.example.test/', false],
    ['Domain of a public suffix is rejected', 'c=1; Domain=com', 'http://shop.example.com/', 'http://other.com/', false],
    ['Path=/app to /app/x', 'c=1; Path=/app', 'http://a.test/', 'http://a.test/app/x', true],
    ['Path=/app to /app', 'c=1; Path=/app', 'http://a.test/', 'http://a.test/app', true],
    ['Path=/app not to /other', 'c=1; Path=/app', 'http://a.test/', 'http://a.test/other', false],
    ['Path=/app not to /application', 'c=1; Path=/app', 'http://a.test/', 'http://a.test/application', false],
    ['default path is the directory of the request', 'c=1', 'http://a.test/app/login', 'http://a.test/other', false],
    ['default path covers its subtree', 'c=1', 'http://a.test/app/login', 'http://a.test/app/home', true],
    ['Secure cookie not over http', 'c=1; Secure', 'https://a.test/', 'http://a.test/', false],
    ['Secure cookie over https', 'c=1; Secure', 'https://a.test/', 'https://a.test/', true],
    ['HttpOnly cookie is sent (we are the HTTP client)', 'c=1; HttpOnly', 'http://a.test/', 'http://a.test/', true],
  ])('%s', (_name, setCookie, from, to, sent) => {
    const jar = new VuCookieJar();
    jar.store([setCookie], from);
    expect(jar.headerFor(to, now())).toBe(sent ? 'c=1' : null);
  });
});

describe('VuCookieJar: deletion and the header cache', () => {
  it.each([
    ['Max-Age=0', 'SESSION=; Max-Age=0'],
    ['negative Max-Age', 'SESSION=x; Max-Age=-1'],
    ['Expires in the past', 'SESSION=x; Expires=Thu, 01 Jan 1970 00:00:00 GMT'],
  ])('%s deletes the cookie', (_name, deletion) => {
    const jar = new VuCookieJar();
    jar.store(['SESSION=abc', 'keep=1'], 'http://a.test/');
    expect(jar.headerFor('http://a.test/', now())).toContain('SESSION=abc');
    jar.store([deletion], 'http://a.test/');
    expect(jar.headerFor('http://a.test/', now())).toBe('keep=1');
    expect(jar.names('http://a.test/')).toEqual(['keep']);
  });

  it('a new cookie value is used immediately after store()', () => {
    const jar = new VuCookieJar();
    const url = 'http://a.test/home';
    jar.store(['SESSION=one'], 'http://a.test/');
    expect(jar.headerFor(url, now())).toBe('SESSION=one');
    expect(jar.headerFor(url, now())).toBe('SESSION=one'); // cached
    jar.store(['SESSION=two'], 'http://a.test/');
    expect(jar.headerFor(url, now())).toBe('SESSION=two');
    jar.store(['extra=1'], 'http://a.test/');
    expect(jar.headerFor(url, now())).toBe('SESSION=two; extra=1');
  });

  it('a first cookie invalidates a cached "no cookie" answer', () => {
    const jar = new VuCookieJar();
    expect(jar.headerFor('http://a.test/', now())).toBeNull();
    jar.store(['SESSION=one'], 'http://a.test/');
    expect(jar.headerFor('http://a.test/', now())).toBe('SESSION=one');
  });

  it('stays correct when more URLs are asked for than the cache holds', () => {
    const jar = new VuCookieJar();
    jar.store(['c=1'], 'http://a.test/');
    for (let i = 0; i < 200; i++) expect(jar.headerFor(`http://a.test/owners/${i}`, now())).toBe('c=1');
  });
});

describe('VuCookieJar: expiry', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('a Max-Age=1 cookie stops being sent once it expired (real clock)', async () => {
    const jar = new VuCookieJar();
    const url = 'http://a.test/';
    jar.store(['short=1; Max-Age=1', 'long=2; Max-Age=3600'], url);
    expect(jar.headerFor(url, Date.now())).toBe('short=1; long=2');
    expect(jar.headerFor(url, Date.now())).toBe('short=1; long=2');
    await new Promise((r) => setTimeout(r, 1100));
    expect(jar.headerFor(url, Date.now())).toBe('long=2');
    expect(jar.names(url)).toEqual(['long']);
  });

  it('Max-Age counts from when the cookie was received, not from when it was last sent', () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const t0 = Date.UTC(2030, 0, 1);
    vi.setSystemTime(t0);
    const jar = new VuCookieJar();
    const url = 'http://a.test/';
    jar.store(['short=1; Max-Age=10'], url);
    expect(jar.headerFor(url, Date.now())).toBe('short=1');
    vi.setSystemTime(t0 + 6000);
    jar.store(['other=2'], url); // clears the header cache: the next call reads the jar again
    expect(jar.headerFor(url, Date.now())).toBe('short=1; other=2');
    vi.setSystemTime(t0 + 10_500);
    expect(jar.headerFor(url, Date.now())).toBe('other=2');
  });

  it('an Expires cookie lapses at its date, even from the header cache', () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const t0 = Date.UTC(2030, 0, 1);
    vi.setSystemTime(t0);
    const jar = new VuCookieJar();
    const url = 'http://a.test/';
    jar.store([`soon=1; Expires=${new Date(t0 + 5000).toUTCString()}`, 'session=2'], url);
    expect(jar.headerFor(url, Date.now())).toBe('soon=1; session=2');
    vi.setSystemTime(t0 + 4000);
    expect(jar.headerFor(url, Date.now())).toBe('soon=1; session=2');
    vi.setSystemTime(t0 + 5001);
    expect(jar.headerFor(url, Date.now())).toBe('session=2');
  });
});
