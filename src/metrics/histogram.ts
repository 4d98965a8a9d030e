/**
 * The only module that imports hdr-histogram-js. Latency is recorded in integer microseconds (a local
 * target answers in well under a millisecond, so a 1 ms unit would lose everything), summarised in
 * milliseconds, and carried between processes/threads as the standard compressed-base64 encoding so that
 * results merge exactly (histograms are added, percentiles are never averaged).
 */
import * as hdr from 'hdr-histogram-js';
import type { LatencySummary } from '../result/schema.js';

export type Histogram = hdr.Histogram;

/** A new latency histogram in microseconds, 3 significant digits, growing as needed. */
export function createLatencyHistogram(): Histogram {
  return hdr.build({
    bitBucketSize: 32,
    autoResize: true,
    lowestDiscernibleValue: 1,
    highestTrackableValue: 60_000_000,
    numberOfSignificantValueDigits: 3,
    useWebAssembly: false,
  });
}

/** Encodes a histogram for a result file or a worker message. */
export function encodeHistogram(h: Histogram): string {
  return hdr.encodeIntoCompressedBase64(h);
}

/** Decodes a histogram written by {@link encodeHistogram}. */
export function decodeHistogram(encoded: string): Histogram {
  return hdr.decodeFromCompressedBase64(encoded, 32, false);
}

/** Adds every encoded histogram into one new histogram (exact merge). */
export function mergeEncoded(encoded: readonly string[]): Histogram {
  const total = createLatencyHistogram();
  for (const e of encoded) if (e) total.add(decodeHistogram(e));
  return total;
}

const round3 = (x: number): number => Math.round(x * 1000) / 1000;
const usToMs = (us: number): number => round3(us / 1000);

/**
 * Mean and standard deviation, as hdr-histogram-js's `mean` and `stdDeviation` getters define them (each
 * bucket's count at the bucket's median equivalent value), in one pass over the counts array. The
 * getters walk a recorded-values iterator, three times over for the pair: ~50 ms at the end of a run.
 */
export function meanAndStdev(h: Histogram): { mean: number; stdev: number } {
  const n = h.totalCount;
  if (n === 0) return { mean: 0, stdev: 0 };
  if (!(h instanceof hdr.JsHistogram)) return { mean: h.mean, stdev: h.stdDeviation };
  const len = h.countsArrayLength;
  let sum = 0;
  for (let i = 0; i < len; i++) {
    const c = h.getCountAtIndex(i);
    if (c !== 0) sum += h.medianEquivalentValue(h.valueFromIndex(i)) * c;
  }
  const mean = sum / n;
  let dev = 0;
  for (let i = 0; i < len; i++) {
    const c = h.getCountAtIndex(i);
    if (c === 0) continue;
    const d = h.medianEquivalentValue(h.valueFromIndex(i)) - mean;
    dev += d * d * c;
  }
  return { mean, stdev: Math.sqrt(dev / n) };
}

/** Summary in milliseconds, as written to results; `hdr` keeps the full distribution. */
export function summarize(h: Histogram): LatencySummary {
  const n = h.totalCount;
  const at = (p: number): number => (n === 0 ? 0 : usToMs(h.getValueAtPercentile(p)));
  const { mean, stdev } = meanAndStdev(h);
  return {
    count: n,
    mean: usToMs(mean),
    stdev: usToMs(stdev),
    min: n === 0 ? 0 : usToMs(h.minNonZeroValue === Number.MAX_SAFE_INTEGER ? 0 : h.minNonZeroValue),
    max: n === 0 ? 0 : usToMs(h.maxValue),
    p50: at(50),
    p66: at(66),
    p75: at(75),
    p80: at(80),
    p90: at(90),
    p95: at(95),
    p98: at(98),
    p99: at(99),
    p999: at(99.9),
    hdr: encodeHistogram(h),
  };
}

/** The value at a percentile, in milliseconds (for progress lines and thresholds). */
export function percentileMs(h: Histogram, percentile: number): number {
  return h.totalCount === 0 ? 0 : usToMs(h.getValueAtPercentile(percentile));
}

/**
 * The Prometheus view of histograms (µs): how many values are at or below each bound (seconds), the
 * count and the sum in seconds. Added over `encoded` (several threads' histograms of one step).
 */
export function cumulativeBuckets(encoded: readonly string[], boundsSeconds: readonly number[]): { buckets: number[]; count: number; sumSeconds: number } {
  const buckets = boundsSeconds.map(() => 0);
  let count = 0;
  let sumUs = 0;
  for (const e of encoded) {
    if (!e) continue;
    const h = decodeHistogram(e);
    if (!(h instanceof hdr.JsHistogram)) continue;
    const len = h.countsArrayLength;
    for (let i = 0; i < len; i++) {
      const c = h.getCountAtIndex(i);
      if (c === 0) continue;
      // A bucket's values are counted at its highest equivalent value: never below a bound they exceed.
      const v = h.highestEquivalentValue(h.valueFromIndex(i));
      count += c;
      sumUs += h.medianEquivalentValue(h.valueFromIndex(i)) * c;
      for (let b = 0; b < boundsSeconds.length; b++) if (v <= boundsSeconds[b]! * 1e6) buckets[b] = buckets[b]! + c;
    }
  }
  return { buckets, count, sumSeconds: sumUs / 1e6 };
}
