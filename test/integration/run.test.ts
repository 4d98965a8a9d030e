import { afterEach, describe, expect, it } from 'vitest';
import { RunResultSchema } from '../../src/result/schema.js';
import { run } from '../../src/engine/runner.js';
import { buildQuickScenario } from '../../src/scenario/quick.js';
import { parseScenario } from '../../src/scenario/load.js';
import { closedPort, cookiesOf, readBody, serversClosedAfterEach } from '../helpers/servers.js';

const server = serversClosedAfterEach(afterEach);

describe('quick mode (ab parity)', () => {
  it('makes exactly -n requests, all counted by the server', async () => {
    const s = await server((_req, res) => res.end('hello'));
    const scenario = parseScenario(buildQuickScenario({ url: `${s.url}/` }), 'test');
    const result = await run(scenario, { concurrency: 10, requests: 1000 });
    expect(RunResultSchema.parse(result)).toBeTruthy();
    expect(result.requests.total).toBe(1000);
    expect(s.count).toBe(1000);
    expect(result.requests.failed).toBe(0);
    expect(result.requests.byStatus).toEqual({ '200': 1000 });
    expect(result.latency.count).toBe(1000);
    expect(result.session.tracked).toBe(false);
    expect(result.session.retention).toBeNull();
    expect(result.throughput.rps).toBeGreaterThan(0);
  });

  it.each(['per-vu', 'shared', 'new'] as const)('connections %s: exact count; new opens one connection per request', async (mode) => {
    const sockets = new Set<unknown>();
    const s = await server((req, res) => {
      sockets.add(req.socket);
      res.end('ok');
    });
    const scenario = parseScenario(buildQuickScenario({ url: `${s.url}/` }), 'test');
    const result = await run(scenario, { concurrency: 5, requests: 200, connections: mode });
    expect(result.requests.total).toBe(200);
    expect(s.count).toBe(200);
    if (mode === 'new') expect(sockets.size).toBe(200);
    else expect(sockets.size).toBeLessThanOrEqual(5);
  });
});

describe('bytes and throughput', () => {
  it('counts the bytes of every response and derives rps from the count and the duration', async () => {
    const body = 'x'.repeat(1000);
    const s = await server((_req, res) => {
      res.setHeader('content-type', 'text/plain');
      res.end(body);
    });
    const result = await run(parseScenario(buildQuickScenario({ url: `${s.url}/` }), 'test'), { concurrency: 1, requests: 100 });
    // Identical responses: the same number of bytes each (body + headers).
    expect(result.bytes.received % 100).toBe(0);
    const perResponse = result.bytes.received / 100;
    expect(perResponse).toBeGreaterThan(1000);
    expect(perResponse).toBeLessThan(1300);
    // rps is the count over the run's duration: the same figure (to rounding), however short the run was.
    const expectedRps = 100 / (result.durationMs / 1000);
    expect(Math.abs(result.throughput.rps - expectedRps) / expectedRps).toBeLessThan(1e-3);
    expect(result.timeline.reduce((a, b) => a + b.requests, 0)).toBe(100);
  });
});

describe('latency', () => {
  it('reports a fixed 20 ms server delay in its percentiles', async () => {
    // setTimeout may fire up to ~1 ms early (libuv's cached loop time): re-arm until 20 ms really passed.
    const after20ms = (t0: number, done: () => void): void => {
      const left = 20 - (performance.now() - t0);
      if (left <= 0) done();
      else setTimeout(() => after20ms(t0, done), Math.max(1, Math.ceil(left)));
    };
    const s = await server((_req, res) => after20ms(performance.now(), () => res.end('slow')));
    const scenario = parseScenario(buildQuickScenario({ url: `${s.url}/` }), 'test');
    const result = await run(scenario, { concurrency: 4, requests: 200 });
    expect(result.latency.count).toBe(200);
    // Never below the server's own delay; "a few ms" above it even on a loaded machine.
    expect(result.latency.min).toBeGreaterThanOrEqual(19.9);
    expect(result.latency.p50).toBeGreaterThanOrEqual(20);
    expect(result.latency.p50).toBeLessThan(60);
    expect(result.latency.mean).toBeGreaterThanOrEqual(20);
    const step = result.steps[0]!;
    expect(step.latency.p50).toBe(result.latency.p50);
  });
});

describe('cookies', () => {
  it("keeps one jar per virtual user: a VU never sends another VU's cookie", async () => {
    let mismatches = 0;
    let checks = 0;
    const s = await server((req, res) => {
      const u = new URL(req.url!, 'http://x');
      if (u.pathname === '/login') {
        res.setHeader('set-cookie', `sid=vu-${u.searchParams.get('u')}; Path=/`);
        res.end('in');
        return;
      }
      checks++;
      if (cookiesOf(req).sid !== `vu-${u.searchParams.get('u')}`) mismatches++;
      res.end('page');
    });
    const scenario = parseScenario(
      {
        target: s.url,
        users: [{ username: 'a', password: 'b' }],
        login: [{ get: '/login?u={{vu}}' }],
        flow: [{ get: '/check?u={{vu}}' }, { get: '/check?u={{vu}}&again=1' }],
      },
      'test',
    );
    const result = await run(scenario, { concurrency: 20, requests: 600 });
    expect(result.requests.total).toBe(600);
    expect(checks).toBeGreaterThan(500);
    expect(mismatches).toBe(0);
    expect(result.session.logins).toBe(20);
  });

  it('applies host and path rules: no cookie to another host or outside its path', async () => {
    const seenOnOther: string[] = [];
    const other = await server((req, res) => {
      seenOnOther.push(req.headers.cookie ?? '');
      res.end('other');
    }, '127.0.0.1');
    const seen: Record<string, string> = {};
    const s = await server((req, res) => {
      const path = new URL(req.url!, 'http://x').pathname;
      if (path === '/login') {
        res.setHeader('set-cookie', ['root=1; Path=/', 'app=2; Path=/app']);
        res.end('in');
        return;
      }
      seen[path] = req.headers.cookie ?? '';
      res.end('ok');
    });
    // The other server is reached by name ("localhost"), a different host for cookie purposes.
    const scenario = parseScenario(
      {
        target: s.url,
        users: [{ username: 'a', password: 'b' }],
        login: [{ get: '/login' }],
        flow: [{ get: '/app/page' }, { get: '/other' }, { get: `http://localhost:${other.port}/peek` }],
      },
      'test',
    );
    const result = await run(scenario, { concurrency: 1, requests: 4 });
    expect(result.requests.failed).toBe(0);
    expect(seen['/app/page']).toBe('app=2; root=1');
    expect(seen['/other']).toBe('root=1');
    expect(seenOnOther).toEqual(['']);
  });
});

/** An app whose session answers are known exactly: it counts every "no session" answer it gives. */
async function sessionApp(opts: { lossEvery: number; lostAs: 'redirect' | '401' | 'login-page' }) {
  const sessions = new Map<string, number>();
  let next = 0;
  const state = { noSession: 0, loginPosts: 0 };
  const s = await server(async (req, res) => {
    const url = new URL(req.url!, 'http://x');
    res.setHeader('x-served-by', 'app-1');
    if (url.pathname === '/login' && req.method === 'GET') {
      res.setHeader('content-type', 'text/html');
      res.end('<form method="post"><input type="hidden" name="_csrf" value="tok-1"><input name="username"><input type="password" name="password"></form>');
      return;
    }
    if (url.pathname === '/login' && req.method === 'POST') {
      state.loginPosts++;
      const body = new URLSearchParams(await readBody(req));
      if (body.get('_csrf') !== 'tok-1' || body.get('username') !== 'admin' || body.get('password') !== 's3cret') {
        res.writeHead(302, { location: '/login?error' }).end();
        return;
      }
      const id = `s${++next}`;
      sessions.set(id, 0);
      res.writeHead(302, { location: '/home', 'set-cookie': `SESSION=${id}; Path=/; HttpOnly` }).end();
      return;
    }
    const id = cookiesOf(req).SESSION;
    const uses = id === undefined ? undefined : sessions.get(id);
    // Every lossEvery-th authenticated request, the session "disappears" (as if served by a replica without it).
    if (uses === undefined || (uses + 1) % opts.lossEvery === 0) {
      if (id !== undefined) sessions.delete(id);
      state.noSession++;
      if (opts.lostAs === 'redirect') res.writeHead(302, { location: '/login' }).end();
      else if (opts.lostAs === '401') res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":"unauthenticated"}');
      else res.writeHead(200, { 'content-type': 'text/html' }).end('<h1>Please sign in</h1><input type="password" name="password">');
      return;
    }
    sessions.set(id!, uses + 1);
    res.setHeader('content-type', 'text/html');
    res.end(`<h1>page ${url.pathname}</h1>`);
  });
  return { s, state };
}

const loginScenario = (url: string, extra: Record<string, unknown> = {}) => ({
  target: url,
  session: { loginPath: '/login', servedByHeader: 'x-served-by', ...extra },
  users: [{ username: 'admin', password: 's3cret' }],
  login: [
    { get: '/login', extract: { csrf: { input: '_csrf' } } },
    { post: '/login', form: { username: '{{username}}', password: '{{password}}', _csrf: '{{csrf}}' }, expect: { status: 302, location: '/home' } },
  ],
  flow: [{ get: '/home' }, { get: '/owners' }, { get: '/api/me' }],
});

describe('session loss detection', () => {
  it.each([
    ['redirect', {}],
    ['401', {}],
    ['login-page', { lostBodyMatch: 'type="password"' }],
  ] as const)('counts every "no session" answer the app gave (%s)', async (lostAs, extra) => {
    const { s, state } = await sessionApp({ lossEvery: 4, lostAs });
    const result = await run(parseScenario(loginScenario(s.url, extra), 'test'), { concurrency: 5, requests: 2000 });
    expect(result.requests.total).toBe(2000);
    expect(s.count).toBe(2000);
    expect(result.session.losses).toBe(state.noSession);
    expect(result.session.losses).toBeGreaterThan(50);
    expect(result.session.logins).toBe(state.loginPosts);
    expect(result.session.loginFailures).toBe(0);
    // Every 4th authenticated request is lost: 3 kept for 1 lost, give or take the run's ends.
    expect(result.session.retention!).toBeGreaterThan(0.72);
    expect(result.session.retention!).toBeLessThan(0.78);
    expect(result.session.flowRequests).toBe(result.session.flowRequestsKept + result.session.losses);
    // Per login: iteration 1 keeps its 3 requests, iteration 2 loses on its first: half the iterations.
    expect(result.session.flowRetention!).toBeGreaterThan(0.45);
    expect(result.session.flowRetention!).toBeLessThan(0.55);
    expect(result.session.flowIterations).toBe(result.session.flowIterationsKept + result.session.losses);
    const ev = result.session.lossEvents[0]!;
    expect(ev.backend).toBe('app-1');
    expect(ev.loginBackend).toBe('app-1');
    expect(ev.reason).toBe(lostAs === 'redirect' ? 'redirect-to-login' : lostAs === '401' ? 'status' : 'body-match');
    expect(ev.method).toBe('GET');
    expect(ev.location).toBe(lostAs === 'redirect' ? '/login' : null);
    expect(JSON.stringify(result)).not.toContain('s3cret');
  });

  it('reports retention 1 when the app never loses a session', async () => {
    const { s, state } = await sessionApp({ lossEvery: 1_000_000, lostAs: 'redirect' });
    const result = await run(parseScenario(loginScenario(s.url), 'test'), { concurrency: 4, requests: 500 });
    expect(state.noSession).toBe(0);
    expect(result.session.losses).toBe(0);
    expect(result.session.retention).toBe(1);
    expect(result.session.logins).toBe(4);
  });

  it('quick mode logs in through a form, picking up its hidden CSRF field', async () => {
    const { s, state } = await sessionApp({ lossEvery: 5, lostAs: 'redirect' });
    const scenario = parseScenario(
      { ...buildQuickScenario({ url: s.url, loginForm: '/login', nav: ['/home', '/owners'], servedByHeader: 'x-served-by' }), users: [{ username: 'admin', password: 's3cret' }] },
      'test',
    );
    const result = await run(scenario, { concurrency: 3, requests: 600 });
    expect(result.session.loginFailures).toBe(0);
    expect(result.session.logins).toBe(state.loginPosts);
    expect(result.session.losses).toBe(state.noSession);
    expect(result.backends).toEqual({ 'app-1': 600 });
  });

  it('counts a failed login and says why when every login fails', async () => {
    const { s } = await sessionApp({ lossEvery: 5, lostAs: 'redirect' });
    const scenario = parseScenario({ ...loginScenario(s.url), users: [{ username: 'admin', password: 'wrong' }] }, 'test');
    const result = await run(scenario, { concurrency: 2, requests: 100 });
    expect(result.session.logins).toBe(0);
    expect(result.session.loginFailures).toBe(50);
    expect(result.unusable).toMatch(/every login failed/);
    expect(result.unusable).toMatch(/expected a redirect to \/home, got \/login\?error|back to the login page/);
  });
});

describe('redirects and failures', () => {
  it('follows redirects that are not to the login page, counting each hop', async () => {
    const s = await server((req, res) => {
      if (req.url === '/a') res.writeHead(302, { location: '/b' }).end();
      else if (req.url === '/b') res.writeHead(301, { location: `http://127.0.0.1:${(req.socket.localPort)}/c` }).end();
      else res.end('c');
    });
    const result = await run(parseScenario({ target: s.url, flow: [{ get: '/a' }] }, 'test'), { concurrency: 1, requests: 30 });
    expect(result.requests.total).toBe(30);
    expect(result.requests.byStatus).toEqual({ '200': 10, '301': 10, '302': 10 });
    expect(result.requests.non2xx).toBe(20);
    expect(result.requests.failed).toBe(0);
  });

  it('counts a refused target as errors and judges it unusable, without throwing', async () => {
    const port = await closedPort();
    const scenario = parseScenario(buildQuickScenario({ url: `http://127.0.0.1:${port}/` }), 'test');
    const result = await run(scenario, { concurrency: 2, requests: 50 });
    expect(result.requests.errors.refused).toBe(50);
    expect(result.requests.failed).toBe(50);
    expect(result.unusable).toMatch(/nothing answered/);
  });

  it('counts 5xx as failed requests and timeouts as errors', async () => {
    let n = 0;
    const s = await server((_req, res) => {
      n++;
      if (n % 10 === 0) return; // never answers: a timeout
      if (n % 2 === 0) res.writeHead(500).end('boom');
      else res.end('ok');
    });
    const result = await run(parseScenario(buildQuickScenario({ url: `${s.url}/` }), 'test'), { concurrency: 5, requests: 100, timeoutMs: 300 });
    expect(result.requests.total).toBe(100);
    expect(result.requests.errors.timeout).toBe(10);
    expect(result.requests.byStatus['500']).toBe(40);
    expect(result.requests.failed).toBe(50);
    expect(result.unusable ?? null).toBeNull();
  });

  it('stops on abort and returns a partial result marked interrupted', async () => {
    const s = await server((_req, res) => {
      setTimeout(() => res.end('ok'), 5);
    });
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 300);
    const result = await run(parseScenario(buildQuickScenario({ url: `${s.url}/` }), 'test'), { concurrency: 4, durationMs: 60_000 }, { signal: ac.signal });
    expect(result.interrupted).toBe(true);
    expect(result.durationMs).toBeLessThan(5000);
    expect(result.requests.total).toBeGreaterThan(0);
    expect(RunResultSchema.safeParse(result).success).toBe(true);
  });

  it('runs for --duration and reports progress', async () => {
    const s = await server((_req, res) => res.end('ok'));
    const seen: number[] = [];
    const result = await run(
      parseScenario(buildQuickScenario({ url: `${s.url}/` }), 'test'),
      { concurrency: 2, durationMs: 600 },
      { onProgress: (p) => seen.push(p.requests), progressIntervalMs: 100 },
    );
    // The duration timer and the reported duration use two clocks (Date and performance): allow 10 ms.
    expect(result.durationMs).toBeGreaterThanOrEqual(590);
    expect(result.durationMs).toBeLessThan(5000);
    expect(result.requests.total).toBe(s.count);
    expect(seen.length).toBeGreaterThan(0);
  });
});
