/**
 * `session-bench lab` as a user runs it (a subprocess, stopped with SIGTERM), and the lab's per-replica
 * thread limit (`--threads`, like Tomcat's maxThreads). Replicas run from dist/: build first.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { startLab, type Lab } from '../../src/lab/lab.js';
import { createReplicaApp, type ReplicaApp } from '../../src/lab/replica-app.js';
import { MemorySessionStore } from '../../src/lab/session-store.js';
import { loadResultFile } from '../../src/result/load.js';
import { runCli } from '../helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'sb-lab-cmd-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(cleanups.splice(0).map((c) => c()));
});

/** Polls until `cond` holds; fails after `ms` instead of hanging. */
async function until(cond: () => boolean, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
  expect(cond()).toBe(true);
}

/** `session-bench lab --port 0 --replicas 2 ...flags` as a subprocess, once it printed its URL. */
async function startLabCli(flags: string[]): Promise<{ lab: ReturnType<typeof runCli>; url: string; output: () => string; kill: (sig: NodeJS.Signals) => void }> {
  let kill: (sig: NodeJS.Signals) => void = () => {};
  let output: () => string = () => '';
  const lab = runCli(['lab', '--port', '0', '--replicas', '2', ...flags], {
    timeoutMs: 60_000,
    onStart: (k, o) => {
      kill = k;
      output = o;
    },
  });
  await until(() => /URL: +http:\/\/\S+/.test(output()));
  return { lab, url: /URL: +(http:\/\/\S+)/.exec(output())![1]!, output: () => output(), kill: (sig) => kill(sig) };
}

describe('session-bench lab (CLI)', () => {
  it('prints its URL, serves scenarios/lab.yaml unchanged, logs session misses, and exits 0 on SIGTERM', async () => {
    const { lab, url, output, kill } = await startLabCli([]);
    for (const endpoint of ['/_lab/restart/1', '/_lab/scale/3', '/_lab/stats', '/_lab/reset-stats']) expect(output()).toContain(`${url}${endpoint}`);

    const json = join(dir, 'lab-run.json');
    const run = await runCli(['run', 'scenarios/lab.yaml', '--target', url, '-n', '300', '-q', '--json', json]);
    expect(run.code, run.stderr).toBe(0);
    const result = await loadResultFile(json);
    expect(result.requests.total).toBe(300);
    expect(result.requests.failed).toBe(0);
    expect(result.session.losses).toBeGreaterThan(0); // round-robin, memory sessions: the story

    // The control endpoint on the balancer's port: exactly the misses the tool counted.
    const stats = (await (await fetch(`${url}/_lab/stats`)).json()) as { totals: { requests: number; sessionMisses: number } };
    expect(stats.totals).toEqual({ requests: 300, sessionMisses: result.session.losses });

    // Story-like warnings streamed to stdout; by default, not every request's INFO line.
    await until(() => output().includes('WARN  Session not found for request GET '));
    expect(output()).not.toMatch(/replica-[12] INFO  User '(admin|user\d)' logged in successfully/);
    expect(output()).not.toMatch(/replica-[12] INFO  Redirecting to login page/);
    // Control actions are always printed.
    expect((await fetch(`${url}/_lab/restart/1`, { method: 'POST' })).status).toBe(200);
    await until(() => output().includes('lab       INFO  Restarting replica-1'));

    kill('SIGTERM');
    const done = await lab;
    expect(done.code, done.stderr).toBe(0);
    expect(done.stdout).toContain('session-bench lab: stopped');
  });

  it.each([
    ['--log-requests', ['--log-requests'], true, true],
    ['-q', ['-q'], false, false],
  ])('%s: every request line / only control actions and errors', async (_name, flag, requestLines, warnings) => {
    const { lab, url, output, kill } = await startLabCli(flag);
    const run = await runCli(['run', 'scenarios/lab.yaml', '--target', url, '-n', '100', '-q']);
    expect(run.code, run.stderr).toBe(0);
    expect((await fetch(`${url}/_lab/restart/2`, { method: 'POST' })).status).toBe(200);
    await until(() => output().includes('lab       INFO  Restarting replica-2'));
    if (requestLines) await until(() => /replica-[12] INFO  GET \/owners \d{3} \d+\.\dms/.test(output()));
    else expect(output()).not.toMatch(/INFO  GET \/owners/);
    if (!warnings) expect(output()).not.toContain('Session not found');
    kill('SIGTERM');
    expect((await lab).code).toBe(0);
  });

  it('exits 2 when the port is taken, suggesting --port 0', async () => {
    const server = http.createServer((_req, res) => res.end());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise((r) => server.close(() => r())));
    const port = (server.address() as AddressInfo).port;
    const r = await runCli(['lab', '--port', String(port), '--replicas', '1']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`port 127.0.0.1:${port} is already in use`);
    expect(r.stderr).toContain('--port 0');
  });

  it('exits 2 with how to get Redis when --store redis finds none', async () => {
    const r = await runCli(['lab', '--port', '0', '--store', 'redis'], { env: { PATH: '/nonexistent', REDIS_URL: '' } });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('apt-get install redis-server');
    expect(r.stderr).toContain('--redis-url');
  });

  it('rejects bad flags with exit 2, naming each', async () => {
    const r = await runCli(['lab', '--replicas', '0', '--threads', 'x', '--delay', 'slow', '--balancer', 'random']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--balancer.*random/);
    const r2 = await runCli(['lab', '--replicas', '0', '--threads', 'x', '--delay', 'slow']);
    expect(r2.code).toBe(2);
    expect(r2.stderr).toContain('--replicas: expected a whole number from 1 to 32, got "0"');
    expect(r2.stderr).toContain('--threads');
    expect(r2.stderr).toContain('--delay: invalid duration "slow"');
  });
});

describe('lab: per-replica thread limit (maxThreads)', () => {
  /** The replica app in this process, on port 0, so the test can read its counters. */
  async function replica(threads: number, delayMs: number): Promise<{ app: ReplicaApp; url: string }> {
    const store = new MemorySessionStore(60);
    const app = createReplicaApp({ name: 'replica-1', store, csrfSecret: 'test', delayMs, threads });
    const server = http.createServer(app.handle);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanups.push(async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(() => r(undefined)));
      await store.close();
    });
    return { app, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
  }

  /** A GET on its own connection, so that concurrency is the server's to limit. */
  function get(url: string): Promise<number> {
    return new Promise((resolve, reject) => {
      http
        .get(url, { agent: false }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        })
        .on('error', reject);
    });
  }

  it('processes at most N requests at once and queues the rest', async () => {
    // 300 ms per request: all six arrive while the first two are still busy, even on a loaded machine.
    const { app, url } = await replica(2, 300);
    const statuses = await Promise.all(Array.from({ length: 6 }, () => get(`${url}/health`)));
    expect(statuses).toEqual([200, 200, 200, 200, 200, 200]);
    expect(app.counters.requests).toBe(6);
    expect(app.counters.peakBusy).toBe(2);
    expect(app.counters.queued).toBe(4);
  });

  it('without a limit nothing waits', async () => {
    const { app, url } = await replica(0, 30);
    await Promise.all(Array.from({ length: 6 }, () => get(`${url}/health`)));
    expect(app.counters.queued).toBe(0);
  });

  it('a request that leaves while queued gives up its place without taking a thread', async () => {
    const { app, url } = await replica(1, 500); // long enough that the first is still busy while we look
    const first = get(`${url}/health`);
    await until(() => app.counters.requests === 1);
    const gone = http.get(`${url}/health`, { agent: false });
    gone.on('error', () => {});
    await until(() => app.counters.queued === 1);
    gone.destroy();
    expect(await get(`${url}/health`)).toBe(200);
    expect(await first).toBe(200);
    expect(app.counters.requests).toBe(2); // the one that left was never processed
    expect(app.counters.peakBusy).toBe(1);
  });

  it('through the lab: threads 1 and delay 50 ms serve 4 concurrent requests one after another', async () => {
    const lab: Lab = await startLab({ replicas: 1, balancer: 'round-robin', store: 'memory', delayMs: 50, threads: 1 });
    cleanups.push(() => lab.close());
    const t0 = performance.now();
    const done: number[] = [];
    await Promise.all(
      Array.from({ length: 4 }, () =>
        get(`${lab.url}/health`).then((s) => {
          expect(s).toBe(200);
          done.push(performance.now() - t0);
        }),
      ),
    );
    done.sort((a, b) => a - b);
    // Lower bounds only (a slow machine makes them longer, never shorter): the k-th answer needs k delays.
    // 2 ms of slack per delay for timer rounding.
    done.forEach((ms, k) => expect(ms).toBeGreaterThanOrEqual((k + 1) * 48));
    expect(lab.stats().totals.requests).toBe(4);
  });
});
