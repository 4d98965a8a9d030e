import { describe, it, expect } from 'vitest';
import { Collector, MAX_LOSS_EVENTS, mergeSnapshots, type MetricsSnapshot, type StepMeta } from '../../src/metrics/collector.js';
import { decodeHistogram, summarize } from '../../src/metrics/histogram.js';
import { toRunResult, type ResultInfo } from '../../src/metrics/summary.js';
import { ERROR_KINDS, RunResultSchema, type LossEvent } from '../../src/result/schema.js';

const META: StepMeta[] = [
  { name: 'GET /login', phase: 'login', method: 'GET' },
  { name: 'POST /login', phase: 'login', method: 'POST' },
  { name: 'GET /home', phase: 'flow', method: 'GET' },
];
const START = 10_000; // performance.now() at the run's start
const at = (seconds: number): number => START + seconds * 1000;

const loss = (over: Partial<LossEvent> = {}): LossEvent => ({
  atMs: 1000,
  vu: 1,
  step: 'GET /home',
  url: 'http://h.test/home',
  status: 302,
  reason: 'redirect-to-login',
  backend: 'b',
  loginBackend: 'a',
  ...over,
});

const zeroErrors = Object.fromEntries(ERROR_KINDS.map((k) => [k, 0]));

/** A collector fed a small known run. */
function sampleRun(): Collector {
  const c = new Collector(META, START);
  c.recordResponse(0, 1000, 200, 500, 'replica-1', false, at(0.1));
  c.recordResponse(1, 2000, 302, 100, 'replica-1', false, at(0.2));
  c.recordLogin(true);
  c.recordResponse(2, 3000, 200, 1000, 'replica-2', false, at(1.5));
  c.recordFlowRequest(true);
  c.recordResponse(2, 4000, 302, 50, 'replica-2', false, at(1.7));
  c.recordLoss(2, loss({ atMs: 1700 }), at(1.7));
  c.recordFlowRequest(false);
  c.recordIteration(false);
  c.recordResponse(2, 5000, 500, 10, null, true, at(3.2));
  c.recordError(2, 'reset', new Error('socket hang up'), at(3.3));
  c.recordLogin(false, 'POST /login: expected status 302, got 200');
  c.recordDroppedIteration(at(3.4));
  return c;
}

/** The timeline as [requests, failed, losses] per second. */
const triples = (s: MetricsSnapshot): [number, number, number][] => s.timeline.map((b) => [b.requests, b.failed, b.losses]);

describe('Collector', () => {
  it('counts every kind of record', () => {
    const c = sampleRun();
    expect({
      requests: c.requests,
      responses: c.responses,
      failed: c.failed,
      errors: c.errors,
      bytesReceived: c.bytesReceived,
      logins: c.logins,
      loginFailures: c.loginFailures,
      losses: c.losses,
      flowRequests: c.flowRequests,
      flowRequestsKept: c.flowRequestsKept,
      flowIterations: c.flowIterations,
      flowIterationsKept: c.flowIterationsKept,
      droppedIterations: c.droppedIterations,
      lastError: c.lastError,
      lastLoginFailure: c.lastLoginFailure,
    }).toEqual({
      requests: 6,
      responses: 5,
      failed: 2,
      errors: 1,
      bytesReceived: 1660,
      logins: 1,
      loginFailures: 1,
      losses: 1,
      flowRequests: 2,
      flowRequestsKept: 1,
      flowIterations: 1,
      flowIterationsKept: 0,
      droppedIterations: 1,
      lastError: 'reset: socket hang up',
      lastLoginFailure: 'POST /login: expected status 302, got 200',
    });
    expect(c.p99Ms()).toBeCloseTo(5, 2);
    expect(c.sinceStart(at(1.2345678))).toBe(1234.568);
  });

  it('snapshot: per-step figures, backends, timeline', () => {
    const s = sampleRun().snapshot();
    expect(s.steps.map(({ hdr: _h, ...st }) => st)).toEqual([
      { ...META[0], requests: 1, failed: 0, losses: 0, byStatus: { '200': 1 }, errors: zeroErrors },
      { ...META[1], requests: 1, failed: 0, losses: 0, byStatus: { '302': 1 }, errors: zeroErrors },
      {
        ...META[2],
        requests: 4,
        failed: 2,
        losses: 1,
        byStatus: { '200': 1, '302': 1, '500': 1 },
        errors: { ...zeroErrors, reset: 1 },
      },
    ]);
    expect(s.steps.map((st) => decodeHistogram(st.hdr).totalCount)).toEqual([1, 1, 3]);
    expect(s.backends).toEqual({ 'replica-1': 2, 'replica-2': 2 });
    expect(triples(s)).toEqual([
      [2, 0, 0],
      [2, 0, 1],
      [0, 0, 0],
      [2, 2, 0],
    ]);
    expect(s.timeline.map((b) => [b.logins, b.loginFailures, b.flowRequests, b.flowRequestsKept, b.errors, b.dropped])).toEqual([
      [1, 0, 0, 0, 0, 0],
      [0, 0, 2, 1, 0, 0],
      [0, 0, 0, 0, 0, 0],
      [0, 1, 0, 0, 1, 1],
    ]);
    expect(s.timeline.map((b) => (b.hdr === '' ? 0 : decodeHistogram(b.hdr).totalCount))).toEqual([2, 2, 0, 1]);
    expect(s.timeline.map((b) => b.backends)).toEqual([{ 'replica-1': 2 }, { 'replica-2': 2 }, {}, {}]);
    expect(s.lossEvents).toEqual([loss({ atMs: 1700 })]);
    expect(s.lossEventsDropped).toBe(0);
    expect(JSON.parse(JSON.stringify(s))).toEqual(s);
  });

  it('snapshot is a copy: later records do not change it', () => {
    const c = sampleRun();
    const s = c.snapshot();
    c.recordResponse(2, 1000, 200, 1, 'x', false, at(0));
    c.recordLoss(2, loss(), at(0));
    expect(triples(s)[0]).toEqual([2, 0, 0]);
    expect(s.lossEvents).toHaveLength(1);
    expect(s.steps[2]!.requests).toBe(4);
  });

  it.each<[string, number[], [number, number, number][]]>([
    ['no records', [], [[0, 0, 0]]],
    ['one at the start', [0], [[1, 0, 0]]],
    ['second boundaries', [0, 0.999, 1, 1.999, 2], [[2, 0, 0], [2, 0, 0], [1, 0, 0]]],
    ['a gap is filled with zeros', [0.5, 4.2], [[1, 0, 0], [0, 0, 0], [0, 0, 0], [0, 0, 0], [1, 0, 0]]],
    ['before the start counts in second 0', [-0.5], [[1, 0, 0]]],
    ['out of order', [2.5, 0.5], [[1, 0, 0], [0, 0, 0], [1, 0, 0]]],
  ])('timeline buckets by whole second: %s', (_name, seconds, timeline) => {
    const c = new Collector(META, START);
    for (const s of seconds) c.recordResponse(2, 100, 200, 0, null, false, at(s));
    expect(triples(c.snapshot())).toEqual(timeline);
  });

  it('status outside 100..599 is counted as a request but not in byStatus', () => {
    const c = new Collector(META, START);
    c.recordResponse(2, 100, 999, 0, null, false, at(0));
    c.recordResponse(2, 100, 0, 0, null, false, at(0));
    const s = c.snapshot();
    expect(s.steps[2]!.requests).toBe(2);
    expect(s.steps[2]!.byStatus).toEqual({});
  });

  it.each([
    [0, 0],
    [1, 0],
    [MAX_LOSS_EVENTS, 0],
    [MAX_LOSS_EVENTS + 1, 1],
    [MAX_LOSS_EVENTS + 57, 57],
    [3 * MAX_LOSS_EVENTS, 2 * MAX_LOSS_EVENTS],
  ])('%d losses keep the first MAX_LOSS_EVENTS events and count %d as dropped', (n, dropped) => {
    const c = new Collector(META, START);
    for (let i = 0; i < n; i++) c.recordLoss(2, loss({ atMs: i, vu: i }), at(i / 100));
    const s = c.snapshot();
    expect(s.losses).toBe(n);
    expect(s.steps[2]!.losses).toBe(n);
    expect(s.lossEvents).toHaveLength(Math.min(n, MAX_LOSS_EVENTS));
    expect(s.lossEvents.map((e) => e.vu)).toEqual(Array.from({ length: Math.min(n, MAX_LOSS_EVENTS) }, (_, i) => i));
    expect(s.lossEventsDropped).toBe(dropped);
    expect(s.lossEvents.length + s.lossEventsDropped).toBe(n);
    expect(s.timeline.reduce((a, b) => a + b.losses, 0)).toBe(n);
  });
});

describe('mergeSnapshots', () => {
  /** Deterministic latencies (µs) for a step. */
  const latencies = (seed: number, n: number): number[] =>
    Array.from({ length: n }, (_, i) => 100 + ((i * 7919 + seed * 104_729) % 90_000));

  function feed(c: Collector, seed: number, n: number): void {
    latencies(seed, n).forEach((us, i) => {
      c.recordResponse(2, us, i % 10 === 0 ? 302 : 200, 100, i % 2 === 0 ? 'a' : 'b', i % 10 === 0, at((i % 5) + seed / 10));
      c.recordFlowRequest(i % 10 !== 0);
    });
    c.recordResponse(0, 1000 * seed, 200, 5, null, false, at(0));
    c.recordLogin(true);
    c.recordError(1, 'timeout', new Error(`t${seed}`), at(6));
    c.recordIteration(true);
    c.recordIteration(seed % 2 === 0);
  }

  it('sums counts and adds histograms: equals one collector that saw everything', () => {
    const a = new Collector(META, START);
    const b = new Collector(META, START);
    const all = new Collector(META, START);
    feed(a, 1, 3000);
    feed(b, 2, 1000);
    feed(all, 1, 3000);
    feed(all, 2, 1000);
    a.recordLoss(2, loss({ atMs: 300 }), at(0.3));
    b.recordLoss(2, loss({ atMs: 100 }), at(0.1));
    all.recordLoss(2, loss({ atMs: 300 }), at(0.3));
    all.recordLoss(2, loss({ atMs: 100 }), at(0.1));

    const merged = mergeSnapshots([a.snapshot(), b.snapshot()]);
    const whole = all.snapshot();
    const strip = (s: MetricsSnapshot) => ({
      ...s,
      steps: s.steps.map(({ hdr: _h, ...st }) => st),
      lossEvents: [...s.lossEvents].sort((x, y) => x.atMs - y.atMs),
      lastError: null,
    });
    expect(strip(merged)).toEqual(strip(whole));
    expect(merged.lossEvents.map((e) => e.atMs)).toEqual([100, 300]);
    expect(merged.lastError).toBe('timeout: t1');
    for (let i = 0; i < META.length; i++) {
      const { hdr: _m, ...sm } = summarize(decodeHistogram(merged.steps[i]!.hdr));
      const { hdr: _w, ...sw } = summarize(decodeHistogram(whole.steps[i]!.hdr));
      expect(sm).toEqual(sw);
    }
    expect(merged.steps[2]!.requests).toBe(4000);
    expect(merged.backends).toEqual({ a: 2000, b: 2000 });
  });

  it('a single snapshot is returned as is', () => {
    const s = sampleRun().snapshot();
    expect(mergeSnapshots([s])).toBe(s);
  });

  it('timelines of different lengths are added second by second', () => {
    const a = new Collector(META, START);
    const b = new Collector(META, START);
    a.recordResponse(2, 1, 200, 0, null, false, at(0));
    b.recordResponse(2, 1, 200, 0, null, true, at(3));
    expect(triples(mergeSnapshots([a.snapshot(), b.snapshot()]))).toEqual([
      [1, 0, 0],
      [0, 0, 0],
      [0, 0, 0],
      [1, 1, 0],
    ]);
  });

  it('caps merged loss events and keeps the dropped count exact', () => {
    const parts = [0, 1, 2].map((p) => {
      const c = new Collector(META, START);
      for (let i = 0; i < MAX_LOSS_EVENTS + 10; i++) c.recordLoss(2, loss({ atMs: i * 3 + p }), at(0));
      return c.snapshot();
    });
    const merged = mergeSnapshots(parts);
    expect(merged.losses).toBe(3 * (MAX_LOSS_EVENTS + 10));
    expect(merged.lossEvents).toHaveLength(MAX_LOSS_EVENTS);
    expect(merged.lossEventsDropped).toBe(3 * (MAX_LOSS_EVENTS + 10) - MAX_LOSS_EVENTS);
    expect(merged.lossEvents.map((e) => e.atMs)).toEqual(Array.from({ length: MAX_LOSS_EVENTS }, (_, i) => i));
  });
});

describe('toRunResult', () => {
  const info = (over: Partial<ResultInfo> = {}): ResultInfo => ({
    label: 'test',
    target: 'http://h.test',
    scenario: 'scenario.yaml',
    startedAt: '2030-01-01T00:00:00.000Z',
    durationMs: 4000,
    interrupted: false,
    stopReason: null,
    unusable: null,
    options: {
      concurrency: 2,
      requests: null,
      durationMs: 4000,
      rampUpMs: 0,
      thinkMs: 0,
      timeoutMs: 10_000,
      connections: 'per-vu',
      httpClient: 'builtin',
      rate: null,
      maxVus: null,
      workers: 1,
      users: 1,
      stages: [],
      sourceAddresses: [],
      tlsResumption: true,
    },
    meta: { replicas: 2 },
    tracked: true,
    ...over,
  });

  it('validates against RunResultSchema and carries the figures', () => {
    const r = toRunResult(sampleRun().snapshot(), info());
    const parsed = RunResultSchema.safeParse(r);
    expect(parsed.success, JSON.stringify(parsed.error?.issues)).toBe(true);
    expect(r.requests).toEqual({
      total: 6,
      ok: 4,
      failed: 2,
      non2xx: 3,
      byStatus: { '200': 2, '302': 2, '500': 1 },
      errors: { ...zeroErrors, reset: 1 },
      retries: 0,
      aborted: 0,
    });
    expect(r.throughput).toEqual({ rps: 1.5, bytesPerSec: 415 });
    expect(r.bytes.received).toBe(1660);
    expect(r.latency.count).toBe(5);
    expect(r.latency.min).toBe(1);
    expect(r.steps.map((s) => [s.name, s.requests, s.ok, s.failed, s.losses, s.latency.count])).toEqual([
      ['GET /login', 1, 1, 0, 0, 1],
      ['POST /login', 1, 1, 0, 0, 1],
      ['GET /home', 4, 2, 2, 1, 3],
    ]);
    expect(r.timeline.map(({ second, requests, failed, losses, logins, flowRequests, p50, p99 }) => ({ second, requests, failed, losses, logins, flowRequests, p50, p99 }))).toEqual([
      { second: 0, requests: 2, failed: 0, losses: 0, logins: 1, flowRequests: 0, p50: 1, p99: 2 },
      { second: 1, requests: 2, failed: 0, losses: 1, logins: 0, flowRequests: 2, p50: 3.001, p99: 4.001 },
      { second: 2, requests: 0, failed: 0, losses: 0, logins: 0, flowRequests: 0, p50: null, p99: null },
      { second: 3, requests: 2, failed: 2, losses: 0, logins: 0, flowRequests: 0, p50: 5.003, p99: 5.003 },
    ]);
    // The buckets add up to the totals.
    expect(r.timeline.reduce((a, b) => a + b.requests, 0)).toBe(r.requests.total);
    expect(r.timeline.reduce((a, b) => a + b.losses, 0)).toBe(r.session.losses);
    expect(r.session).toMatchObject({
      tracked: true,
      retention: 0.5,
      flowRetention: 0,
      flowRequests: 2,
      flowRequestsKept: 1,
      logins: 1,
      loginFailures: 1,
      losses: 1,
      lossEventsDropped: 0,
    });
    expect(r.droppedIterations).toBe(1);
    expect(r.backends).toEqual({ 'replica-1': 2, 'replica-2': 2 });
    expect(r.meta).toEqual({ replicas: 2 });
    expect(r.tool.name).toBe('session-bench');
  });

  it.each<[string, number, number, boolean, number | null]>([
    ['all kept', 10, 10, true, 1],
    ['three of four', 4, 3, true, 0.75],
    ['none kept', 5, 0, true, 0],
    ['nothing measured', 0, 0, true, null],
    ['not tracked', 10, 10, false, null],
  ])('retention: %s', (_name, total, kept, tracked, retention) => {
    const c = new Collector(META, START);
    for (let i = 0; i < total; i++) c.recordFlowRequest(i < kept);
    const r = toRunResult(c.snapshot(), info({ tracked }));
    expect(r.session.retention).toBe(retention);
    expect(r.session.tracked).toBe(tracked);
    expect(RunResultSchema.safeParse(r).success).toBe(true);
  });

  it.each<[string, number, number[], number]>([
    ['1000 requests in 4 s', 4000, Array<number>(1000).fill(200), 250],
    ['3 requests in 0.9 s', 900, [200, 200, 200], 3.33],
    ['zero duration', 0, [200], 0],
  ])('rps: %s', (_name, durationMs, statuses, rps) => {
    const c = new Collector(META, START);
    for (const s of statuses) c.recordResponse(2, 100, s, 0, null, false, at(0));
    expect(toRunResult(c.snapshot(), info({ durationMs })).throughput.rps).toBe(rps);
  });

  it.each<[string, number[], number]>([
    ['all 2xx', [200, 201, 204, 299], 0],
    ['redirects are non-2xx', [200, 301, 302], 2],
    ['1xx, 4xx and 5xx', [101, 404, 500, 200], 3],
  ])('non2xx: %s', (_name, statuses, non2xx) => {
    const c = new Collector(META, START);
    for (const s of statuses) c.recordResponse(2, 100, s, 0, null, false, at(0));
    c.recordError(2, 'refused', new Error('x'), at(0)); // no response: not a non-2xx response
    expect(toRunResult(c.snapshot(), info()).requests.non2xx).toBe(non2xx);
  });

  it('an empty run still validates', () => {
    const r = toRunResult(new Collector(META, START).snapshot(), info({ tracked: false, durationMs: 0 }));
    expect(RunResultSchema.safeParse(r).success).toBe(true);
    expect(r.requests.total).toBe(0);
    expect(r.latency.count).toBe(0);
    expect(r.session.retention).toBeNull();
    expect(r.session.flowRetention).toBeNull();
    expect(r.timeline.map((b) => b.requests)).toEqual([0]);
  });

  it('latency of a merged result equals the latency of one collector that saw everything', () => {
    const a = new Collector(META, START);
    const b = new Collector(META, START);
    const all = new Collector(META, START);
    for (let i = 0; i < 2000; i++) {
      const us = 50 + ((i * 7919) % 20_000);
      (i % 3 === 0 ? a : b).recordResponse(i % 3, us, 200, 0, null, false, at(0));
      all.recordResponse(i % 3, us, 200, 0, null, false, at(0));
    }
    const merged = toRunResult(mergeSnapshots([a.snapshot(), b.snapshot()]), info());
    const whole = toRunResult(all.snapshot(), info());
    expect(merged.latency).toEqual(whole.latency);
    expect(merged.steps.map((s) => s.latency)).toEqual(whole.steps.map((s) => s.latency));
  });
});
