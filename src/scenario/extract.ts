/**
 * Reading values out of a page: hidden form inputs, an `<input>`'s value, a JSON path, a regex group.
 * The scenario compiler builds extractors with these; the engine applies them to response bodies (once
 * per step that extracts, never per header or per byte).
 */
import type { Extractor } from './types.js';

const HIDDEN_INPUT_TAG = /<input\b[^>]*>/gi;
// Attributes are preceded by white space, which keeps `data-value=` from passing for `value=`.
const ATTR_TYPE_HIDDEN = /\stype\s*=\s*["']?hidden\b/i;
const ATTR_NAME = /\sname\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))/i;
const ATTR_VALUE = /\svalue\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))/i;

/** Decodes the HTML entities that attribute values of forms carry in practice. */
export const decodeEntities = (s: string): string =>
  s.replace(/&(amp|lt|gt|quot|#39|#x27);/g, (_, e: string) => ({ amp: '&', lt: '<', gt: '>', quot: '"', '#39': "'", '#x27': "'" })[e]!);

/** Every `<input type="hidden">` name/value on a page, as a browser would submit them. */
export function hiddenInputs(html: string): [string, string][] {
  const out: [string, string][] = [];
  for (const m of html.matchAll(HIDDEN_INPUT_TAG)) {
    const tag = m[0];
    if (!ATTR_TYPE_HIDDEN.test(tag)) continue;
    const n = ATTR_NAME.exec(tag);
    if (!n) continue;
    const v = ATTR_VALUE.exec(tag);
    out.push([decodeEntities(n[1] ?? n[2] ?? n[3] ?? ''), decodeEntities(v ? (v[1] ?? v[2] ?? v[3] ?? '') : '')]);
  }
  return out;
}

/** Escapes text for use inside a RegExp. */
export function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** A regex that finds the value of the `<input name="NAME" ... value="...">` element, in any attribute order. */
export function inputValueRegex(name: string): RegExp {
  const n = escapeRegex(name);
  return new RegExp(
    String.raw`<input(?=[^>]*\sname\s*=\s*["']?${n}["'\s/>])[^>]*\svalue\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]*))`,
    'i',
  );
}

/** `$.data.token` -> `['data', 'token']`. */
export function parseJsonPath(text: string): string[] {
  return text.replace(/^\$\.?/, '').split('.').filter((s) => s !== '');
}

/** The value at `path` in parsed JSON: a string as is, anything else as JSON; null when absent. */
export function jsonPath(value: unknown, path: readonly string[]): string | null {
  let cur = value;
  for (const key of path) {
    if (cur === null || typeof cur !== 'object') return null;
    cur = Array.isArray(cur) && /^\d+$/.test(key) ? cur[Number(key)] : (cur as Record<string, unknown>)[key];
  }
  if (cur === undefined || cur === null) return null;
  return typeof cur === 'string' ? cur : JSON.stringify(cur);
}

/** Applies a body extractor (regex, json, input) to a page; null when it finds nothing. */
export function extractFromBody(x: Exclude<Extractor, { kind: 'header' }>, body: string): string | null {
  if (x.kind === 'json') {
    try {
      return jsonPath(JSON.parse(body), x.path);
    } catch {
      return null;
    }
  }
  const m = x.regex.exec(body);
  if (!m) return null;
  return x.kind === 'regex' ? (m[x.group] ?? null) : decodeEntities(m[1] ?? m[2] ?? m[3] ?? '');
}
