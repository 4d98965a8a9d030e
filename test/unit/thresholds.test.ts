import { describe, expect, it } from 'vitest';
import { evaluateThresholds, parseThreshold, type Threshold } from '../../src/metrics/thresholds.js';
import type { RunResult } from '../../src/result/schema.js';
import { fakeResult } from '../helpers/fake-result.js';

describe('parseThreshold', () => {
  it.each([
    ['p99<200ms', { metric: 'p99', op: '<', value: 200 }],
    ['p95 <= 1.5s', { metric: 'p95', op: '<=', value: 1500 }],
    ['p99.9<300', { metric: 'p99.9', op: '<', value: 300 }],
    ['retention>=99%', { metric: 'retention', op: '>=', value: 0.99 }],
    ['retention >= 0.995', { metric: 'retention', op: '>=', value: 0.995 }],
    ['flowRetention>0.9', { metric: 'flow_retention', op: '>', value: 0.9 }],
    ['failed<1%', { metric: 'failed', op: '<', value: 0.01, asShareOfRequests: true }],
    ['losses==0', { metric: 'losses', op: '==', value: 0 }],
    ['rps>=500', { metric: 'rps', op: '>=', value: 500 }],
  ])('%s', (text, want) => {
    const t = parseThreshold(text);
    expect(typeof t).toBe('object');
    expect(t).toMatchObject(want);
  });

  it.each([
    ['p99 200ms', /expected METRIC OP VALUE/],
    ['latency<200', /unknown metric "latency"/],
    ['p99<5%', /latency takes ms or s/],
    ['retention>=150%', /at most 1/],
    ['rps>10ms', /plain number/],
  ])('rejects %s', (text, message) => {
    expect(parseThreshold(text)).toMatch(message);
  });
});

describe('evaluateThresholds', () => {
  const t = (s: string): Threshold => parseThreshold(s) as Threshold;
  it('passes and fails against measured figures', () => {
    const base = fakeResult();
    const r: RunResult = {
      ...base,
      requests: { ...base.requests, total: 1000, failed: 5 },
      latency: { ...base.latency, p99: 120 },
      session: { ...base.session, tracked: true, retention: 0.5, losses: 10 },
    };
    const out = evaluateThresholds(r, [t('p99<200ms'), t('p99<100ms'), t('retention>=99%'), t('failed<1%'), t('failed<=4'), t('losses==0')]);
    expect(out.map((o) => o.ok)).toEqual([true, false, false, true, false, false]);
    expect(out[3]!.actual).toBeCloseTo(0.005);
    expect(out[3]!.unit).toBe('ratio');
  });

  it('fails a threshold on a figure that was not measured', () => {
    const base = fakeResult();
    const r: RunResult = { ...base, session: { ...base.session, tracked: false, retention: null } };
    expect(evaluateThresholds(r, [t('retention>=0.99')])).toEqual([{ expression: 'retention>=0.99', ok: false, unit: 'ratio', actual: null }]);
  });
});
