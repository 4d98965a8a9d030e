/**
 * The pure parts of operations during a run: load shapes, event windows, the report's timeline and event
 * blocks, the lab's log filter, and reading a backend or a session id from cookies.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { labLogFilter, WARNINGS_PER_SECOND } from '../../src/cli/lab.js';
import { RateSchedule, stageValue } from '../../src/engine/executors/stages.js';
import { backendFromSetCookies, deletesCookie, sessionIdPart, sessionRoute, SESSION_ID_COOKIES } from '../../src/engine/session.js';
import { eventWindows, windowFigures } from '../../src/metrics/windows.js';
import { createLatencyHistogram, encodeHistogram } from '../../src/metrics/histogram.js';
import { eventsBlock, timelineBlock } from '../../src/reporters/operations.js';
import { formatEventNotice } from '../../src/reporters/progress.js';
import { createStyle } from '../../src/reporters/style.js';
import type { RunEvent, TimelineBucket } from '../../src/result/schema.js';
import { parseEventFlag, parseStage } from '../../src/scenario/values.js';
import { fakeResult } from '../helpers/fake-result.js';

const plain = createStyle(false);

describe('stageValue', () => {
  const stages = [
    { durationMs: 1000, target: 10 },
    { durationMs: 2000, target: 10 },
    { durationMs: 1000, target: 0 },
  ];
  it.each([
    [0, 0],
    [500, 5],
    [1000, 10],
    [2999, 10],
    [3500, 5],
    [4000, 0],
    [9000, 0],
  ])('at %d ms: %d', (t, v) => expect(stageValue(stages, 0, t)).toBeCloseTo(v, 9));
});

describe('RateSchedule', () => {
  it('a constant rate: iteration k is due at k / rate', () => {
    const s = new RateSchedule(200, []);
    expect([0, 1, 2, 200].map((k) => s.dueMs(k))).toEqual([0, 5, 10, 1000]);
    expect(s.dueBy(1000)).toBe(201);
    expect(s.dueBy(999)).toBe(200);
  });

  it('a ramp from 10/s to 90/s over 3 s has 150 iterations due in it', () => {
    const s = new RateSchedule(10, [{ durationMs: 3000, target: 90 }]);
    expect(s.dueBy(2999.999)).toBe(150);
    expect(s.dueMs(150)).toBeCloseTo(3000, 6);
    // After the last stage the last rate goes on: 90/s.
    expect(s.dueMs(159) - s.dueMs(150)).toBeCloseTo(100, 6);
  });

  it('a ramp down to 0 never has another iteration', () => {
    const s = new RateSchedule(100, [{ durationMs: 1000, target: 0 }]);
    expect(s.dueBy(5000)).toBe(51);
    expect(s.dueMs(51)).toBe(Number.POSITIVE_INFINITY);
  });

  it('due times rise with k, and dueBy counts exactly the iterations due by then (any stages)', () => {
    const stage = fc.record({ durationMs: fc.integer({ min: 0, max: 5000 }), target: fc.integer({ min: 0, max: 500 }) });
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 500 }), fc.array(stage, { maxLength: 4 }), fc.constantFrom(1, 0.5, 1 / 3), (rate, stages, share) => {
        const s = new RateSchedule(rate, stages, share);
        let last = -1;
        for (let k = 0; k < 300; k++) {
          const due = s.dueMs(k);
          if (!Number.isFinite(due)) break;
          expect(due).toBeGreaterThanOrEqual(last - 1e-6);
          last = due;
          // k + 1 iterations (0..k) are due at k's due time (to rounding).
          expect(Math.abs(s.dueBy(due + 1e-6) - (k + 1))).toBeLessThanOrEqual(1);
        }
      }),
      { seed: 20261201, numRuns: 200 },
    );
  });
});

const bucket = (second: number, over: Partial<TimelineBucket> = {}): TimelineBucket => ({
  second,
  requests: 100,
  failed: 0,
  losses: 0,
  errors: 0,
  logins: 0,
  loginFailures: 0,
  flowRequests: 100,
  flowRequestsKept: 100,
  regenerations: 0,
  droppedIterations: 0,
  activeVus: 10,
  p50: 1,
  p99: 2,
  hdr: '',
  backends: {},
  ...over,
});

describe('event windows', () => {
  const hdrOf = (...us: number[]): string => {
    const h = createLatencyHistogram();
    for (const v of us) h.recordValue(v);
    return encodeHistogram(h);
  };
  const timeline = [
    bucket(0, { hdr: hdrOf(1000) }),
    bucket(1, { hdr: hdrOf(1000) }),
    bucket(2, { losses: 10, flowRequestsKept: 90, hdr: hdrOf(50_000) }),
    bucket(3, { failed: 50, hdr: hdrOf(2000) }),
    bucket(4),
    bucket(5),
  ];

  it('before, during (start to end second, inclusive), after; figures from the seconds added together', () => {
    const w = eventWindows(timeline, [{ startedMs: 2100, endedMs: 3500 }], 0);
    expect(w.before).toMatchObject({ fromSecond: 0, toSecond: 2, requests: 200, rps: 100, errorRate: 0, retention: 1, losses: 0 });
    expect(w.before!.p99).toBeCloseTo(1, 1);
    expect(w.during).toMatchObject({ fromSecond: 2, toSecond: 4, requests: 200, errorRate: 0.25, retention: 0.95, losses: 10 });
    expect(w.during!.p99).toBeCloseTo(50, 0);
    expect(w.after).toMatchObject({ fromSecond: 4, toSecond: 6, requests: 200, retention: 1 });
  });

  it('with several events, "before" starts after the previous one and "after" ends at the next one', () => {
    const events = [
      { startedMs: 1000, endedMs: 1200 },
      { startedMs: 4000, endedMs: null },
    ];
    expect(eventWindows(timeline, events, 0).after).toMatchObject({ fromSecond: 2, toSecond: 4 });
    const second = eventWindows(timeline, events, 1);
    expect(second.before).toMatchObject({ fromSecond: 2, toSecond: 4 });
    // Still running at the end: "during" reaches the end of the run, nothing is after it.
    expect(second.during).toMatchObject({ fromSecond: 4, toSecond: 6 });
    expect(second.after).toBeNull();
  });

  it('an event that never started has no windows; an empty window is null', () => {
    expect(eventWindows(timeline, [{ startedMs: null, endedMs: null }], 0)).toEqual({ before: null, during: null, after: null });
    expect(windowFigures(timeline, 3, 3)).toBeNull();
    expect(windowFigures([bucket(0, { requests: 0, flowRequests: 0, flowRequestsKept: 0 })], 0, 1)).toMatchObject({ errorRate: null, retention: null, p99: null });
  });
});

const event = (over: Partial<RunEvent> = {}): RunEvent => ({
  atMs: 2000,
  command: 'kubectl rollout restart deploy/app',
  status: 'ok',
  startedMs: 2000.4,
  endedMs: 3900,
  exitCode: 0,
  signal: null,
  output: '',
  stopOnFailure: false,
  windows: { before: null, during: null, after: null },
  ...over,
});

describe('report blocks', () => {
  it('the timeline marks the events and the second the losses began, and adds seconds when the run is long', () => {
    const r = fakeResult({
      timeline: [bucket(0), bucket(1), bucket(2), bucket(3, { losses: 4, flowRequestsKept: 96 }), bucket(4)],
      events: [event({ startedMs: 2500, endedMs: 3200 })],
    });
    const lines = timelineBlock(r, plain).split('\n');
    expect(lines[0]).toBe('Timeline (1 second per row; the bar is requests/s)');
    expect(lines.find((l) => l.trimStart().startsWith('2s'))).toContain('▶ event 1 at 2.5s');
    const third = lines.find((l) => l.trimStart().startsWith('3s'))!;
    expect(third).toContain('96.00%');
    expect(third).toContain('■ event 1 done at 3.2s');
    expect(third).toContain('◀ losses begin');
    const long = fakeResult({ timeline: Array.from({ length: 95 }, (_, i) => bucket(i)) });
    const longLines = timelineBlock(long, plain).split('\n');
    expect(longLines[0]).toContain('4 seconds per row');
    expect(longLines.length).toBeLessThanOrEqual(2 + 30);
  });

  it('an event: its command, how it ended, and the three windows', () => {
    const w = { fromSecond: 0, toSecond: 2, requests: 200, rps: 100, errorRate: 0, retention: 1, losses: 0, p99: 2 };
    const r = fakeResult({
      events: [
        event({ windows: { before: w, during: { ...w, fromSecond: 2, toSecond: 4, losses: 7, retention: 0.93 }, after: null } }),
        event({ status: 'failed', exitCode: 1, output: 'error: deployments.apps "app" not found\n', stopOnFailure: true }),
      ],
    });
    const text = eventsBlock(r, plain);
    expect(text).toContain('1. at 2.0s: kubectl rollout restart deploy/app');
    expect(text).toContain('ok, exit 0; ran 2.0s-3.9s (1.90s)');
    expect(text).toMatch(/during\s+2-4s\s+100\s+0\.00%\s+93\.00%\s+7\s+2\.00 ms/);
    expect(text).toMatch(/after\s+-/);
    expect(text).toContain('FAILED, exit 1; ran 2.0s-3.9s (1.90s); the run was stopped');
    expect(text).toContain('output: error: deployments.apps "app" not found');
  });

  it('event notices for the progress output', () => {
    expect(formatEventNotice({ kind: 'started', index: 0, record: event() })).toBe('[   2.0s] event 1 started: kubectl rollout restart deploy/app');
    expect(formatEventNotice({ kind: 'ended', index: 0, record: event() })).toBe('[   3.9s] event 1 ended: exit 0 after 1.9s');
    expect(formatEventNotice({ kind: 'ended', index: 1, record: event({ status: 'failed', exitCode: 2, output: 'a\nboom\n' }) })).toBe('[   3.9s] event 2 FAILED: exit 2 after 1.9s: boom');
  });
});

describe('flag values', () => {
  it.each([
    ['30s:20', { durationMs: 30_000, target: 20 }],
    ['1m:0', { durationMs: 60_000, target: 0 }],
    [' 500ms : 200/s ', { durationMs: 500, target: 200 }],
  ])('--stage %s', (text, stage) => expect(parseStage(text)).toEqual(stage));

  it('--at keeps every "=" after the first in the command', () => {
    expect(parseEventFlag('20s=kubectl set env deploy/app A=1')).toEqual({ atMs: 20_000, command: 'kubectl set env deploy/app A=1' });
  });
});

describe('cookies', () => {
  const keep = new Set(['LAB_AFFINITY']);
  it.each([
    [['SERVERID=web2; Path=/'], { backend: 'web2', source: { kind: 'affinity-cookie', name: 'SERVERID' } }],
    [['LAB_AFFINITY=replica-1; Path=/'], { backend: 'replica-1', source: { kind: 'affinity-cookie', name: 'LAB_AFFINITY' } }],
    [['BIGipServerpool_app=1677787402.36895.0000'], { backend: '1677787402.36895.0000', source: { kind: 'affinity-cookie', name: 'BIGipServerpool_app' } }],
    [['JSESSIONID=8F2AC1D09E7B4A61.node2; Path=/'], { backend: 'node2', source: { kind: 'session-route', name: 'JSESSIONID' } }],
    [['JSESSIONID=8F2AC1D09E7B4A61; Path=/'], null],
    // AWSALB's value is re-encrypted on every answer: not a backend identity.
    [['AWSALB=Zm9vYmFyYmF6; Path=/'], null],
    [['SERVERID=; Max-Age=0'], null],
  ])('%j -> %j', (setCookies, expected) => {
    expect(backendFromSetCookies(setCookies, keep, SESSION_ID_COOKIES, Date.now())).toEqual(expected);
  });

  it('a session id without its route is the same session moved', () => {
    expect(sessionRoute('ABCDEF0123456789.node1')).toBe('node1');
    expect(sessionIdPart('ABCDEF0123456789.node1')).toBe(sessionIdPart('ABCDEF0123456789.node2'));
    expect(sessionRoute('a.b')).toBeNull();
  });

  it('only JSESSIONID carries a route: a signed connect.sid is no backend name', () => {
    expect(backendFromSetCookies(['connect.sid=s%3AJ1xAbCdEfGh.sig; Path=/'], keep, SESSION_ID_COOKIES, Date.now())).toBeNull();
  });

  it.each([
    ['SID=; Path=/', '', true],
    ['SID=x; Max-Age=0', 'x', true],
    ['SID=x; Expires=Thu, 01 Jan 1970 00:00:00 GMT', 'x', true],
    ['SID=x; Max-Age=3600', 'x', false],
  ])('%s deletes the cookie: %s', (text, value, deletes) => expect(deletesCookie(text, value, Date.now())).toBe(deletes));
});

describe("lab's log filter", () => {
  it(`prints control actions, errors and at most ${WARNINGS_PER_SECOND} warnings a second, then counts the rest`, () => {
    const out: string[] = [];
    let now = 10_000;
    const log = labLogFilter('warnings', (l) => out.push(l), () => now);
    log('replica-1 INFO  Started on port 5000 (pid 1)');
    log('lab       INFO  Restarting replica-1: draining it');
    log('replica-1 INFO  User \'admin\' logged in successfully');
    for (let i = 0; i < 50; i++) log(`replica-2 WARN  Session not found for request GET /owners/${i}`);
    log('replica-2 ERROR boom');
    now += 1000;
    log.flush();
    expect(out[0]).toContain('Started on port');
    expect(out[1]).toContain('Restarting replica-1');
    expect(out.filter((l) => l.includes('Session not found'))).toHaveLength(WARNINGS_PER_SECOND);
    expect(out).toContain('replica-2 ERROR boom');
    expect(out[out.length - 1]).toBe(`lab       WARN  ... and ${50 - WARNINGS_PER_SECOND} more warnings in that second (--log-requests prints them all)`);
    expect(out.some((l) => l.includes('logged in successfully'))).toBe(false);
  });

  it('-q: only control actions and errors; --log-requests: everything', () => {
    const quiet: string[] = [];
    const q = labLogFilter('quiet', (l) => quiet.push(l));
    q('replica-2 WARN  Session not found');
    q('lab       INFO  Scaling from 2 to 3 replicas');
    expect(quiet).toEqual(['lab       INFO  Scaling from 2 to 3 replicas']);
    const all: string[] = [];
    const a = labLogFilter('all', (l) => all.push(l));
    a('replica-1 INFO  GET /owners 200 1.2ms');
    expect(all).toEqual(['replica-1 INFO  GET /owners 200 1.2ms']);
  });
});
