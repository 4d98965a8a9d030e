/**
 * Operations during a run, against the real lab: an --at event restarting a replica of a sticky fleet and
 * of a Redis fleet, the hop matrix of a round-robin fleet, stages followed by the active-VU count, and a
 * timeline that adds up exactly to the totals. Counts are compared for equality with the lab's own;
 * timings only within generous bounds.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { labControlCommand } from '../../src/cli/demo-rows.js';
import { run } from '../../src/engine/runner.js';
import { startLab, type Lab, type LabOptions } from '../../src/lab/lab.js';
import { findOnPath } from '../../src/lab/redis.js';
import { decodeHistogram } from '../../src/metrics/histogram.js';
import { loadResultFile } from '../../src/result/load.js';
import { RunResultSchema, type RunResult } from '../../src/result/schema.js';
import { loadScenario, parseScenario } from '../../src/scenario/load.js';
import { runCli } from '../helpers/cli.js';

const hasRedis = Boolean(process.env['REDIS_URL']) || findOnPath('redis-server') !== undefined;
const LAB_SCENARIO = 'scenarios/lab.yaml';
const dir = mkdtempSync(join(tmpdir(), 'sb-ops-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let labs: Lab[] = [];
afterEach(async () => {
  await Promise.all(labs.splice(0).map((l) => l.close()));
});
async function lab(o: Partial<LabOptions> & Pick<LabOptions, 'balancer' | 'store'>): Promise<Lab> {
  const l = await startLab({ replicas: 2, delayMs: 2, threads: 0, ...o });
  labs.push(l);
  return l;
}

/** Every per-second figure adds up exactly to its total; per-second histograms to the latency count. */
function expectTimelineAddsUp(r: RunResult): void {
  const sum = (f: (b: RunResult['timeline'][number]) => number): number => r.timeline.reduce((a, b) => a + f(b), 0);
  expect(r.timeline.map((b) => b.second)).toEqual(r.timeline.map((_b, i) => i));
  expect(sum((b) => b.requests)).toBe(r.requests.total);
  expect(sum((b) => b.failed)).toBe(r.requests.failed);
  expect(sum((b) => b.losses)).toBe(r.session.losses);
  expect(sum((b) => b.logins)).toBe(r.session.logins);
  expect(sum((b) => b.loginFailures)).toBe(r.session.loginFailures);
  expect(sum((b) => b.flowRequests)).toBe(r.session.flowRequests);
  expect(sum((b) => b.flowRequestsKept)).toBe(r.session.flowRequestsKept);
  expect(sum((b) => b.droppedIterations)).toBe(r.droppedIterations);
  expect(sum((b) => b.regenerations)).toBe(r.session.silentRegenerations);
  expect(sum((b) => (b.hdr === '' ? 0 : decodeHistogram(b.hdr).totalCount))).toBe(r.latency.count);
  expect(sum((b) => Object.values(b.backends).reduce((a, n) => a + n, 0))).toBe(Object.values(r.backends).reduce((a, n) => a + n, 0));
}

const restartAt = (l: Lab, replica: number): string => labControlCommand(l.url, `restart/${replica}`, process.env);

describe('an --at event restarting a replica', () => {
  it('sticky fleet: no loss before it, then exactly the users pinned to that replica are logged out, once each', async () => {
    const l = await lab({ balancer: 'sticky', store: 'memory' });
    const r = await run(loadScenario(LAB_SCENARIO), {
      target: l.url,
      concurrency: 20,
      durationMs: 6000,
      events: [{ atMs: 3000, command: restartAt(l, 1), stopOnFailure: false }],
    });
    expect(RunResultSchema.safeParse(r).success).toBe(true);
    // The lab's own count of "session not found" is the tool's loss count.
    expect(r.session.losses).toBe(l.stats().totals.sessionMisses);
    expect(r.session.losses).toBeGreaterThan(0);
    expectTimelineAddsUp(r);

    const [e] = r.events;
    expect(e).toMatchObject({ atMs: 3000, status: 'ok', exitCode: 0, stopOnFailure: false });
    expect(e!.startedMs!).toBeGreaterThanOrEqual(3000);
    expect(e!.endedMs!).toBeGreaterThan(e!.startedMs!);
    // Nothing was lost before the event: not in the window before it, not in any second before it.
    expect(e!.windows.before!.losses).toBe(0);
    expect(e!.windows.before!.retention).toBe(1);
    expect(r.timeline.slice(0, Math.floor(e!.startedMs! / 1000)).every((b) => b.losses === 0)).toBe(true);
    expect(r.session.lossEvents.every((x) => x.atMs >= e!.startedMs! - 1)).toBe(true);
    expect((e!.windows.during?.losses ?? 0) + (e!.windows.after?.losses ?? 0)).toBe(r.session.losses);

    // Every loss belongs to a user who had logged in on replica-1, and answered by replica-2.
    expect(r.session.attribution.hops).toEqual([{ login: 'replica-1', lost: 'replica-2', losses: r.session.losses }]);
    expect(r.session.attribution.backendSource).toEqual({ kind: 'header', name: 'x-served-by' });
    const pinned = r.session.users.byLoginBackend;
    expect(pinned['replica-1']!.users + pinned['replica-2']!.users).toBe(20);
    expect(pinned['replica-1']!.users).toBeGreaterThan(0);
    // Users affected: exactly the VUs that were pinned to the restarted replica; each logged out once.
    expect(r.session.users).toMatchObject({ total: 20, loggedIn: 20, affected: pinned['replica-1']!.users, maxLosses: 1 });
    expect(pinned['replica-1']!.affected).toBe(pinned['replica-1']!.users);
    expect(pinned['replica-2']!.affected).toBe(0);
    expect(r.session.losses).toBe(pinned['replica-1']!.users);
    // Sticky: nearly every logged-in request went to the login's backend (one hop per affected user).
    expect(r.session.attribution.stickiness!.share!).toBeGreaterThan(0.9);
  });

  it.skipIf(!hasRedis)('Redis fleet: the same restart logs nobody out', async () => {
    const l = await lab({ balancer: 'round-robin', store: 'redis', ...(process.env['REDIS_URL'] ? { redisUrl: process.env['REDIS_URL'] } : {}) });
    const r = await run(loadScenario(LAB_SCENARIO), {
      target: l.url,
      concurrency: 20,
      durationMs: 6000,
      events: [{ atMs: 3000, command: restartAt(l, 1), stopOnFailure: false }],
    });
    expect(r.events[0]!.status).toBe('ok');
    expect(r.session.losses).toBe(0);
    expect(l.stats().totals.sessionMisses).toBe(0);
    expect(r.session.retention).toBe(1);
    expect(r.session.users.affected).toBe(0);
    expect(r.events[0]!.windows.during!.retention).toBe(1);
    expectTimelineAddsUp(r);
  });
});

describe('loss attribution', () => {
  it('round-robin fleet: losses hop both ways, and stickiness is about one half', async () => {
    const l = await lab({ balancer: 'round-robin', store: 'memory' });
    const r = await run(loadScenario(LAB_SCENARIO), { target: l.url, concurrency: 10, requests: 3000 });
    expect(r.session.losses).toBe(l.stats().totals.sessionMisses);
    const hops = new Map(r.session.attribution.hops.map((h) => [`${h.login}>${h.lost}`, h.losses]));
    expect(hops.get('replica-1>replica-2')).toBeGreaterThan(0);
    expect(hops.get('replica-2>replica-1')).toBeGreaterThan(0);
    // With memory sessions, a request on the other replica is always a loss; on the same one never.
    expect([...hops.keys()].sort()).toEqual(['replica-1>replica-2', 'replica-2>replica-1']);
    expect([...hops.values()].reduce((a, n) => a + n, 0)).toBe(r.session.losses);
    expect(r.session.attribution.lossesByBackend).toEqual({ 'replica-1': hops.get('replica-2>replica-1'), 'replica-2': hops.get('replica-1>replica-2') });
    const st = r.session.attribution.stickiness!;
    expect(st.share!).toBeGreaterThan(0.3);
    expect(st.share!).toBeLessThan(0.7);
    // Half the users are affected at the very least: nearly all of them are.
    expect(r.session.users.affected).toBeGreaterThanOrEqual(5);
    const bySince = r.session.attribution.lossesByRequestsSinceLogin;
    expect(Object.values(bySince).reduce((a, n) => a + n, 0)).toBe(r.session.losses);
    // Round-robin loses the session within the first logged-in requests.
    expect((bySince['1'] ?? 0) + (bySince['2'] ?? 0)).toBeGreaterThan(r.session.losses / 2);
    expectTimelineAddsUp(r);
  });

  it('without a backend header, reads the backend from the sticky balancer\'s affinity cookie, and says so', async () => {
    const l = await lab({ balancer: 'sticky', store: 'memory' });
    const base = loadScenario(LAB_SCENARIO);
    const scenario = { ...base, session: { ...base.session, servedByHeader: null } };
    const r = await run(scenario, {
      target: l.url,
      concurrency: 10,
      durationMs: 4000,
      events: [{ atMs: 1500, command: restartAt(l, 2), stopOnFailure: false }],
    });
    expect(r.session.attribution.backendSource).toEqual({ kind: 'affinity-cookie', name: 'LAB_AFFINITY' });
    expect(r.session.losses).toBe(l.stats().totals.sessionMisses);
    expect(r.session.attribution.hops).toEqual([{ login: 'replica-2', lost: 'replica-1', losses: r.session.losses }]);
    expect(r.session.users.affected).toBe(r.session.users.byLoginBackend['replica-2']!.users);
  });
});

describe('stages', () => {
  it('the active-VU count of the timeline follows the stages within a second', async () => {
    const l = await lab({ balancer: 'round-robin', store: 'memory', replicas: 1 });
    const stages = [
      { durationMs: 2000, target: 10 },
      { durationMs: 2000, target: 10 },
      { durationMs: 2000, target: 0 },
    ];
    const r = await run(loadScenario(LAB_SCENARIO), { target: l.url, stages });
    expect(r.options.stages).toEqual(stages);
    expect(r.options.concurrency).toBe(10);
    expect(r.options.durationMs).toBe(6000);
    const target = (ms: number): number => (ms <= 2000 ? (10 * ms) / 2000 : ms <= 4000 ? 10 : ms <= 6000 ? (10 * (6000 - ms)) / 2000 : 0);
    for (const b of r.timeline.slice(0, 6)) {
      // The second's highest count lies between the stages' values a second around it.
      const lo = Math.min(target((b.second - 1) * 1000), target((b.second + 2) * 1000));
      const hi = Math.max(target((b.second - 1) * 1000), target((b.second + 1) * 1000), target(b.second * 1000));
      expect(b.activeVus, `second ${b.second}`).toBeGreaterThanOrEqual(Math.floor(lo) - 1);
      expect(b.activeVus, `second ${b.second}`).toBeLessThanOrEqual(Math.ceil(hi) + 1);
    }
    expect(Math.max(...r.timeline.map((b) => b.activeVus))).toBe(10);
    expect(r.session.users.total).toBe(10);
    expectTimelineAddsUp(r);
  });

  it('an arrival-rate ramp starts iterations faster and faster', async () => {
    const l = await lab({ balancer: 'round-robin', store: 'memory', replicas: 1 });
    // 10/s ramping to 90/s over 3 s: (10 + 90) / 2 * 3 = 150 iterations are due.
    const r = await run(loadScenario(LAB_SCENARIO), { target: l.url, rate: 10, stages: [{ durationMs: 3000, target: 90 }], concurrency: 5 });
    expect(r.options.durationMs).toBe(3000);
    const started = r.session.flowIterations + r.droppedIterations;
    expect(started).toBeGreaterThanOrEqual(140);
    expect(started).toBeLessThanOrEqual(152);
    const perSecond = r.timeline.slice(0, 3).map((b) => b.flowRequests);
    expect(perSecond[0]!).toBeLessThan(perSecond[2]!);
    expectTimelineAddsUp(r);
  });
});

describe('run configuration in the scenario file', () => {
  it('stages, events and thresholds from the file; one file describes the whole test', async () => {
    const l = await lab({ balancer: 'sticky', store: 'memory' });
    const file = join(dir, 'whole-test.yaml');
    writeFileSync(
      file,
      [
        `target: ${l.url}`,
        'session: { servedByHeader: x-served-by, keepCookies: [LAB_AFFINITY] }',
        'users: [{ username: admin, password: admin }]',
        'login:',
        '  - get: /login',
        '    extract: { csrf: { input: _csrf } }',
        "  - post: /login",
        "    form: { username: '{{username}}', password: '{{password}}', _csrf: '{{csrf}}' }",
        '    expect: { status: 302, location: /home }',
        'flow: [{ get: /home }, { get: /api/me }]',
        'stages: [{ duration: 1s, target: 6 }, { duration: 2s, target: 6 }]',
        'events:',
        `  - { at: 1500ms, run: "${restartAt(l, 1).replace(/"/g, '\\"')}" }`,
        '  - { at: 2s, run: "echo broken >&2; exit 4" }',
        'thresholds: [retention>=50%]',
      ].join('\n'),
    );
    const json = join(dir, 'whole-test.json');
    const cli = await runCli(['run', file, '-q', '--json', json], { timeoutMs: 60_000 });
    expect(cli.code, cli.stderr).toBe(0);
    const r = await loadResultFile(json);
    expect(r.options.durationMs).toBe(3000);
    expect(r.options.concurrency).toBe(6);
    expect(r.events.map((e) => [e.atMs, e.status, e.exitCode])).toEqual([
      [1500, 'ok', 0],
      [2000, 'failed', 4],
    ]);
    expect(r.events[1]!.output).toContain('broken');
    // A failing event is reported, and does not stop the run unless asked.
    expect(cli.stdout).toMatch(/FAILED, exit 4/);
    expect(cli.stderr).toMatch(/event at 2s failed \(exit 4\): echo broken/);
    expect(cli.stderr).toMatch(/\[\s+1\.\ds\] event 1 started: /);
    expect(r.stopReason).toBeNull();
    expect(r.thresholds).toEqual([{ expression: 'retention>=50%', ok: true, unit: 'ratio', actual: r.session.retention }]);
    expect(r.session.losses).toBe(l.stats().totals.sessionMisses);
  });
});

describe('--at on the command line', () => {
  it('--stop-on-event-failure stops the run when the command fails: exit 1, the reason, the partial figures', async () => {
    const l = await lab({ balancer: 'round-robin', store: 'memory', replicas: 1 });
    const json = join(dir, 'stop.json');
    const cli = await runCli(['run', LAB_SCENARIO, '--target', l.url, '-c', '4', '-d', '20s', '--at', '1s=exit 7', '--stop-on-event-failure', '-q', '--json', json], { timeoutMs: 60_000 });
    expect(cli.code, cli.stderr).toBe(1);
    const r = await loadResultFile(json);
    expect(r.stopReason).toBe('event 1 failed (exit 7): exit 7');
    expect(r.durationMs).toBeLessThan(15_000);
    expect(r.requests.total).toBeGreaterThan(0);
    expect(cli.stdout).toContain('the run was stopped');
  });

  it('a command still running when the run ends is stopped and reported as such', async () => {
    const l = await lab({ balancer: 'round-robin', store: 'memory', replicas: 1 });
    const json = join(dir, 'long.json');
    const cli = await runCli(['run', LAB_SCENARIO, '--target', l.url, '-c', '2', '-d', '2s', '--at', '500ms=sleep 30', '-q', '--json', json], { timeoutMs: 60_000 });
    expect(cli.code, cli.stderr).toBe(0);
    const r = await loadResultFile(json);
    expect(r.events[0]).toMatchObject({ status: 'still-running', signal: 'SIGTERM' });
    expect(cli.stdout).toContain('still running when the run ended: stopped');
  });

  it.each([
    [['--at', '5s'], '--at: expected OFFSET=COMMAND'],
    [['--at', 'soon=true'], '--at: invalid duration "soon"'],
    [['--at', '3s='], '--at: no command after "3s="'],
    [['-d', '2s', '--at', '3s=true'], '--at: 3s="true" is not within the run (it lasts 2s)'],
    [['--stage', '10s'], '--stage: expected DURATION:TARGET'],
    [['--stage', '10:5'], '--stage: "10" has no unit'],
    [['--stage', '2s:5', '-d', '5s'], "--duration: stages set the run's length"],
    [['--stage', '2s:5', '-c', '3'], "--concurrency: with stages, the VU counts are the stages' targets"],
    [['--stop-on-event-failure'], '--stop-on-event-failure: only with --at'],
  ])('%j is refused before the run: exit 2, naming the flag', async (args, message) => {
    const cli = await runCli(['run', LAB_SCENARIO, '--target', 'http://127.0.0.1:9', ...args]);
    expect(cli.code).toBe(2);
    expect(cli.stderr).toContain(message);
    expect(cli.stderr).not.toMatch(/\n\s+at /);
  });
});

describe('scenario parsing of the run configuration', () => {
  it.each([
    [{ duration: '10s', stages: [{ duration: '1s', target: 2 }] }, 'duration'],
    [{ maxVus: 5 }, 'maxVus'],
    [{ rate: 'fast' }, 'rate'],
    [{ events: [{ at: 'x', run: 'true' }] }, 'events'],
    [{ stages: [{ duration: '1s', target: -1 }] }, 'stages'],
  ])('%j is refused, naming the field', (extra, field) => {
    expect(() => parseScenario({ flow: [{ get: '/' }], ...extra }, 'test.yaml')).toThrow(new RegExp(field));
  });
});
