import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, UsageError } from '../../src/common/errors.js';
import type { RunResult } from '../../src/result/schema.js';
import { deltaPct, formatComparison, type ComparedRun, type ComparisonJson } from '../../src/reporters/compare.js';
import { formatConclusion } from '../../src/cli/conclusions.js';
import { loadResultFile } from '../../src/result/load.js';
import { formatJson, writeResultFile } from '../../src/reporters/json.js';
import { fakeResult, latencyOf, lossEvent } from '../helpers/fake-result.js';

const ANSI = /\x1b\[/;
const GREEN = '\x1b[32m';
const RED = '\x1b[31m';

interface RunSpec {
  label?: string;
  file?: string;
  /** Requests per second: requests over a fixed 10 s run. */
  rps: number;
  losses?: number;
  retention?: number | null;
  tracked?: boolean;
  failed?: number;
  latencyMs?: number[];
  meta?: RunResult['meta'];
}

/** A run with the given throughput and session outcome; everything else constant. */
/** An empty timeline second. */
const bucket = (second: number): RunResult['timeline'][number] => ({
  second, requests: 0, failed: 0, losses: 0, errors: 0, logins: 0, loginFailures: 0, flowRequests: 0, flowRequestsKept: 0,
  regenerations: 0, droppedIterations: 0, activeVus: 0, p50: null, p99: null, hdr: '', backends: {},
});

function run(spec: RunSpec): ComparedRun {
  const losses = spec.losses ?? 0;
  const tracked = spec.tracked ?? true;
  const retention = spec.retention !== undefined ? spec.retention : losses === 0 ? 1 : 0.5;
  const total = spec.rps * 10;
  return {
    file: spec.file ?? `results/${(spec.label ?? 'run').replace(/\W+/g, '-')}.json`,
    result: fakeResult({
      label: spec.label ?? '',
      durationMs: 10_000,
      options: { concurrency: 100 },
      requests: { total, ok: total - (spec.failed ?? 0), failed: spec.failed ?? 0 },
      latency: latencyOf(spec.latencyMs ?? [10, 20, 30]),
      meta: spec.meta ?? {},
      session: tracked
        ? { retention, flowRetention: retention, losses, flowRequests: 10_000, flowRequestsKept: 10_000 - losses }
        : { tracked: false, retention: null, flowRetention: null, losses: 0, flowRequests: 0, flowRequestsKept: 0 },
    }),
  };
}

describe('deltaPct', () => {
  it.each([
    [190, 100, 90],
    [50, 100, -50],
    [0, 0, 0],
    [5, 0, null],
    [null, 1, null],
    [1, null, null],
  ] as const)('deltaPct(%s, %s) = %s', (v, b, expected) => {
    const d = deltaPct(v, b);
    if (expected === null) expect(d).toBeNull();
    else expect(d).toBeCloseTo(expected, 9);
  });
});

describe('formatComparison', () => {
  // The story's ab table: 1 replica at 50.23 req/s, 2 replicas sticky at 95.12 req/s.
  const baseline = run({ label: '1 replica', rps: 50, latencyMs: [10, 20, 30], meta: { replicas: 1 } });
  const faster = run({
    label: '2 replicas round-robin',
    rps: 95,
    losses: 500,
    retention: 0.5,
    latencyMs: [20, 40, 60],
    meta: { replicas: 2 },
  });
  const runs = [baseline, faster];

  it('shows deltas against the first run with their sign', () => {
    const text = formatComparison(runs, { format: 'table', color: false });
    expect(text).toContain('95.00 (+90.0%)'); // rps
    expect(text).toContain('50.00%'); // retention
    expect(text).toContain('(-50.0 pp)'); // retention 100% -> 50%: percentage points
    expect(text).toContain('500 (was 0)'); // losses: no finite percentage from 0
    expect(text).not.toMatch(ANSI);
    // The baseline row carries no delta.
    const baseRow = text.split('\n').find((l) => l.includes('1 replica'))!;
    expect(baseRow).not.toContain('%)');
  });

  it('colors better green and worse red, by the direction of each figure', () => {
    const text = formatComparison(runs, { format: 'table', color: true });
    expect(text).toContain(`95.00 ${GREEN}(+90.0%)`); // higher rps is better
    expect(text).toContain(`40.0 ${RED}(+100.0%)`); // higher p50 is worse
    expect(text).toContain(`50.00% ${RED}(-50.0 pp)`); // lower retention is worse
    expect(text).toContain(`500 ${RED}(was 0)`); // more losses is worse

    const slower = run({ label: 'slow', rps: 25, latencyMs: [5, 10, 15] });
    const text2 = formatComparison([baseline, slower], { format: 'table', color: true });
    expect(text2).toContain(`25.00 ${RED}(-50.0%)`);
    expect(text2).toContain(`10.0 ${GREEN}(-50.0%)`); // lower p50 is better
  });

  it('shows Replicas from meta, or - when unknown, and the file base name when the label is empty', () => {
    const unlabeled = run({ file: '/tmp/out/b.json', rps: 60 });
    const text = formatComparison([baseline, unlabeled], { format: 'markdown', color: false });
    const row = text.split('\n')[3]!;
    expect(row.startsWith('| b.json | - | 60.00 (+20.0%) |')).toBe(true);
  });

  it('writes n/a for runs that do not track sessions', () => {
    const untracked = run({ label: 'ab-like', rps: 100, tracked: false });
    const text = formatComparison([baseline, untracked], { format: 'markdown', color: true });
    const cells = text.split('\n')[3]!.split(' | ');
    expect(cells.slice(-3)).toEqual(['n/a', 'n/a', 'n/a |']);
  });

  it('renders a GitHub markdown table without colors', () => {
    const piped = run({ label: 'a | b', rps: 50 });
    const text = formatComparison([...runs, piped], { format: 'markdown', color: true });
    expect(text).not.toMatch(ANSI);
    const lines = text.trimEnd().split('\n');
    expect(lines).toHaveLength(2 + 3);
    expect(lines[0]).toBe(
      '| Run | Replicas | Requests/sec | Time/request (ms) | p50 (ms) | p95 (ms) | p99 (ms) | Failed requests | Session retention | Users logged out | Flow retention | Losses |',
    );
    expect(lines[1]).toBe('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
    // Same number of (unescaped) cell separators on every line.
    const cols = (l: string): number => l.replace(/\\\|/g, '').split('|').length;
    for (const l of lines) expect(cols(l)).toBe(cols(lines[0]!));
    expect(lines[4]).toContain('| a \\| b |');
  });

  it('renders json with per-run figures and deltas', () => {
    const doc = JSON.parse(formatComparison(runs, { format: 'json', color: true })) as ComparisonJson;
    expect(doc.schemaVersion).toBe(1);
    expect(doc.baseline).toBe('1 replica');
    expect(doc.runs.map((r) => r.label)).toEqual(['1 replica', '2 replicas round-robin']);
    const [b, f] = doc.runs;
    expect(b!.replicas).toBe(1);
    expect(b!.rps).toBe(50);
    // ab's definition: 100 concurrency * 10 s * 1000 / 500 requests.
    expect(b!.timePerRequestMs).toBe(2000);
    expect(b!.deltas.rps).toBe(0);
    expect(f!.rps).toBe(95);
    expect(f!.deltas.rps).toBeCloseTo(90, 9);
    expect(f!.deltas.timePerRequestMs).toBeCloseTo((2000 * 50) / 95 / 20 - 100, 9);
    expect(f!.retention).toBe(0.5);
    expect(f!.deltas.retention).toBeCloseTo(-50, 9);
    // Retention changes are in percentage points: 54.24% -> 99.99% is +45.75 pp, not "+84.3%".
    expect(f!.losses).toBe(500);
    expect(f!.deltas.losses).toBeNull();
    expect(Object.keys(f!.deltas).sort()).toEqual(
      ['failed', 'flowRetention', 'losses', 'p50', 'p95', 'p99', 'retention', 'rps', 'timePerRequestMs', 'usersAffected'],
    );
  });

  it('shows users logged out as "10 of 20", with the change in percentage points', () => {
    const users = (affected: number, total: number): RunResult['session']['users'] => ({ total, loggedIn: total, affected, maxLosses: affected > 0 ? 1 : 0, lossesPerUser: {}, byLoginBackend: {} });
    const [a, b] = [run({ label: 'sticky', rps: 50, losses: 10 }), run({ label: 'redis', rps: 50 })];
    a.result.session.users = users(10, 20);
    b.result.session.users = users(0, 20);
    const text = formatComparison([a, b], { format: 'markdown', color: false, columns: ['usersAffected'] });
    expect(text.trimEnd().split('\n').slice(2)).toEqual(['| sticky | 10 of 20 |', '| redis | 0 of 20 (-50.0 pp) |']);
    const doc = JSON.parse(formatComparison([a, b], { format: 'json', color: false })) as ComparisonJson;
    expect(doc.runs[1]!.usersAffected).toEqual({ affected: 0, total: 20, share: 0 });
    expect(doc.runs[1]!.deltas.usersAffected).toBeCloseTo(-50, 9);
  });

  it('shows only the chosen columns, in their order', () => {
    const text = formatComparison(runs, { format: 'markdown', color: false, columns: ['rps', 'p99', 'retention', 'losses'] });
    const lines = text.trimEnd().split('\n');
    expect(lines[0]).toBe('| Run | Requests/sec | p99 (ms) | Session retention | Losses |');
    expect(lines[3]).toBe('| 2 replicas round-robin | 95.00 (+90.0%) | 60.0 (+100.0%) | 50.00% (-50.0 pp) | 500 (was 0) |');
    const table = formatComparison(runs, { format: 'table', color: false, columns: ['losses'] });
    expect(table).not.toContain('Requests/sec');
    expect(table).toContain('Losses');
  });

  it('refuses an empty list', () => {
    expect(() => formatComparison([], { format: 'table', color: false })).toThrow(UsageError);
  });
});

describe('loadResultFile', () => {
  let dir = '';
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
    dir = '';
  });
  const tmp = async (): Promise<string> => (dir = await mkdtemp(join(tmpdir(), 'sb-compare-')));

  async function configError(path: string): Promise<ConfigError> {
    const err = await loadResultFile(path).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }

  it('reads back what writeResultFile wrote', async () => {
    const path = join(await tmp(), 'a.json');
    const r = fakeResult({ label: 'round trip' });
    await writeResultFile(path, r);
    expect(await loadResultFile(path)).toEqual(r);
  });

  it('names the file and every invalid field', async () => {
    const path = join(await tmp(), 'bad.json');
    const data = JSON.parse(formatJson(fakeResult())) as Record<string, any>;
    data.latency.p50 = 'fast';
    data.session.retention = 1.5;
    await writeFile(path, JSON.stringify(data));
    const err = await configError(path);
    expect(err.source).toBe(path);
    expect(err.issues.map((i) => i.path).sort()).toEqual(['latency.p50', 'session.retention']);
    expect(err.message).toContain(path);
    expect(err.message).toContain('latency.p50');
  });

  it('reports invalid JSON and unreadable files against (file)', async () => {
    const d = await tmp();
    await writeFile(join(d, 'trunc.json'), '{"schemaVersion": 1, "tool":');
    const bad = await configError(join(d, 'trunc.json'));
    expect(bad.issues[0]!.path).toBe('(file)');
    expect(bad.issues[0]!.message).toMatch(/not valid JSON/);

    const missing = await configError(join(d, 'missing.json'));
    expect(missing.source).toBe(join(d, 'missing.json'));
    expect(missing.issues[0]!.path).toBe('(file)');
    expect(missing.issues[0]!.message).toMatch(/cannot read/);
  });

  it('names a schema version mismatch on its own', async () => {
    const path = join(await tmp(), 'v2.json');
    await writeFile(path, JSON.stringify({ schemaVersion: 2, whatever: true }));
    const err = await configError(path);
    expect(err.issues).toEqual([{ path: 'schemaVersion', message: expect.stringContaining('expected 1, got 2') }]);
  });
});

describe('formatConclusion', () => {
  const SURVIVAL_CLAIM = /kept every session|surviv|no session lost|sessions? (were |was )?kept/i;

  /** The invariant the demo must never break: no row with losses is said to keep its sessions. */
  function expectNoSurvivalClaimForLossyRuns(runs: readonly ComparedRun[], lines: readonly string[]): void {
    for (const r of runs) {
      if (r.result.session.losses === 0 && r.result.session.retention === 1) continue;
      const name = r.result.label || r.file.split('/').at(-1)!;
      for (const line of lines.filter((l) => l.startsWith(`${name}:`))) {
        expect(line, line).not.toMatch(SURVIVAL_CLAIM);
      }
    }
  }

  describe('one verdict per run', () => {
    it.each<[string, RunSpec, RegExp, RegExp | null]>([
      ['no loss, full retention', { label: 'A', rps: 50 }, /^A: kept every session \(10,000 of 10,000 logged-in requests\)\.$/, null],
      ['losses', { label: 'A', rps: 50, losses: 480, retention: 0.52 }, /^A: lost 480 sessions; retention 52\.00%\.$/, SURVIVAL_CLAIM],
      [
        'a single loss at 99.99%: never rounded to a survival',
        { label: 'A', rps: 50, losses: 1, retention: 0.99996 },
        /^A: lost 1 session; retention 99\.99%/,
        /100/,
      ],
      [
        'losses with a restart',
        { label: 'A', rps: 50, losses: 12, retention: 0.98, meta: { restart: true, replicas: 2, balancer: 'sticky' } },
        /^A: lost 12 sessions; retention 98\.00%; the losses came with the restart\.$/,
        SURVIVAL_CLAIM,
      ],
      [
        'no loss through a restart',
        { label: 'A', rps: 50, meta: { restart: true, store: 'redis' } },
        /^A: kept every session .*, through the restart\.$/,
        null,
      ],
      [
        'no logged-in request measured',
        { label: 'A', rps: 50, retention: null },
        /^A: no logged-in requests were measured, so whether sessions survive is unknown\.$/,
        /kept every session/,
      ],
      ['untracked', { label: 'A', rps: 50, tracked: false }, /^A: sessions not tracked/, SURVIVAL_CLAIM],
      ['failures are mentioned', { label: 'A', rps: 50, failed: 3 }, /; 3 failed requests\.$/, null],
    ])('%s', (_name, spec, expected, forbidden) => {
      const lines = formatConclusion([run(spec)]);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(expected);
      if (forbidden) expect(lines[0]).not.toMatch(forbidden);
    });

    it('says how many losses were answered by another replica than the login, from the exact hop counts', () => {
      const r = run({ label: 'RR', rps: 50, losses: 3, retention: 0.5 });
      r.result.session.attribution.hops = [
        { login: 'replica-1', lost: 'replica-2', losses: 1200 },
        { login: 'replica-1', lost: 'replica-1', losses: 3 },
        { login: 'replica-1', lost: null, losses: 7 },
      ];
      expect(formatConclusion([r])[0]).toContain('; 1,200 of 1,203 losses were answered by another replica than the one that served the login');
    });

    it('says how many users were logged out, next to retention', () => {
      const r = run({ label: 'RR', rps: 50, losses: 10, retention: 0.9956 });
      r.result.session.users = { total: 20, loggedIn: 20, affected: 10, maxLosses: 1, lossesPerUser: { '1': 10 }, byLoginBackend: {} };
      expect(formatConclusion([r])[0]).toMatch(/^RR: lost 10 sessions: 10 of 20 users were logged out; retention 99\.56%/);
    });
  });

  describe('throughput against the baseline', () => {
    const one = { label: '1 replica', rps: 50, meta: { replicas: 1 } };
    it.each<[string, RunSpec[], string[], RegExp[]]>([
      [
        'the best lossless run is faster',
        [one, { label: '2 replicas Redis + restart', rps: 95, meta: { replicas: 2, store: 'redis', restart: true } }],
        ['2 replicas Redis + restart: 1.9x the throughput of 1 replica (95.00 vs 50.00 req/s), with no session lost.'],
        [],
      ],
      [
        'picks the fastest of several lossless runs',
        [one, { label: 'B', rps: 60 }, { label: 'C', rps: 120 }],
        ['C: 2.4x the throughput of 1 replica (120.00 vs 50.00 req/s), with no session lost.'],
        [/^B: [\d.]+x the throughput/],
      ],
      [
        'a lossless run slower than the baseline is called slower',
        [one, { label: 'B', rps: 40 }],
        ['B: no session lost, but lower throughput than 1 replica: 0.8x (40.00 vs 50.00 req/s).'],
        [/x the throughput of/],
      ],
      [
        'a lossless run within 5% is about the same',
        [one, { label: 'B', rps: 51 }],
        ['B: about the same throughput as 1 replica (51.00 vs 50.00 req/s), with no session lost.'],
        [/x the throughput of/],
      ],
      [
        'no other run kept every session; the fastest lossy run is named',
        [one, { label: 'RR', rps: 95, losses: 480, retention: 0.5 }],
        ['No run other than 1 replica kept every session.', 'The fastest run, RR (95.00 req/s), lost 480 sessions.'],
        [/x the throughput/, /with no session lost/],
      ],
      [
        'no run kept every session',
        [
          { label: 'A', rps: 50, losses: 1, retention: 0.999 },
          { label: 'B', rps: 60, losses: 2, retention: 0.998 },
        ],
        ['No run kept every session.', 'The fastest run, B (60.00 req/s), lost 2 sessions.'],
        [/with no session lost/],
      ],
      [
        'the fastest lossy run is not named when a lossless run is faster still',
        [one, { label: 'RR', rps: 80, losses: 5, retention: 0.9 }, { label: 'Redis', rps: 90 }],
        ['Redis: 1.8x the throughput of 1 replica (90.00 vs 50.00 req/s), with no session lost.'],
        [/The fastest run/],
      ],
    ])('%s', (_name, specs, expected, forbidden) => {
      const runs = specs.map(run);
      const lines = formatConclusion(runs);
      expect(lines.slice(0, runs.length)).toHaveLength(runs.length); // verdicts first
      const summary = lines.slice(runs.length);
      expect(summary).toEqual(expected);
      for (const f of forbidden) for (const l of lines) expect(l).not.toMatch(f);
      expectNoSurvivalClaimForLossyRuns(runs, lines);
    });
  });

  it("replays the story's five configurations without ever crediting a lossy run", () => {
    const runs = [
      run({ label: '1 replica', rps: 50, meta: { replicas: 1, balancer: 'round-robin', store: 'memory' } }),
      run({ label: '2 replicas round-robin', rps: 96, losses: 4800, retention: 0.5012, meta: { replicas: 2, balancer: 'round-robin', store: 'memory' } }),
      run({ label: '2 replicas sticky', rps: 95, meta: { replicas: 2, balancer: 'sticky', store: 'memory' } }),
      run({ label: '2 replicas sticky + restart', rps: 93, losses: 57, retention: 0.9431, meta: { replicas: 2, balancer: 'sticky', store: 'memory', restart: true } }),
      run({ label: '2 replicas Redis + restart', rps: 94, meta: { replicas: 2, balancer: 'round-robin', store: 'redis', restart: true } }),
    ];
    const lines = formatConclusion(runs);
    expect(lines).toEqual([
      '1 replica: kept every session (10,000 of 10,000 logged-in requests).',
      '2 replicas round-robin: lost 4,800 sessions; retention 50.12%.',
      '2 replicas sticky: kept every session (10,000 of 10,000 logged-in requests).',
      '2 replicas sticky + restart: lost 57 sessions; retention 94.31%; the losses came with the restart.',
      '2 replicas Redis + restart: kept every session (10,000 of 10,000 logged-in requests), through the restart.',
      '2 replicas sticky: 1.9x the throughput of 1 replica (95.00 vs 50.00 req/s), with no session lost.',
      'The fastest run, 2 replicas round-robin (96.00 req/s), lost 4,800 sessions.',
    ]);
    expectNoSurvivalClaimForLossyRuns(runs, lines);
  });

  it('never claims survival for a lossy run, over many generated combinations', () => {
    // Deterministic pseudo-random generator so a failure is reproducible.
    let seed = 42;
    const rand = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let trial = 0; trial < 100; trial++) {
      const n = 1 + Math.floor(rand() * 5);
      const runs = Array.from({ length: n }, (_, i) => {
        const lossy = rand() < 0.5;
        return run({
          label: `run ${i}`,
          rps: 1 + Math.floor(rand() * 200),
          losses: lossy ? 1 + Math.floor(rand() * 100) : 0,
          retention: lossy ? rand() * 0.9999 : 1,
          meta: { restart: rand() < 0.5 },
        });
      });
      expectNoSurvivalClaimForLossyRuns(runs, formatConclusion(runs));
    }
  });

  describe('with a measured restart time (meta.restartAtMs)', () => {
    const sticky = { replicas: 2, balancer: 'sticky', store: 'memory', restart: true, restartAtMs: 4000 };
    const lossyAt = (atMs: number[], over: Partial<RunResult['session']> = {}): ComparedRun => {
      const r = run({ label: 'S', rps: 90, losses: atMs.length, retention: 0.99, meta: sticky });
      r.result.session.lossEvents = atMs.map((a) => lossEvent({ atMs: a }));
      r.result.session.attribution.hops = [{ login: 'replica-1', lost: 'replica-2', losses: atMs.length }];
      Object.assign(r.result.session, over);
      return r;
    };

    it('says no loss came before the restart only when every recorded loss came at or after it', () => {
      const [line] = formatConclusion([lossyAt([4057.2, 4100, 5000])]);
      expect(line).toBe(
        'S: lost 3 sessions; retention 99.00%; no loss before the replica restart at 4.0 s: every loss came after it ' +
          '(the first 57.2 ms after); 3 of 3 losses were answered by another replica than the one that served the login.',
      );
      expect(line).not.toMatch(/kept every session|with no session lost/);
    });

    it('a loss at exactly the restart time counts as after it', () => {
      expect(formatConclusion([lossyAt([4000])])[0]).toContain('no loss before the replica restart at 4.0 s');
    });

    it('counts the losses that came before the restart, and never says the restart caused them', () => {
      const [line] = formatConclusion([lossyAt([100, 3999.9, 4200])]);
      expect(line).toContain('; 2 of 3 recorded losses came before the replica restart at 4.0 s');
      expect(line).not.toMatch(/came with the restart|no loss before/);
    });

    it('says "the losses" rather than "every loss" when events were dropped by the cap', () => {
      const r = lossyAt([4100, 4200], { losses: 500, lossEventsDropped: 498 });
      expect(formatConclusion([r])[0]).toContain('no loss before the replica restart at 4.0 s: the losses came after it');
    });

    it('does not claim "no loss before" when the timeline shows a loss in an earlier second', () => {
      const r = lossyAt([4100]);
      r.result.timeline = [
        { ...bucket(1), requests: 10, losses: 1 },
        { ...bucket(4), requests: 10, losses: 1 },
      ];
      const [line] = formatConclusion([r]);
      expect(line).not.toContain('no loss before');
      expect(line).toContain('and losses before it');
    });

    it('a run with losses but no loss event recorded only says that it had a restart', () => {
      const r = lossyAt([]);
      r.result.session.losses = 4;
      expect(formatConclusion([r])[0]).toBe('S: lost 4 sessions; retention 99.00%; the run had a replica restart at 4.0 s.');
    });

    it('names the restart time for a lossless run, and adds a line for it when it is not the fastest lossless run', () => {
      const runs = [
        run({ label: '1 replica', rps: 50, meta: { replicas: 1 } }),
        run({ label: 'sticky', rps: 100, meta: { replicas: 2, balancer: 'sticky', store: 'memory', restart: false } }),
        run({ label: 'redis', rps: 95, meta: { replicas: 2, store: 'redis', restart: true, restartAtMs: 4000 } }),
      ];
      const lines = formatConclusion(runs);
      expect(lines[2]).toBe('redis: kept every session (10,000 of 10,000 logged-in requests), through the restart at 4.0 s.');
      expect(lines.slice(3)).toEqual([
        'sticky: 2x the throughput of 1 replica (100.00 vs 50.00 req/s), with no session lost.',
        'redis: no session lost through a replica restart, at 1.9x the throughput of 1 replica (95.00 vs 50.00 req/s).',
      ]);
      expectNoSurvivalClaimForLossyRuns(runs, lines);
    });

    it('ignores restartAtMs unless meta.restart is true, and a non-numeric restartAtMs', () => {
      const noRestart = run({ label: 'A', rps: 50, losses: 2, retention: 0.9, meta: { restart: false, restartAtMs: 10 } });
      expect(formatConclusion([noRestart])[0]).toBe('A: lost 2 sessions; retention 90.00%.');
      const textual = run({ label: 'B', rps: 50, losses: 2, retention: 0.9, meta: { restart: true, restartAtMs: 'soon' } });
      expect(formatConclusion([textual])[0]).toBe('B: lost 2 sessions; retention 90.00%; the losses came with the restart.');
    });

    it('never claims survival for a lossy run whatever the loss times', () => {
      let seed = 7;
      const rand = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
      for (let trial = 0; trial < 100; trial++) {
        const runs = Array.from({ length: 1 + Math.floor(rand() * 5) }, (_, i) => {
          const n = Math.floor(rand() * 4);
          const r = run({
            label: `run ${i}`,
            rps: 1 + Math.floor(rand() * 200),
            losses: n,
            retention: n === 0 ? 1 : rand() * 0.9999,
            meta: { restart: rand() < 0.7, restartAtMs: Math.floor(rand() * 8000) },
          });
          r.result.session.lossEvents = Array.from({ length: n }, () => lossEvent({ atMs: rand() * 8000 }));
          return r;
        });
        expectNoSurvivalClaimForLossyRuns(runs, formatConclusion(runs));
      }
    });
  });
});

describe('retention changes are percentage points', () => {
  it('54.24% -> 99.99% reads +45.8 pp, not +84.3%', () => {
    const a = { file: 'a.json', result: fakeResult({ label: 'memory' }) };
    const b = { file: 'b.json', result: fakeResult({ label: 'redis' }) };
    a.result.session.retention = 0.5424;
    b.result.session.retention = 0.9999;
    const text = formatComparison([a, b], { format: 'markdown', color: false, columns: ['retention'] });
    expect(text).toContain('99.99% (+45.8 pp)');
    expect(text).not.toContain('84.3%');
    const doc = JSON.parse(formatComparison([a, b], { format: 'json', color: false })) as { runs: { deltas: { retention: number } }[] };
    expect(doc.runs[1]!.deltas.retention).toBeCloseTo(45.75, 9);
  });
});
