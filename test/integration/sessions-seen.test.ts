/**
 * What session-bench reads from an app it did not write: a Tomcat-style cluster whose JSESSIONID carries
 * the node's route (the backend without any header), and that sometimes replaces the session cookie on a
 * normal page (silent regeneration, counted exactly against the server's own count); and an open-model
 * run through a server stall, measured as slow rather than dropped.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { loadResultFile } from '../../src/result/load.js';
import { runCli } from '../helpers/cli.js';
import { cookiesOf, serversClosedAfterEach } from '../helpers/servers.js';

const server = serversClosedAfterEach(afterEach);
const dir = mkdtempSync(join(tmpdir(), 'sb-seen-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('a Tomcat-like cluster with jvmRoute session ids', () => {
  it('backend from the route suffix; silent regenerations counted exactly; a route change alone is not one', async () => {
    /** session id (without route) -> node */
    const sessions = new Map<string, string>();
    const counts = { regenerations: 0, moved: 0, authenticated: 0, logins: 0 };
    let nextNode = 0;
    const s = await server((req, res) => {
      const sid = cookiesOf(req)['JSESSIONID'];
      const id = sid?.split('.')[0];
      if (req.url === '/login' && req.method === 'POST') {
        req.resume();
        const newId = randomBytes(16).toString('hex').toUpperCase();
        const node = `node${(nextNode++ % 2) + 1}`;
        sessions.set(newId, node);
        counts.logins++;
        res.writeHead(302, { location: '/home', 'set-cookie': `JSESSIONID=${newId}.${node}; Path=/; HttpOnly` }).end();
        return;
      }
      if (req.url === '/login') {
        res.writeHead(200, { 'content-type': 'text/html' }).end('<form method="post"><input name="username"><input type="password" name="password"></form>');
        return;
      }
      if (id === undefined || !sessions.has(id)) {
        res.writeHead(302, { location: '/login' }).end();
        return;
      }
      counts.authenticated++;
      const headers: Record<string, string> = { 'content-type': 'text/html' };
      if (counts.authenticated % 7 === 0) {
        // Another node answered and created a new session: the page still shows (a cart would be empty).
        const fresh = randomBytes(16).toString('hex').toUpperCase();
        const node = sessions.get(id)!;
        sessions.delete(id);
        sessions.set(fresh, node);
        counts.regenerations++;
        headers['set-cookie'] = `JSESSIONID=${fresh}.${node}; Path=/; HttpOnly`;
      } else if (counts.authenticated % 11 === 0) {
        // Failover with session replication: same session, the route names the node that has it now.
        const node = sessions.get(id) === 'node1' ? 'node2' : 'node1';
        sessions.set(id, node);
        counts.moved++;
        headers['set-cookie'] = `JSESSIONID=${id}.${node}; Path=/; HttpOnly`;
      }
      res.writeHead(200, headers).end('<h1>home</h1>');
    });
    const file = join(dir, 'tomcat.yaml');
    writeFileSync(
      file,
      [
        `target: ${s.url}`,
        'users: [{ username: u, password: p }]',
        'login: [{ get: /login }, { post: /login, form: { username: "{{username}}", password: "{{password}}" }, expect: { status: 302 } }]',
        'flow: [{ get: /home }, { get: /cart }]',
      ].join('\n'),
    );
    const json = join(dir, 'tomcat.json');
    const cli = await runCli(['run', file, '-c', '4', '-n', '1000', '-q', '--json', json]);
    expect(cli.code, cli.stderr).toBe(0);
    const r = await loadResultFile(json);
    expect(r.session.losses).toBe(0);
    expect(r.session.logins).toBe(counts.logins);
    expect(counts.regenerations).toBeGreaterThan(10);
    expect(counts.moved).toBeGreaterThan(5);
    expect(r.session.silentRegenerations).toBe(counts.regenerations);
    expect(r.timeline.reduce((a, b) => a + b.regenerations, 0)).toBe(counts.regenerations);
    expect(r.session.attribution.backendSource).toEqual({ kind: 'session-route', name: 'JSESSIONID' });
    expect(Object.keys(r.backends).sort()).toEqual(['node1', 'node2']);
    // Every logged-in request is on its login's node but for the moves (and the requests that follow).
    expect(r.session.attribution.stickiness!.share!).toBeLessThan(1);
    expect(cli.stdout).toMatch(/Silent regenerations:\s+\d+ answers replaced the session cookie without a redirect to login/);
    expect(cli.stdout).toContain('Backend from:           the route suffix of the JSESSIONID cookie');
  });
});

describe('open model through a server stall', () => {
  /** Answers at once, except from 1 s to 2 s after its first request, when every answer waits until 2 s. */
  async function stallingServer(): Promise<Awaited<ReturnType<typeof server>>> {
    let first = 0;
    return server((_req, res) => {
      const now = Date.now();
      first ||= now;
      const t = now - first;
      const send = (): void => void res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
      if (t >= 1000 && t < 2000) setTimeout(send, 2000 - t);
      else send();
    });
  }

  it('the default VU pool absorbs a 1 s stall at the asked rate: nothing dropped, the stall is in the latency', async () => {
    const s = await stallingServer();
    const json = join(dir, 'stall.json');
    const cli = await runCli(['run', `${s.url}/`, '--rate', '50', '-d', '3s', '-q', '--json', json]);
    expect(cli.code, cli.stderr).toBe(0);
    const r = await loadResultFile(json);
    expect(r.options.maxVus).toBe(250);
    // The stall needs about 50 VUs at once; none is short. (A loaded machine's timers may still start
    // the last due iteration or two after the stop: those are counted as dropped, honestly.)
    expect(r.droppedIterations).toBeLessThanOrEqual(3);
    expect(r.timeline.slice(0, 3).reduce((a, b) => a + b.droppedIterations, 0)).toBe(0);
    expect(r.requests.total).toBe(s.count);
    expect(r.requests.total).toBeGreaterThanOrEqual(140);
    expect(r.latency.p90).toBeGreaterThan(300);
  });

  it('with a small pool, the dropped iterations are said loudly next to the latency', async () => {
    const s = await stallingServer();
    const json = join(dir, 'stall-small.json');
    const cli = await runCli(['run', `${s.url}/`, '--rate', '50', '-c', '5', '--max-vus', '5', '-d', '3s', '-q', '--json', json]);
    expect(cli.code, cli.stderr).toBe(0);
    const r = await loadResultFile(json);
    expect(r.droppedIterations).toBeGreaterThan(20);
    expect(r.requests.total).toBe(s.count);
    expect(r.timeline.reduce((a, b) => a + b.droppedIterations, 0)).toBe(r.droppedIterations);
    expect(cli.stdout).toMatch(/WARNING: \d+ iterations were dropped \([\d.]+% of the iterations due\): the test meant to start them and could not, because all 5 VUs were busy/);
    expect(cli.stdout).toContain('The latency above does not include them');
  });
});
