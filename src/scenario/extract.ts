/**
 * Reading values out of a page: hidden form inputs, an `<input>`'s value, a JSON path, a regex group.
 * The scenario compiler builds extractors with these; the engine applies them to response bodies (once
 * per step that extracts, never per header or per byte).
 */
import { createRequire } from 'node:module';
import { formActionPath, hasPasswordField, parseHtml, type HtmlInput } from './html.js';
import type { Extractor } from './types.js';

// entities is loaded on first use: a run that decodes no attribute never pays for it.
const requireCjs = createRequire(import.meta.url);
let entitiesModule: typeof import('entities') | null = null;
const entities = (): typeof import('entities') => (entitiesModule ??= requireCjs('entities') as typeof import('entities'));

/** Decodes HTML entities in an attribute value (all of HTML's named and numeric references). */
export const decodeEntities = (s: string): string => (s.includes('&') ? entities().decodeHTMLAttribute(s) : s);

const hiddenFields = (inputs: readonly HtmlInput[]): [string, string][] =>
  inputs.filter((i) => i.type === 'hidden' && i.name !== null && !i.disabled).map((i) => [i.name!, i.value]);

/**
 * The hidden inputs a browser would submit with the login form of a page: those of the form whose
 * action (resolved against `pageUrl`) has the path `actionPath` (where the next step posts), else of
 * the form with a password field, else of the first form; on a page without forms, every hidden input.
 * Inputs in other forms, in HTML comments, and `disabled` ones are left out, as a browser leaves them
 * out. It runs once per login, never per request.
 */
export function hiddenInputs(html: string, actionPath: string | null = null, pageUrl = 'http://page.invalid/'): [string, string][] {
  const page = parseHtml(html);
  if (page.forms.length === 0) return hiddenFields(page.looseInputs);
  const chosen =
    (actionPath !== null ? page.forms.find((f) => formActionPath(f, pageUrl) === actionPath) : undefined) ??
    page.forms.find(hasPasswordField) ??
    page.forms[0]!;
  return hiddenFields(chosen.inputs);
}

/** Matches a password field (any form that has one: a login form, but also "change password"). */
export const PASSWORD_INPUT_PATTERN = String.raw`<input[^>]*type\s*=\s*["']?password`;

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

/**
 * The absolute URL the page's login form (its first form with a password field) posts to, entities
 * decoded; the page's own URL for a form without an action. Null when the page has no such form.
 */
export function loginFormAction(html: string, pageUrl: string): string | null {
  const form = parseHtml(html).forms.find(hasPasswordField);
  if (form === undefined) return null;
  try {
    return new URL(form.action ?? '', pageUrl).href;
  } catch {
    return null;
  }
}

/** Applies a body extractor (regex, json, input, login form action) to a page got from `pageUrl`; null when it finds nothing. */
export function extractFromBody(x: Exclude<Extractor, { kind: 'header' }>, body: string, pageUrl: string): string | null {
  if (x.kind === 'login-form-action') return loginFormAction(body, pageUrl);
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
