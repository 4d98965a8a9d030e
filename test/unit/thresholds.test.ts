/** Thresholds, table-driven: every metric, each operator, limits passing and failing, scopes, bad input. */
import { describe, expect, it } from 'vitest';
import { brokenAbortThreshold, evaluateThresholds, isAbortable, parseThreshold, unknownSteps, type Threshold } from '../../src/metrics/thresholds.js';
import type { RunResult } from '../../src/result/schema.js';
import { fakeResult, latencyOf, step } from '../helpers/fake-result.js';

const t = (s: string, abort = false): Threshold => {
  const x = parseThreshold(s, abort);
  if (typeof x === 'string') throw new Error(x);
  return x;
};

/** A run with known figures: 1000 requests, 10 failed (4 errors), p99 120 ms, 50 of 900 flow requests lost, 5 of 20 users. */
function known(): RunResult {
  const r = fakeResult({
    requests: { total: 1000, ok: 990, failed: 10, errors: { refused: 1, reset: 1, timeout: 2, tls: 0, dns: 0, invalid: 0, local: 0, other: 0 } },
    latency: latencyOf([...Array.from({ length: 98 }, () => 10), 120, 120]),
    throughput: { rps: 400, bytesPerSec: 1 },
    options: { rate: 50 },
    droppedIterations: 7,
    backends: { 'replica-1': 600, 'replica-2': 390 },
    steps: [step({ name: 'GET /owners', requests: 500, failed: 3, losses: 20, latency: latencyOf([5, 5, 5, 300]) }), step({ name: 'GET /home', requests: 500 })],
    session: { retention: 0.95, flowRetention: 0.9, losses: 50, flowRequests: 900, flowRequestsKept: 850, loginFailures: 2, silentRegenerations: 3 },
  });
  r.session.users = { total: 20, loggedIn: 20, affected: 5, maxLosses: 3, lossesPerUser: {}, byLoginBackend: { 'replica-1': { users: 10, affected: 5 }, 'replica-2': { users: 10, affected: 0 } } };
  r.session.attribution.lossesByBackend = { 'replica-2': 50 };
  return r;
}

describe('thresholds on a run with known figures', () => {
  const r = known();
  // [expression, passes]: each metric with a limit it meets and one it does not, across the operators.
  it.each<[string, boolean]>([
    ['p99<200ms', true],
    ['p99<100ms', false],
    ['p99<=0.2s', true],
    ['p50==10', false], // HDR buckets: 10 ms reads 10.007
    ['p50>9.9', true],
    ['mean<20', true],
    ['max>=150', false],
    ['min>0', true],
    ['rps>=400', true],
    ['rps>400', false],
    ['retention>=95%', true],
    ['retention>0.95', false],
    ['flow_retention>=0.9', true],
    ['flowRetention!=0.9', false],
    ['failed<=10', true],
    ['failed<10', false],
    ['failed<1.5%', true],
    ['failed<1%', false],
    ['errors==4', true],
    ['errors<0.3%', false],
    ['losses<=50', true],
    ['losses==0', false],
    ['losses<6%', true], // 50 of 900 logged-in requests
    ['users_affected<=5', true],
    ['users_affected<25%', false],
    ['users_affected<=25%', true],
    ['regenerations==3', true],
    ['login_failures==0', false],
    ['dropped_iterations<10', true],
    ['dropped_iterations<5', false],
    ['requests>=1000', true],
    ['p99{step:"GET /owners"}<200ms', false],
    ['p99{step:"GET /owners"}<400ms', true],
    ['failed{step:"GET /owners"}<=3', true],
    ['losses{step:"GET /owners"}<5%', true], // 20 of its 500 requests
    ['losses{step:"GET /owners"}<=19', false],
    ["p99{step:'GET /home'}<1", false], // no responses there: not measured
    ['losses{backend:"replica-2"}==0', false],
    ['losses{backend:"replica-1"}==0', true],
    ['requests{backend:"replica-1"}>=600', true],
    ['users_affected{backend:"replica-1"}<50%', false],
    ['users_affected{backend:"replica-2"}==0', true],
    ['losses{backend:"replica-9"}==0', false], // never answered: not measured
  ])('%s: %s', (expression, passes) => {
    const [out] = evaluateThresholds(r, [t(expression)]);
    expect(out!.ok).toBe(passes);
    expect(out!.expression).toBe(expression);
  });

  it('a figure that was not measured fails, with actual null: no responses, no login, no rate', () => {
    const empty = fakeResult({ requests: { total: 0, ok: 0, failed: 0, byStatus: {} }, latency: latencyOf([]), session: { tracked: false, retention: null, flowRetention: null } });
    const out = evaluateThresholds(empty, ['p99<200ms', 'retention>=0.99', 'losses==0', 'users_affected==0', 'dropped_iterations==0', 'failed<1%'].map((e) => t(e)));
    expect(out.map((o) => [o.ok, o.actual])).toEqual(Array.from({ length: 6 }, () => [false, null]));
  });

  it('units: ms, ratio (also a count as a share), count, rate', () => {
    expect(evaluateThresholds(r, [t('p99<1s'), t('retention>0.5'), t('failed<2%'), t('losses<100'), t('rps>1')]).map((o) => o.unit)).toEqual(['ms', 'ratio', 'ratio', 'count', 'rate']);
  });
});

describe('parseThreshold refuses, naming the expression and the valid metrics', () => {
  it.each([
    ['p99 200ms', /expected METRIC OP VALUE .*\(metrics: mean/],
    ['latency<200', /unknown metric "latency" in "latency<200" \(metrics: .*p99\{step\}.*users_affected\{backend\}/],
    ['p99<5%', /latency takes ms or s/],
    ['retention>=150%', /at most 1/],
    ['rps>10ms', /plain number/],
    ['retention{step:"GET /"}>0.9', /retention has no per-step figure \(per step: .*p99/],
    ['p99{backend:"a"}<1', /p99 has no per-backend figure \(per backend: requests, losses, users_affected\)/],
    ['p99{host:"a"}<1', /per step or per backend/],
    ['p99{step:""}<1', /name the step/],
    ['requests{backend:"a"}<5%', /is a count, not a percentage/],
  ])('%s', (text, message) => {
    expect(parseThreshold(text)).toMatch(message);
  });

  it('abortOnFail only on a growing count of the run, bounded from above', () => {
    expect(t('losses==0', true).abortOnFail).toBe(true);
    expect(t('failed<100', true).abortOnFail).toBe(true);
    for (const e of ['p99<200ms', 'retention>=99%', 'failed<1%', 'losses>5', 'losses{backend:"a"}==0']) {
      expect(parseThreshold(e, true)).toMatch(/abortOnFail needs a count of the whole run that can only grow/);
      expect(isAbortable(t(e))).toBe(false);
    }
  });

  it('a step name the scenario does not have is found before the run', () => {
    expect(unknownSteps([t('p99{step:"GET /owners"}<1'), t('p99{step:"GET /nope"}<1'), t('p99<1')], ['GET /owners'])).toEqual(['p99{step:"GET /nope"}<1']);
  });
});

describe('abortOnFail on live counts', () => {
  const live = { failed: 0, errors: 0, losses: 0, usersAffected: 0, regenerations: 0, loginFailures: 0, droppedIterations: 0 };
  it.each<[string, Partial<typeof live>, boolean]>([
    ['losses==0', { losses: 0 }, false],
    ['losses==0', { losses: 1 }, true],
    ['failed<100', { failed: 99 }, false],
    ['failed<100', { failed: 100 }, true],
    ['users_affected<=2', { usersAffected: 3 }, true],
    ['dropped_iterations<=10', { droppedIterations: 10 }, false],
  ])('%s with %j: broken %s', (expression, counts, broken) => {
    const th = t(expression, true);
    expect(brokenAbortThreshold({ ...live, ...counts }, [th])).toBe(broken ? th : null);
  });

  it('thresholds without abortOnFail never stop a run', () => {
    expect(brokenAbortThreshold({ ...live, losses: 5 }, [t('losses==0')])).toBeNull();
  });
});
