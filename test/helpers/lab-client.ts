/**
 * A hand-rolled browser for lab tests: fetch with `redirect: 'manual'` and a cookie jar kept by hand,
 * so tests see exactly which replica answered and which cookies were set.
 */
import http from 'node:http';

/** One response, reduced to what the tests look at. */
export interface Reply {
  status: number;
  servedBy: string | null;
  location: string | null;
  miss: boolean;
  setCookies: string[];
  body: string;
  contentType: string | null;
}

/** A user with a cookie jar. */
export class LabClient {
  readonly jar = new Map<string, string>();
  constructor(readonly base: string) {}

  cookieHeader(): string {
    return [...this.jar].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  async request(method: string, path: string, form?: Record<string, string>): Promise<Reply> {
    const headers: Record<string, string> = {};
    const cookie = this.cookieHeader();
    if (cookie) headers['cookie'] = cookie;
    let body: string | undefined;
    if (form) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(form).toString();
    }
    const res = await fetch(this.base + path, { method, headers, body, redirect: 'manual' });
    const setCookies = res.headers.getSetCookie();
    for (const sc of setCookies) {
      const [pair = '', ...attrs] = sc.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      if (attrs.some((a) => a.trim().toLowerCase() === 'max-age=0')) this.jar.delete(name);
      else this.jar.set(name, pair.slice(eq + 1).trim());
    }
    return {
      status: res.status,
      servedBy: res.headers.get('x-served-by'),
      location: res.headers.get('location'),
      miss: res.headers.get('x-lab-session-miss') === '1',
      setCookies,
      body: await res.text(),
      contentType: res.headers.get('content-type'),
    };
  }

  get(path: string): Promise<Reply> {
    return this.request('GET', path);
  }

  /** GET /login and extract the CSRF token. */
  async loginForm(): Promise<{ csrf: string; reply: Reply }> {
    const reply = await this.get('/login');
    const m = /name="_csrf" value="([^"]+)"/.exec(reply.body);
    if (!m) throw new Error(`no CSRF token in login form: ${reply.body}`);
    return { csrf: m[1]!, reply };
  }

  /** POST /login with a token (fetched now when not given). */
  async login(username = 'admin', password = 'admin', csrf?: string): Promise<Reply> {
    const token = csrf ?? (await this.loginForm()).csrf;
    return this.request('POST', '/login', { _csrf: token, username, password });
  }
}

/**
 * Sends a POST whose body never completes, so the request stays in flight on its replica (which waits for
 * the body) until the replica dies. Resolves once the request bytes are handed to the kernel.
 */
export async function startStuckRequest(base: string, cookie?: string): Promise<{ status: Promise<number>; abort(): void }> {
  const url = new URL(base);
  const req = http.request({
    host: url.hostname,
    port: url.port,
    method: 'POST',
    path: '/login',
    agent: false,
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      'content-length': '1000',
      ...(cookie ? { cookie } : {}),
    },
  });
  const status = new Promise<number>((resolve, reject) => {
    req.on('response', (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
      req.destroy();
    });
    req.on('error', reject);
  });
  await new Promise<void>((resolve, reject) => req.write('username=adm', (e) => (e ? reject(e) : resolve())));
  return { status, abort: () => req.destroy() };
}
