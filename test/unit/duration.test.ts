import { describe, it, expect } from 'vitest';
import { parseDurationMs } from '../../src/scenario/duration.js';

describe('parseDurationMs', () => {
  it.each([
    ['500ms', 500],
    ['30s', 30_000],
    ['2m', 120_000],
    ['1h', 3_600_000],
    ['1m30s', 90_000],
    ['1h2m3s4ms', 3_723_004],
    ['1.5s', 1500],
    ['0s', 0],
    ['  30s  ', 30_000],
    ['0', 0],
  ] as const)('%j -> %d ms', (text, ms) => {
    expect(parseDurationMs(text)).toBe(ms);
  });

  it.each([
    [250, 250],
    [0, 0],
  ] as const)('number %d -> %d ms', (n, ms) => {
    expect(parseDurationMs(n)).toBe(ms);
  });

  // '10' has no unit: ab and wrk users mean seconds, a bare number once meant ms here; neither is guessed.
  it.each(['', '   ', 'abc', '3x', '-1s', '1m 30s', 's', '30sec', '1.s', '30s!', '1e3', '10', '12.5', '250'])(
    '%j is not a duration',
    (text) => {
      expect(parseDurationMs(text)).toBeUndefined();
    },
  );

  it.each([-1, Number.NaN, Number.POSITIVE_INFINITY])('number %d is not a duration', (n) => {
    expect(parseDurationMs(n)).toBeUndefined();
  });

  it('is stateless between calls (the sticky regex is reset)', () => {
    expect(parseDurationMs('3x')).toBeUndefined();
    expect(parseDurationMs('1m30s')).toBe(90_000);
    expect(parseDurationMs('1m30s')).toBe(90_000);
  });
});
