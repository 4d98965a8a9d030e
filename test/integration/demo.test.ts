/**
 * The demo's rows against the real lab (replicas forked from dist/: build first), through the same row
 * runner the `demo` command uses, then the whole command as a subprocess. Assertions are exact counts
 * (the tool's losses against the lab's own count of "session not found") and wide ranges, never timings.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Writable } from 'node:stream';
import { demoCommand } from '../../src/cli/demo.js';
import type { Io } from '../../src/cli/io.js';
import { DEMO_ROWS, NO_REDIS_SKIP, runDemoRow, type DemoRow, type DemoRowOutcome, type DemoSettings } from '../../src/cli/demo-rows.js';
import { findOnPath } from '../../src/lab/redis.js';
import { loadResultFile } from '../../src/result/load.js';
import type { RunResult } from '../../src/result/schema.js';
import { runCli } from '../helpers/cli.js';

const hasRedis = Boolean(process.env['REDIS_URL']) || findOnPath('redis-server') !== undefined;
/** Shown in the test's title when it is skipped, so the reason is visible in the report. */
const NO_REDIS_NOTE = hasRedis ? '' : ' (skipped: no redis-server on PATH and no REDIS_URL)';
const dir = mkdtempSync(join(tmpdir(), 'sb-demo-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Light settings: a loaded 2-core CI box must run these quickly; request budgets, except restart rows. */
const settings: DemoSettings = { concurrency: 8, durationMs: null, requests: 600, delayMs: 5, threads: 4 };
const restartSettings: DemoSettings = { ...settings, requests: null, durationMs: 2000, restartAfterMs: 1000 };

function row(name: string): DemoRow {
  const r = DEMO_ROWS.find((x) => x.name === name);
  if (!r) throw new Error(`no demo row ${name}`);
  return r;
}

async function ran(o: Promise<DemoRowOutcome>): Promise<Extract<DemoRowOutcome, { kind: 'ran' }>> {
  const outcome = await o;
  if (outcome.kind !== 'ran') throw new Error(`row skipped: ${outcome.reason}`);
  // The invariant of every row: the tool's loss count is exactly the lab's count of session misses.
  expect(outcome.result.session.losses).toBe(outcome.lab.totals.sessionMisses);
  expect(outcome.agree).toBe(true);
  expect(outcome.result.label).toBe(outcome.row.name);
  expect(outcome.result.session.loginFailures).toBe(0);
  // A restart drains the replica first, but a drain that outlasts its bound (a very loaded machine) may
  // cut a request off (502): failures are only asserted for rows without a restart.
  if (!outcome.row.restart) expect(outcome.result.requests.failed).toBe(0);
  return outcome;
}

/** Losses per whole second from the timeline, before the second the restart happened in. */
function timelineLossesBefore(r: RunResult, atMs: number): number {
  return r.timeline.filter((b) => b.second < Math.floor(atMs / 1000)).reduce((a, b) => a + b.losses, 0);
}

describe('demo rows against the lab', () => {
  it('1 replica: retention exactly 1', async () => {
    const o = await ran(runDemoRow(row('1 replica'), settings));
    expect(o.result.session.retention).toBe(1);
    expect(o.result.session.losses).toBe(0);
    expect(o.result.requests.total).toBe(600);
    expect(o.result.meta).toMatchObject({ replicas: 1, balancer: 'round-robin', store: 'memory', restart: false });
    expect(o.result.meta).not.toHaveProperty('restartAtMs');
  });

  it('2 replicas, round-robin, memory: about half the logged-in requests lose their session', async () => {
    const o = await ran(runDemoRow(row('2 replicas, round-robin'), settings));
    expect(o.result.session.losses).toBeGreaterThan(0);
    expect(o.result.session.retention).toBeGreaterThan(0.3);
    expect(o.result.session.retention).toBeLessThan(0.7);
    expect(o.lab.replicas.map((r) => r.name)).toEqual(['replica-1', 'replica-2']);
    // Both replicas miss sessions the other one created.
    for (const r of o.lab.replicas) expect(r.sessionMisses).toBeGreaterThan(0);
  });

  it('2 replicas, sticky, memory, no restart: retention exactly 1', async () => {
    const o = await ran(runDemoRow(row('2 replicas, sticky'), settings));
    expect(o.result.session.retention).toBe(1);
    expect(o.result.session.losses).toBe(0);
    // Both replicas served traffic: stickiness, not a single replica, kept the sessions.
    for (const r of o.lab.replicas) expect(r.requests).toBeGreaterThan(0);
  });

  it('2 replicas, sticky, restart: losses, all of them after the restart', async () => {
    const o = await ran(runDemoRow(row('2 replicas, sticky, restart'), restartSettings));
    const r = o.result;
    expect(o.restartAtMs).not.toBeNull();
    const at = o.restartAtMs!;
    expect(r.meta).toMatchObject({ replicas: 2, balancer: 'sticky', store: 'memory', restart: true, restartAtMs: at });
    expect(r.session.losses).toBeGreaterThan(0);
    expect(r.session.retention).toBeLessThan(1);
    // The collector keeps the earliest events, so the first one recorded is the first loss of the run.
    expect(r.session.lossEvents.length).toBeGreaterThan(0);
    for (const e of r.session.lossEvents) expect(e.atMs).toBeGreaterThanOrEqual(at);
    expect(timelineLossesBefore(r, at)).toBe(0);
    // The restart is an --at event of the run (the lab's control endpoint through the shell), with its figures.
    expect(r.events).toHaveLength(1);
    expect(r.events[0]!.command).toMatch(/\/_lab\/restart\/1\b/);
    expect(r.events[0]!).toMatchObject({ atMs: 1000, status: 'ok', exitCode: 0 });
    expect(at).toBe(Math.floor(r.events[0]!.startedMs!) - 1);
    expect(r.events[0]!.windows.before!.losses).toBe(0);
    // The users logged out are the ones pinned to replica-1.
    expect(r.session.users.affected).toBe(r.session.users.byLoginBackend['replica-1']!.users);
  });

  it.skipIf(!hasRedis)(`2 replicas, round-robin, Redis, restart: retention exactly 1${NO_REDIS_NOTE}`, async () => {
    const o = await ran(runDemoRow(row('2 replicas, Redis, restart'), { ...restartSettings, redisUrl: process.env['REDIS_URL'] || undefined }));
    expect(o.restartAtMs).not.toBeNull();
    expect(o.result.meta).toMatchObject({ replicas: 2, balancer: 'round-robin', store: 'redis', restart: true });
    expect(o.result.session.retention).toBe(1);
    expect(o.result.session.losses).toBe(0);
    expect(o.lab.store).toBe('redis');
  });

  it('the Redis row is skipped, not failed, when no Redis can be had', async () => {
    const o = await runDemoRow(row('2 replicas, Redis, restart'), { ...restartSettings, env: { PATH: '/nonexistent' } });
    expect(o).toEqual({ kind: 'skipped', row: row('2 replicas, Redis, restart'), reason: NO_REDIS_SKIP });
    expect(NO_REDIS_SKIP).toContain('apt-get install redis-server');
  });
});

/** Never a survival claim for a row with losses (same wording the unit tests forbid). */
const SURVIVAL_CLAIM = /kept every session|surviv|no session lost|sessions? (were |was )?kept/i;

describe('session-bench demo (CLI)', () => {
  it(`prints a table of every row, agreement lines, and conclusions that follow the numbers${hasRedis ? '' : ' (Redis row: expects the skip line, no redis-server on PATH and no REDIS_URL)'}`, async () => {
    const out = join(dir, 'demo');
    const r = await runCli(['demo', '-d', '2s', '-c', '8', '--delay', '5ms', '--out', out], { timeoutMs: 90_000 });
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.split('\n');

    // Progress: one line per row on stderr.
    expect(r.stderr).toMatch(/row 1\/5: 1 replica, memory sessions \.\.\. \d+\.\ds/);
    expect(r.stderr).toMatch(/row 4\/5: .*\(replica-1 restarted at \d+\.\ds\)/);

    const expectedRows = DEMO_ROWS.map((x) => x.name).filter((n) => hasRedis || !n.includes('Redis'));
    if (!hasRedis) expect(r.stdout).toContain(`2 replicas, Redis, restart: skipped: ${NO_REDIS_SKIP}`);

    // Agreement lines: the lab's count equals the tool's, for every row that ran.
    const agreed = new Map<string, number>();
    for (const l of lines) {
      const m = /^ {2}(.+): lab counted ([\d,]+) session misses; session-bench counted ([\d,]+) ✓$/.exec(l);
      if (m) {
        expect(m[2]).toBe(m[3]);
        agreed.set(m[1]!, Number(m[2]!.replace(/,/g, '')));
      }
    }
    expect([...agreed.keys()]).toEqual(expectedRows);
    expect(r.stdout).not.toContain('MISMATCH');

    // The table: one line per row, its Losses cell (last column) equal to the agreement line's count.
    const tableRows = lines.filter((l) => l.startsWith('│ ') && !l.startsWith('│ Run'));
    expect(tableRows.map((l) => l.split('│')[1]!.trim())).toEqual(expectedRows);
    for (const l of tableRows) {
      const cells = l.split('│').map((c) => c.trim());
      const losses = Number(cells[cells.length - 2]!.split(' ')[0]!.replace(/,/g, ''));
      expect(losses).toBe(agreed.get(cells[1]!));
    }
    expect(lines.find((l) => l.startsWith('│ Run'))).toMatch(/Requests\/sec.*Time\/request.*Session retention.*Losses/);

    // The measured outcomes the story is about.
    expect(agreed.get('1 replica')).toBe(0);
    expect(agreed.get('2 replicas, round-robin')).toBeGreaterThan(0);
    expect(agreed.get('2 replicas, sticky')).toBe(0);
    expect(agreed.get('2 replicas, sticky, restart')).toBeGreaterThan(0);
    if (hasRedis) expect(agreed.get('2 replicas, Redis, restart')).toBe(0);

    // Conclusions: a verdict per row; none claims survival for a row with losses; lossless rows say so.
    const conclusions = lines.slice(lines.indexOf('What the numbers say:') + 1).filter((l) => l.startsWith('  ')).map((l) => l.trim());
    for (const name of expectedRows) {
      const own = conclusions.filter((c) => c.startsWith(`${name}:`));
      expect(own.length, name).toBeGreaterThan(0);
      if (agreed.get(name)! > 0) {
        for (const c of own) expect(c, c).not.toMatch(SURVIVAL_CLAIM);
        expect(own[0]).toMatch(new RegExp(`^${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: lost [\\d,]+ sessions?`));
      } else {
        expect(own[0]).toContain('kept every session');
      }
    }
    expect(conclusions.find((c) => c.startsWith('2 replicas, sticky, restart:'))).toMatch(/no loss before the replica restart at \d+\.\d s/);

    // The saved JSONs are ordinary, valid results, labelled by row.
    const files = readdirSync(out).sort();
    expect(files).toEqual(expectedRows.map((n) => `${String(DEMO_ROWS.findIndex((x) => x.name === n) + 1).padStart(2, '0')}-${n.toLowerCase().replace(/[^a-z0-9]+/g, '-')}.json`));
    for (const f of files) {
      const result = await loadResultFile(join(out, f));
      expect(agreed.get(result.label)).toBe(result.session.losses);
    }
    expect(r.stdout).toContain(`compare them again with: session-bench compare ${out}/*.json`);
  });

  it('shows live progress within a row on a terminal', async () => {
    let err = '';
    let out = '';
    const sink = (append: (s: string) => void): NodeJS.WritableStream & { isTTY: boolean } =>
      Object.assign(new Writable({ write: (chunk, _enc, cb) => (append(String(chunk)), cb()) }), { isTTY: true });
    const io: Io = {
      stdout: sink((x) => (out += x)),
      stderr: sink((x) => (err += x)),
      env: { ...process.env, TERM: 'xterm', NO_COLOR: '1', PATH: '/nonexistent' },
      signal: new AbortController().signal,
      cwd: dir,
    };
    const code = await demoCommand(io, { concurrency: '4', duration: '2s', delay: '0ms', out: join(dir, 'tty-demo') });
    expect(code, err).toBe(0);
    // Redrawn in place ("\r" + erase line) while a row runs, with the row, the clock and the figures.
    expect(err).toMatch(/\r\x1b\[2Krow 4\/5 \[\s*\d+s \/ 2s\]\s+requests [\d,]+\s+[\d,]+ req\/s/);
    // The restart event as it happens (curl is not on this PATH: the same POST from node).
    expect(err).toMatch(/event 1 started: .*node.*\/_lab\/restart\/1/);
    expect(err).toMatch(/row 4\/5: .*\(replica-1 restarted at \d+\.\ds\) \d+\.\ds\n/);
    expect(out).toContain('Users logged out');
  });

  it('rejects bad flags with exit 2, naming each', async () => {
    const r = await runCli(['demo', '-c', '0', '--delay', 'slow', '--redis-url', 'http://x']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--concurrency');
    expect(r.stderr).toContain('--delay: invalid duration "slow"');
    expect(r.stderr).toContain('--redis-url: expected a redis:// or rediss:// URL, got "http://x"');
  });
});
