/** How a run is divided over worker threads: VUs, the request budget and the rate, split exactly. */
import type { NormalisedOptions } from './options.js';

/** One thread's share of a run. */
export interface RunSlice {
  /** VU ids start after this (VU id n uses credential (n-1) mod users). */
  vuIdOffset: number;
  concurrency: number;
  maxVus: number | null;
  requests: number | null;
  rate: number | null;
  /** Date.now() at the run's start, so every thread's timestamps share one origin. */
  startEpochMs: number;
  /** This slice's thread (0-based) and the number of threads: its share of stage targets. */
  thread: number;
  threads: number;
}

/** Splits `total` into `parts` whole shares that add up exactly. */
export function splitEvenly(total: number, parts: number): number[] {
  return Array.from({ length: parts }, (_, i) => Math.floor(total / parts) + (i < total % parts ? 1 : 0));
}

/** The slices of a run over `workers` threads: VUs, request budget and rate divided exactly. */
export function sliceRun(opts: NormalisedOptions, startEpochMs: number): RunSlice[] {
  const w = opts.workers;
  const vus = splitEvenly(opts.concurrency, w);
  const maxVus = opts.maxVus === null ? null : splitEvenly(opts.maxVus, w);
  const requests = opts.requests === null ? null : splitEvenly(opts.requests, w);
  // A shard's VUs are numbered after the other shards' (all shards run the same options).
  let offset = opts.shard === null ? 0 : opts.shard.index * (opts.maxVus ?? opts.concurrency);
  return vus.map((c, i) => {
    const s: RunSlice = {
      vuIdOffset: offset,
      concurrency: Math.max(1, c),
      maxVus: maxVus === null ? null : Math.max(1, maxVus[i]!),
      requests: requests === null ? null : requests[i]!,
      rate: opts.rate === null ? null : opts.rate / w,
      startEpochMs,
      thread: i,
      threads: w,
    };
    offset += maxVus === null ? c : maxVus[i]!;
    return s;
  });
}
