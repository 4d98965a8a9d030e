/**
 * The lab against real processes on 127.0.0.1: replicas are forked from dist/ (run `npm run build` first),
 * the balancer runs in this process. Every assertion is on exact counts and headers, never on timing.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { describe, it, expect, afterEach } from 'vitest';
import { UsageError } from '../../src/common/errors.js';
import { startLab, resolveRedis, type Lab, type LabOptions } from '../../src/lab/lab.js';
import { findOnPath } from '../../src/lab/redis.js';
import { locateReplicaEntry } from '../../src/lab/replica-launcher.js';
import { LabClient, startStuckRequest } from '../helpers/lab-client.js';

const labs: Lab[] = [];
async function lab(options: Partial<LabOptions> = {}): Promise<Lab> {
  const l = await startLab({ replicas: 2, balancer: 'round-robin', store: 'memory', ...options });
  labs.push(l);
  return l;
}
afterEach(async () => {
  await Promise.all(labs.splice(0).map((l) => l.close()));
});

/** A request answered by the balancer itself: once it returns, every request sent before it has been routed. */
async function barrier(l: Lab): Promise<void> {
  await (await fetch(`${l.url}/_lab/stats`)).text();
}

async function control(l: Lab, method: string, path: string): Promise<{ status: number; json: any }> {
  const res = await fetch(l.url + path, { method });
  return { status: res.status, json: await res.json() };
}

/** Polls a condition that depends on another process; fails after 10 s rather than hanging. */
async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !cond(); i++) await new Promise((r) => setTimeout(r, 50));
  expect(cond()).toBe(true);
}

function counts(l: Lab): Record<string, [requests: number, misses: number, up: boolean]> {
  return Object.fromEntries(l.stats().replicas.map((r) => [r.name, [r.requests, r.sessionMisses, r.up]]));
}

describe('lab: login and routing', () => {
  it('accepts a login form fetched from one replica and posted to another', async () => {
    const l = await lab();
    const user = new LabClient(l.url);
    const { csrf, reply: form } = await user.loginForm();
    expect(form.status).toBe(200);
    expect(form.servedBy).toBe('replica-1');
    expect(form.body).toContain('<form method="post" action="/login">');
    expect(form.body).toContain('<input type="password" name="password">');

    const login = await user.login('admin', 'admin', csrf);
    expect(login.servedBy).toBe('replica-2');
    expect(login.status).toBe(302);
    expect(login.location).toBe('/home');
    expect(login.setCookies).toHaveLength(1);
    expect(login.setCookies[0]).toMatch(/^SESSION=[A-Za-z0-9_-]{22}; Path=\/; HttpOnly; SameSite=Lax$/);

    // Wrong password -> back to the form with ?error, like Spring Security; bad CSRF -> 403.
    const bad = await new LabClient(l.url).login('user7', 'nope', csrf);
    expect([bad.status, bad.location]).toEqual([302, '/login?error']);
    const forged = await new LabClient(l.url).login('admin', 'admin', `${csrf.split('.')[0]}.forged`);
    expect(forged.status).toBe(403);
    const numbered = await new LabClient(l.url).login('user100000', 'pass100000', csrf);
    expect(numbered.location).toBe('/home');
    expect((await new LabClient(l.url).login('user100001', 'pass100001', csrf)).location).toBe('/login?error');
  });

  it('round-robin alternates replicas request by request', async () => {
    const l = await lab({ replicas: 3 });
    const served: (string | null)[] = [];
    for (let i = 0; i < 6; i++) {
      const res = await fetch(`${l.url}/health`);
      expect(await res.text()).toBe('ok');
      served.push(res.headers.get('x-served-by'));
    }
    expect(served).toEqual(['replica-1', 'replica-2', 'replica-3', 'replica-1', 'replica-2', 'replica-3']);
    expect(l.stats().totals).toEqual({ requests: 6, sessionMisses: 0 });
  });

  it('round-robin + memory: the session created on one replica is not found on the other (the story)', async () => {
    const lines: string[] = [];
    const l = await lab({ log: (line) => lines.push(line) });
    const user = new LabClient(l.url);
    await user.loginForm(); // replica-1
    const login = await user.login('admin', 'admin', (await user.loginForm()).csrf); // form: replica-2, POST: replica-1
    expect(login.servedBy).toBe('replica-1');
    expect(login.location).toBe('/home');

    const lost = await user.get('/owners'); // replica-2 has no such session
    expect([lost.servedBy, lost.status, lost.location, lost.miss]).toEqual(['replica-2', 302, '/login', true]);
    const kept = await user.get('/owners'); // back on replica-1
    expect([kept.servedBy, kept.status, kept.miss]).toEqual(['replica-1', 200, false]);
    expect(kept.body).toContain('George Franklin');
    expect(kept.body).toContain('admin');
    const api = await user.get('/api/me'); // replica-2 again
    expect([api.servedBy, api.status, api.miss]).toEqual(['replica-2', 401, true]);
    expect(JSON.parse(api.body)).toEqual({ error: 'unauthenticated' });
    const me = await user.get('/api/me');
    expect(JSON.parse(me.body)).toEqual({ username: 'admin', replica: 'replica-1' });

    expect(counts(l)).toEqual({ 'replica-1': [4, 0, true], 'replica-2': [3, 2, true] });
    expect(l.stats()).toMatchObject({ totals: { requests: 7, sessionMisses: 2 }, balancer: 'round-robin', store: 'memory' });

    // Log lines arrive asynchronously over the replicas' stdout; wait for them, then check their content.
    await until(() => lines.some((x) => x.includes('Redirecting to login page')));
    expect(lines).toContain("replica-1 INFO  User 'admin' logged in successfully");
    expect(lines.some((x) => /^replica-1 INFO  Session created: [A-Za-z0-9_-]{8}$/.test(x))).toBe(true);
    expect(lines).toContain('replica-2 WARN  Session not found for request GET /owners');
    expect(lines).toContain('replica-2 INFO  Redirecting to login page');
  });

  it('protects every page and 404s the rest', async () => {
    const l = await lab({ replicas: 1 });
    const anon = new LabClient(l.url);
    for (const path of ['/home', '/owners', '/owners/3', '/vets']) {
      const r = await anon.get(path);
      expect([path, r.status, r.location, r.miss]).toEqual([path, 302, '/login', true]);
    }
    expect((await anon.get('/nope')).status).toBe(404);
    const user = new LabClient(l.url);
    await user.login('user5', 'pass5');
    for (const path of ['/home', '/owners', '/owners/3', '/vets']) {
      const r = await user.get(path);
      expect([path, r.status, r.servedBy]).toEqual([path, 200, 'replica-1']);
      expect(r.contentType).toContain('text/html');
      expect(r.body).toContain('user5');
    }
    expect((await user.get('/owners/999')).status).toBe(404);
    const out = await user.request('POST', '/logout');
    expect([out.status, out.location]).toEqual([302, '/login']);
    expect(user.jar.has('SESSION')).toBe(false);
    expect(l.stats().totals).toEqual({ requests: 4 + 1 + 2 + 4 + 1 + 1, sessionMisses: 4 });
  });
});

describe('lab: sticky balancer', () => {
  it('pins the user with LAB_AFFINITY, appended to the Set-Cookie of the login', async () => {
    const l = await lab({ balancer: 'sticky' });
    const csrf = (await new LabClient(l.url).loginForm()).csrf; // replica-1, another browser
    const user = new LabClient(l.url);
    const login = await user.login('admin', 'admin', csrf); // no affinity yet: round-robin -> replica-2
    expect(login.servedBy).toBe('replica-2');
    expect(login.setCookies).toHaveLength(2);
    expect(login.setCookies[0]).toMatch(/^SESSION=/);
    expect(login.setCookies[1]).toBe('LAB_AFFINITY=replica-2; Path=/; HttpOnly');
    for (let i = 0; i < 6; i++) {
      const r = await user.get(i % 2 ? '/vets' : '/owners/1');
      expect([r.status, r.servedBy, r.setCookies]).toEqual([200, 'replica-2', []]);
    }
    expect(counts(l)).toEqual({ 'replica-1': [1, 0, true], 'replica-2': [7, 0, true] });
  });

  it('a restart loses memory sessions; during it the user is re-pinned and loses the session', async () => {
    const l = await lab({ balancer: 'sticky' });
    const user = new LabClient(l.url);
    await user.loginForm(); // pinned to replica-1
    expect(user.jar.get('LAB_AFFINITY')).toBe('replica-1');
    expect((await user.login()).servedBy).toBe('replica-1');
    expect((await user.get('/home')).status).toBe(200);

    // Keep a request in flight on replica-1 so its drain lasts (bounded ~2 s) while the user comes back.
    const stuck = await startStuckRequest(l.url, 'LAB_AFFINITY=replica-1');
    await barrier(l);
    const restarting = l.restart(1);
    const during = await user.get('/home');
    expect([during.servedBy, during.status, during.location, during.miss]).toEqual(['replica-2', 302, '/login', true]);
    expect(during.setCookies).toEqual(['LAB_AFFINITY=replica-2; Path=/; HttpOnly']);
    await restarting;
    expect(await stuck.status).toBe(502); // replica-1 was killed with the request still in flight

    // Log in again on replica-2; a restart of replica-2 then loses it even though the user stays pinned.
    expect((await user.login()).servedBy).toBe('replica-2');
    expect((await user.get('/home')).status).toBe(200);
    await l.restart(2);
    const after = await user.get('/home');
    expect([after.servedBy, after.status, after.location, after.miss]).toEqual(['replica-2', 302, '/login', true]);

    // replica-1: form, form, login, home (the stuck request never got a replica response: not counted)
    // replica-2: during, form, login, home, after
    expect(counts(l)).toEqual({ 'replica-1': [4, 0, true], 'replica-2': [5, 2, true] });
  });

  it('a scale-down re-pins the users of removed replicas, who lose their session', async () => {
    const l = await lab({ balancer: 'sticky', replicas: 3 });
    const users = [new LabClient(l.url), new LabClient(l.url), new LabClient(l.url)];
    for (const u of users) await u.login(); // each user's GET /login pins it: replica-1, -2, -3
    expect(users.map((u) => u.jar.get('LAB_AFFINITY'))).toEqual(['replica-1', 'replica-2', 'replica-3']);
    await l.scale(1);
    const after = await Promise.all(users.map((u) => u.get('/home')));
    expect(after.map((r) => [r.servedBy, r.status])).toEqual([
      ['replica-1', 200],
      ['replica-1', 302],
      ['replica-1', 302],
    ]);
    expect(users.map((u) => u.jar.get('LAB_AFFINITY'))).toEqual(['replica-1', 'replica-1', 'replica-1']);
    expect(counts(l)).toEqual({ 'replica-1': [5, 2, true], 'replica-2': [2, 0, false], 'replica-3': [2, 0, false] });
  });
});

describe('lab: restarts, scaling and stats', () => {
  it('with one replica, requests during a restart get 503, and the restart loses the session', async () => {
    const l = await lab({ replicas: 1 });
    const user = new LabClient(l.url);
    await user.login();
    const stuck = await startStuckRequest(l.url);
    await barrier(l);
    const restarting = l.restart(1);
    const during = await user.get('/home');
    expect([during.status, during.servedBy]).toEqual([503, null]);
    expect(l.stats().replicas).toEqual([{ name: 'replica-1', up: false, requests: 2, sessionMisses: 0 }]);
    await restarting;
    expect(await stuck.status).toBe(502);
    const after = await user.get('/home');
    expect([after.status, after.location, after.miss]).toEqual([302, '/login', true]);
    expect(l.stats().replicas).toEqual([{ name: 'replica-1', up: true, requests: 3, sessionMisses: 1 }]);
  });

  it('keeps exact counts across restarts, scale-down, scale-up and reset', async () => {
    const l = await lab();
    for (let i = 0; i < 10; i++) await (await fetch(`${l.url}/home`, { redirect: 'manual' })).text();
    expect(counts(l)).toEqual({ 'replica-1': [5, 5, true], 'replica-2': [5, 5, true] });
    await l.restart(2);
    await l.scale(1);
    expect(counts(l)).toEqual({ 'replica-1': [5, 5, true], 'replica-2': [5, 5, false] });
    for (let i = 0; i < 3; i++) await (await fetch(`${l.url}/health`)).text();
    await l.scale(3);
    const served = [];
    for (let i = 0; i < 3; i++) served.push((await fetch(`${l.url}/health`)).headers.get('x-served-by'));
    expect(served.sort()).toEqual(['replica-1', 'replica-2', 'replica-3']);
    expect(counts(l)).toEqual({ 'replica-1': [9, 5, true], 'replica-2': [6, 5, true], 'replica-3': [1, 0, true] });
    expect(l.stats().totals).toEqual({ requests: 16, sessionMisses: 10 });
    await l.scale(2);
    l.resetStats();
    expect(l.stats()).toEqual({
      replicas: [
        { name: 'replica-1', up: true, requests: 0, sessionMisses: 0 },
        { name: 'replica-2', up: true, requests: 0, sessionMisses: 0 },
      ],
      totals: { requests: 0, sessionMisses: 0 },
      balancer: 'round-robin',
      store: 'memory',
    });
    await expect(l.restart(3)).rejects.toBeInstanceOf(UsageError);
    await expect(l.scale(0)).rejects.toBeInstanceOf(UsageError);
  });

  it('answers the control endpoints itself, without counting them', async () => {
    const l = await lab();
    await (await fetch(`${l.url}/api/me`)).text();
    expect(await control(l, 'GET', '/_lab/stats')).toEqual({ status: 200, json: l.stats() });

    const restarted = await control(l, 'POST', '/_lab/restart/2');
    expect(restarted.status).toBe(200);
    expect(restarted.json).toMatchObject({ ok: true, restarted: 'replica-2' });
    const scaled = await control(l, 'POST', '/_lab/scale/3');
    expect(scaled.status).toBe(200);
    expect(scaled.json.stats.replicas.map((r: { name: string }) => r.name)).toEqual(['replica-1', 'replica-2', 'replica-3']);

    for (const [method, path, status] of [
      ['POST', '/_lab/restart/0', 400],
      ['POST', '/_lab/restart/4', 400],
      ['POST', '/_lab/restart/abc', 400],
      ['POST', '/_lab/scale/0', 400],
      ['POST', '/_lab/scale/1000', 400],
      ['GET', '/_lab/restart/1', 405],
      ['GET', '/_lab/nope', 404],
    ] as const) {
      const r = await control(l, method, path);
      expect([path, r.status, typeof r.json.error]).toEqual([path, status, 'string']);
    }
    expect(l.stats().totals).toEqual({ requests: 1, sessionMisses: 1 });
    expect(await control(l, 'POST', '/_lab/reset-stats')).toEqual({ status: 200, json: { ok: true } });
    expect(l.stats().totals).toEqual({ requests: 0, sessionMisses: 0 });
  });

  it('close() leaves no child process and no listening socket', async () => {
    const l = await lab({ replicas: 3 });
    const before = childPids();
    expect(before.length).toBeGreaterThanOrEqual(3);
    await l.close();
    await l.close(); // idempotent
    expect(childPids()).toEqual([]);
    await expect(fetch(`${l.url}/health`)).rejects.toThrow();
  });
});

const haveRedis = Boolean(process.env['REDIS_URL']) || findOnPath('redis-server') !== undefined;

describe.skipIf(!haveRedis)('lab: redis store (skipped: no redis-server on PATH and no REDIS_URL)', () => {
  it('keeps the session across replicas and restarts', async () => {
    const l = await lab({ store: 'redis' });
    expect(l.options.redisUrl).toMatch(/^rediss?:\/\//);
    const user = new LabClient(l.url);
    await user.login('user42', 'pass42');
    await l.restart(1);
    await l.restart(2);
    const served = [];
    for (let i = 0; i < 4; i++) {
      const r = await user.get('/api/me');
      expect(r.status).toBe(200);
      served.push(JSON.parse(r.body).replica);
    }
    expect(served).toEqual(['replica-1', 'replica-2', 'replica-1', 'replica-2']);
    await l.scale(1);
    expect((await user.get('/home')).status).toBe(200);
    expect(l.stats().totals).toEqual({ requests: 7, sessionMisses: 0 });
  });
});

describe('lab: setup errors', () => {
  it('asks for redis when none can be found', async () => {
    const err = await resolveRedis({ env: { PATH: '/nonexistent' } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect((err as UsageError).exitCode).toBe(2);
    expect((err as Error).message).toContain('apt-get install redis-server');
    expect((err as Error).message).toContain('REDIS_URL');
  });

  it('rejects bad options and says to build when the replica entry is missing', async () => {
    await expect(startLab({ replicas: 0, balancer: 'sticky', store: 'memory' })).rejects.toBeInstanceOf(UsageError);
    expect(() => locateReplicaEntry('file:///nowhere/src/')).toThrow(/npm run build/);
  });
});

/** Live child processes of this process (Linux /proc; empty elsewhere). */
function childPids(): number[] {
  if (process.platform !== 'linux') return [];
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // fields[0] is the state (Z = zombie, already dead); fields[1] is the parent pid.
      if (Number(fields[1]) === process.pid && fields[0] !== 'Z') out.push(Number(d));
    } catch {
      // the process exited while we looked
    }
  }
  return out;
}
