/**
 * Secrets never leave the tool: every password it was given (users, the target URL's credentials) is
 * replaced by `***` in the result, wherever a server reflected it (a redirect, a page, an error) or a
 * user wrote it (a scenario name, a URL). Applied once to the finished result, so that every output
 * made from it, the report, the JSON and compare, is clean.
 */
import type { RunResult } from '../result/schema.js';
import type { Scenario } from '../scenario/types.js';

/** Shorter secrets are not searched for: replacing every "ab" of a report would garble it. */
const MIN_SECRET_LENGTH = 3;
export const REDACTED = '***';

/** The secrets of a run, with the encodings they travel in (URL, form and Basic auth). */
export function secretsOf(scenario: Scenario, target: string): string[] {
  const raw = new Set<string>();
  for (const u of scenario.users) raw.add(u.password);
  // Environment variables a scenario reads are often tokens.
  for (const v of Object.values(scenario.env)) raw.add(v);
  let url: URL | null = null;
  try {
    url = new URL(target);
  } catch {
    url = null;
  }
  if (url !== null && url.password !== '') {
    raw.add(decodeURIComponent(url.password));
    raw.add(url.password);
    raw.add(Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`, 'utf8').toString('base64'));
  }
  const out = new Set<string>();
  for (const s of raw) {
    if (s.length < MIN_SECRET_LENGTH) continue;
    out.add(s);
    out.add(encodeURIComponent(s));
    out.add(new URLSearchParams({ s }).toString().slice(2));
  }
  // Longest first, so that an encoding is replaced whole before a secret it contains.
  return [...out].sort((a, b) => b.length - a.length);
}

/** `text` with every secret replaced. */
export function redactText(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) if (out.includes(s)) out = out.split(s).join(REDACTED);
  return out;
}

/** A copy of `value` (JSON data) with every secret in every string, keys included, replaced. */
export function redactDeep<T>(value: T, secrets: readonly string[]): T {
  if (secrets.length === 0) return value;
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') return redactText(v, secrets);
    if (Array.isArray(v)) return v.map(walk);
    if (v !== null && typeof v === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) {
        // Encoded histograms are base64 that no secret is in, and must stay byte for byte. Keys are
        // redacted too (failure reasons are keys); counts under keys that become equal are added.
        const key = redactText(k, secrets);
        const value = k === 'hdr' ? x : walk(x);
        out[key] = key !== k && typeof out[key] === 'number' && typeof value === 'number' ? (out[key] as number) + value : value;
      }
      return out;
    }
    return v;
  };
  return walk(value) as T;
}

/** The result with every secret of the run redacted. */
export function redactResult(result: RunResult, secrets: readonly string[]): RunResult {
  return redactDeep(result, secrets);
}
