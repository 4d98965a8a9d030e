import { describe, it, expect } from 'vitest';
import {
  createLatencyHistogram,
  decodeHistogram,
  encodeHistogram,
  meanAndStdev,
  mergeEncoded,
  percentileMs,
  summarize,
  type Histogram,
} from '../../src/metrics/histogram.js';
import { LatencySummarySchema, type LatencySummary } from '../../src/result/schema.js';

/** mulberry32: a small seeded PRNG, uniform in [0, 1). */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Dist = (rnd: () => number) => number;
/** Latency distributions in integer microseconds (at least 1 µs). */
const DISTS: Record<string, Dist> = {
  'uniform 1 µs .. 50 ms': (r) => 1 + Math.floor(r() * 50_000),
  'exponential, mean 2 ms': (r) => Math.max(1, Math.round(-Math.log(1 - r()) * 2000)),
  'bimodal 300 µs / 80 ms': (r) =>
    r() < 0.9 ? 250 + Math.floor(r() * 100) : 60_000 + Math.floor(r() * 40_000),
  'sub-millisecond 1..999 µs': (r) => 1 + Math.floor(r() * 999),
  'heavy tail up to 30 s': (r) => Math.max(1, Math.min(30_000_000, Math.round(100 / Math.pow(1 - r(), 1.5)))),
};

const N = 50_000;
function sample(dist: Dist, seed: number, n = N): number[] {
  const rnd = mulberry32(seed);
  return Array.from({ length: n }, () => dist(rnd));
}
function histogramOf(values: readonly number[]): Histogram {
  const h = createLatencyHistogram();
  for (const v of values) h.recordValue(v);
  return h;
}
/** Nearest-rank quantile of sorted values. */
function exactQuantile(sorted: readonly number[], p: number): number {
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length - 1e-9));
  return sorted[rank - 1]!;
}

const PERCENTILES: [Exclude<keyof LatencySummary, 'hdr'>, number][] = [
  ['p50', 50],
  ['p66', 66],
  ['p75', 75],
  ['p80', 80],
  ['p90', 90],
  ['p95', 95],
  ['p98', 98],
  ['p99', 99],
  ['p999', 99.9],
];

/** |got - exact| within 0.1 % of exact plus 1 µs (values in ms). */
function expectClose(gotMs: number, exactUs: number, what: string): void {
  const exactMs = exactUs / 1000;
  const tolerance = exactMs * 0.001 + 0.001;
  expect(Math.abs(gotMs - exactMs), `${what}: got ${gotMs} ms, exact ${exactMs} ms`).toBeLessThanOrEqual(tolerance + 1e-9);
}

describe('summarize: percentiles against exact quantiles', () => {
  it.each(Object.entries(DISTS).map(([name, dist], i) => [name, dist, 1000 + i] as const))(
    '%s',
    (_name, dist, seed) => {
      const values = sample(dist, seed);
      const sorted = [...values].sort((a, b) => a - b);
      const s = summarize(histogramOf(values));
      expect(LatencySummarySchema.safeParse(s).success).toBe(true);
      expect(s.count).toBe(N);
      for (const [key, p] of PERCENTILES) expectClose(s[key], exactQuantile(sorted, p), key);
      expectClose(s.min, sorted[0]!, 'min');
      expectClose(s.max, sorted[sorted.length - 1]!, 'max');
      const mean = values.reduce((a, b) => a + b, 0) / values.length;
      expectClose(s.mean, mean, 'mean');
      expect(s.p50).toBeLessThanOrEqual(s.p90);
      expect(s.p90).toBeLessThanOrEqual(s.p99);
      expect(s.p99).toBeLessThanOrEqual(s.p999);
      expect(s.p999).toBeLessThanOrEqual(s.max);
      expect(percentileMs(histogramOf(values), 99)).toBe(s.p99);
    },
  );

  it('is exact below 2 ms (unit resolution in microseconds)', () => {
    const s = summarize(histogramOf([100, 200, 300, 400, 1999]));
    expect([s.min, s.p50, s.p80, s.max]).toEqual([0.1, 0.3, 0.4, 1.999]);
  });

  it('an empty histogram summarises as zeros', () => {
    const s = summarize(createLatencyHistogram());
    expect(LatencySummarySchema.safeParse(s).success).toBe(true);
    expect({ ...s, hdr: '' }).toEqual({
      count: 0, mean: 0, stdev: 0, min: 0, max: 0, p50: 0, p66: 0, p75: 0, p80: 0, p90: 0, p95: 0, p98: 0, p99: 0, p999: 0, hdr: '',
    });
    expect(percentileMs(createLatencyHistogram(), 99)).toBe(0);
  });

  it('records values beyond the configured maximum (auto-resize) without throwing', () => {
    const h = histogramOf([1, 120_000_000]);
    expect(h.totalCount).toBe(2);
    expectClose(summarize(h).max, 120_000_000, 'max');
  });
});

describe('meanAndStdev', () => {
  it.each(Object.entries(DISTS))('%s: equals hdr-histogram-js mean and stdDeviation, and the exact ones within 0.1 %%', (_name, dist) => {
    const values = sample(dist, 7, 20_000);
    const h = histogramOf(values);
    const { mean, stdev } = meanAndStdev(h);
    expect(mean).toBeCloseTo(h.mean, 6);
    expect(stdev).toBeCloseTo(h.stdDeviation, 6);
    const exactMean = values.reduce((a, v) => a + v, 0) / values.length;
    const exactStdev = Math.sqrt(values.reduce((a, v) => a + (v - exactMean) ** 2, 0) / values.length);
    expect(Math.abs(mean - exactMean)).toBeLessThanOrEqual(exactMean * 0.001 + 1);
    expect(Math.abs(stdev - exactStdev)).toBeLessThanOrEqual(exactStdev * 0.001 + 1);
  });

  it('a decoded (merged) histogram and an empty one', () => {
    const h = histogramOf(sample(DISTS['bimodal 300 µs / 80 ms']!, 3, 5000));
    const back = decodeHistogram(encodeHistogram(h));
    expect(meanAndStdev(back)).toEqual(meanAndStdev(h));
    expect(meanAndStdev(createLatencyHistogram())).toEqual({ mean: 0, stdev: 0 });
  });
});

describe('encodeHistogram / decodeHistogram', () => {
  it.each(Object.entries(DISTS).map(([name, dist], i) => [name, dist, 2000 + i] as const))(
    'round trip keeps counts and percentiles: %s',
    (_name, dist, seed) => {
      const h = histogramOf(sample(dist, seed, 10_000));
      const encoded = encodeHistogram(h);
      expect(typeof encoded).toBe('string');
      const back = decodeHistogram(encoded);
      expect(back.totalCount).toBe(h.totalCount);
      const { hdr: _a, max: maxA, ...sa } = summarize(h);
      const { hdr: _b, max: maxB, ...sb } = summarize(back);
      expect(sb).toEqual(sa);
      // The encoding keeps bucket counts, not the exact max: after decoding, max is the top of its bucket.
      expect(maxB).toBeGreaterThanOrEqual(maxA);
      expectClose(maxB, h.maxValue, 'max');
      for (const p of [1, 10, 33.3, 50, 90, 99, 99.99, 100]) expect(back.getValueAtPercentile(p)).toBe(h.getValueAtPercentile(p));
      expect(encodeHistogram(back)).toBe(encoded);
    },
  );

  it('the summary carries its own encoding', () => {
    const h = histogramOf([5, 10, 15]);
    expect(decodeHistogram(summarize(h).hdr).totalCount).toBe(3);
  });
});

describe('mergeEncoded', () => {
  it.each([
    ['uniform + exponential', 'uniform 1 µs .. 50 ms', 'exponential, mean 2 ms'],
    ['bimodal + sub-millisecond', 'bimodal 300 µs / 80 ms', 'sub-millisecond 1..999 µs'],
    ['heavy tail + uniform', 'heavy tail up to 30 s', 'uniform 1 µs .. 50 ms'],
  ] as const)('equals one histogram of the union: %s', (_name, d1, d2) => {
    const a = sample(DISTS[d1]!, 11, 20_000);
    const b = sample(DISTS[d2]!, 12, 5_000);
    const merged = mergeEncoded([encodeHistogram(histogramOf(a)), encodeHistogram(histogramOf(b))]);
    const union = histogramOf([...a, ...b]);
    expect(merged.totalCount).toBe(a.length + b.length);
    const { hdr: _m, ...sm } = summarize(merged);
    const { hdr: _u, max: maxU, ...su } = summarize(union);
    expect({ ...sm, max: 0 }).toEqual({ ...su, max: 0 });
    // Exactly what the union gives once encoded (as every RunResult is), and max within a bucket of the truth.
    const { hdr: _r, ...sr } = summarize(decodeHistogram(encodeHistogram(union)));
    expect(sm).toEqual(sr);
    expectClose(sm.max, Math.max(...a, ...b), 'max');
    expect(sm.max).toBeGreaterThanOrEqual(maxU);
    for (const p of [1, 25, 50, 75, 90, 99, 99.9, 99.99, 100]) expect(merged.getValueAtPercentile(p)).toBe(union.getValueAtPercentile(p));

    // Never averaged: the merged p99 is generally not the mean of the two p99s.
    const sa = summarize(histogramOf(a));
    const sb = summarize(histogramOf(b));
    expect(sm.p99).not.toBe(Math.round(((sa.p99 + sb.p99) / 2) * 1000) / 1000);
    // And still exact against the union's sorted values.
    const sorted = [...a, ...b].sort((x, y) => x - y);
    for (const [key, p] of PERCENTILES) expectClose(sm[key], exactQuantile(sorted, p), key);
  });

  it('merges many parts and skips empty encodings', () => {
    const parts = [1, 2, 3, 4].map((seed) => sample(DISTS['exponential, mean 2 ms']!, seed, 1000));
    const merged = mergeEncoded(['', ...parts.map((p) => encodeHistogram(histogramOf(p))), encodeHistogram(createLatencyHistogram())]);
    const union = histogramOf(parts.flat());
    expect(merged.totalCount).toBe(4000);
    expect(summarize(merged).p99).toBe(summarize(union).p99);
  });

  it('an empty list is an empty histogram', () => {
    expect(mergeEncoded([]).totalCount).toBe(0);
  });
});
