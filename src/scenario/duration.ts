/**
 * Durations as users write them for load tools: `500ms`, `30s`, `2m`, `1h`, `1m30s`. A text needs a unit
 * (only `0` goes without); a number (a YAML or JSON number in a scenario file) is milliseconds. Parsed
 * once at start-up, never on the hot path.
 */
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h)/y;

/** Parses a duration to milliseconds; returns undefined when the text is not a duration. */
export function parseDurationMs(text: string | number): number | undefined {
  if (typeof text === 'number') return Number.isFinite(text) && text >= 0 ? text : undefined;
  const s = text.trim();
  // A bare number has no unit (ab and wrk users mean seconds by `-d 10`); only 0 needs none.
  if (/^\d+(?:\.\d+)?$/.test(s)) return Number(s) === 0 ? 0 : undefined;
  if (s === '') return undefined;
  let total = 0;
  PART.lastIndex = 0;
  while (PART.lastIndex < s.length) {
    const start = PART.lastIndex;
    const m = PART.exec(s);
    if (!m || m.index !== start) return undefined;
    total += Number(m[1]) * UNIT_MS[m[2]!]!;
  }
  return total;
}
