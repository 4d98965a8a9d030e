/** The baseline regression check, table-driven: each figure passing and failing at its limit. */
import { describe, expect, it } from 'vitest';
import { checkRegression, DEFAULT_LIMITS, parseRegressionLimits, regressed } from '../../src/metrics/regression.js';
import type { RunResult } from '../../src/result/schema.js';
import { fakeResult, latencyOf } from '../helpers/fake-result.js';

function run(o: { rps?: number; latency?: number[]; failed?: number; retention?: number | null; affected?: number; tracked?: boolean }): RunResult {
  const r = fakeResult({
    throughput: { rps: o.rps ?? 1000, bytesPerSec: 1 },
    latency: latencyOf(o.latency ?? [10, 20, 100]),
    requests: { total: 1000, ok: 1000 - (o.failed ?? 0), failed: o.failed ?? 0 },
    session: o.tracked === false ? { tracked: false, retention: null, flowRetention: null } : { retention: o.retention ?? 1 },
  });
  r.session.users = { total: 20, loggedIn: 20, affected: o.affected ?? 0, maxLosses: 0, lossesPerUser: {}, byLoginBackend: {} };
  return r;
}
const check = (b: RunResult, a: RunResult, figure: string, limits = DEFAULT_LIMITS) => checkRegression(b, a, limits).find((c) => c.figure === figure)!;

describe('checkRegression', () => {
  const base = run({});
  it.each<[string, Parameters<typeof run>[0], boolean, number]>([
    ['rps', { rps: 905 }, true, -9.5],
    ['rps', { rps: 880 }, false, -12],
    ['rps', { rps: 2000 }, true, 100],
    ['p99', { latency: [10, 20, 109] }, true, 9],
    ['p99', { latency: [10, 20, 130] }, false, 30],
    ['p95', { latency: [10, 20, 50] }, true, -50],
    ['error_rate', { failed: 10 }, true, 1],
    ['error_rate', { failed: 11 }, false, 1.1],
    ['retention', { retention: 0.999 }, true, -0.1],
    ['retention', { retention: 0.998 }, false, -0.2],
    ['users_affected', { affected: 0 }, true, 0],
    ['users_affected', { affected: 1 }, false, 5],
  ])('%s with %j: ok %s, change %d', (figure, current, ok, change) => {
    const c = check(base, run(current), figure);
    expect(c.ok).toBe(ok);
    expect(c.change!).toBeCloseTo(change, 0);
    expect(c.unit).toBe(['rps', 'p95', 'p99'].includes(figure) ? 'percent' : 'pp');
    if (!ok) expect(c.note).toMatch(/more than the limit of/);
  });

  it('a figure measured in the baseline but not in this run fails; one measured in neither passes', () => {
    const untracked = run({ tracked: false });
    expect(check(base, untracked, 'retention')).toMatchObject({ ok: false, note: 'not measured in this run' });
    expect(check(untracked, untracked, 'retention')).toMatchObject({ ok: true, note: 'not measured in either run' });
    expect(regressed(checkRegression(base, base))).toBe(false);
  });

  it('limits per figure, and for every relative or every pp figure at once', () => {
    const { limits, problems } = parseRegressionLimits(['20%', 'retention=0.5pp', 'users_affected=10pp']);
    expect(problems).toEqual([]);
    expect(limits).toEqual({ rps: 20, p95: 20, p99: 20, error_rate: 1, retention: 0.5, users_affected: 10 });
    expect(check(base, run({ rps: 880 }), 'rps', limits).ok).toBe(true);
    expect(check(base, run({ affected: 1 }), 'users_affected', limits).ok).toBe(true);
  });

  it.each([
    ['fast', /expected a limit such as 10%/],
    ['latency=10%', /unknown figure "latency"/],
    ['retention=10%', /retention is compared in percentage points: write it as retention=10pp/],
    ['p99=2pp', /p99 is compared relatively: write it as p99=2%/],
  ])('refuses %s', (spec, message) => {
    expect(parseRegressionLimits([spec]).problems.join('\n')).toMatch(message);
  });
});
