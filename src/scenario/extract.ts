/**
 * Reading values out of a page: hidden form inputs, an `<input>`'s value, a JSON path, a regex group.
 * The scenario compiler builds extractors with these; the engine applies them to response bodies (once
 * per step that extracts, never per header or per byte).
 */
import { createRequire } from 'node:module';
import type { Extractor } from './types.js';

// htmlparser2 and entities are loaded on first use: a run that reads no form never pays for them.
const requireCjs = createRequire(import.meta.url);
let entitiesModule: typeof import('entities') | null = null;
let htmlparser2Module: typeof import('htmlparser2') | null = null;
const entities = (): typeof import('entities') => (entitiesModule ??= requireCjs('entities') as typeof import('entities'));
const htmlparser2 = (): typeof import('htmlparser2') => (htmlparser2Module ??= requireCjs('htmlparser2') as typeof import('htmlparser2'));

/** Decodes HTML entities in an attribute value (all of HTML's named and numeric references). */
export const decodeEntities = (s: string): string => (s.includes('&') ? entities().decodeHTMLAttribute(s) : s);

interface ParsedForm {
  action: string | null;
  id: string | null;
  hasPassword: boolean;
  hidden: [string, string][];
}

/**
 * The hidden inputs a browser would submit with the login form of a page: those of the form whose
 * action (resolved against `pageUrl`) has the path `actionPath` (where the next step posts), else of
 * the form with a password field,
 * else of the first form; on a page without forms, every hidden input. Inputs in other forms, in HTML
 * comments, and `disabled` ones are left out, as a browser leaves them out. Parsed with htmlparser2
 * (entities decoded); it runs once per login, never per request.
 */
export function hiddenInputs(html: string, actionPath: string | null = null, pageUrl = 'http://page.invalid/'): [string, string][] {
  const forms: ParsedForm[] = [];
  const loose: [string, string][] = [];
  const byId = new Map<string, ParsedForm>();
  // Inputs that name their form with form="id" (possibly before the form itself).
  const byFormAttr: [string, [string, string]][] = [];
  let current: ParsedForm | null = null;
  const parser = new (htmlparser2().Parser)(
    {
      onopentag(name, attrs) {
        if (name === 'form') {
          current = { action: attrs['action'] ?? null, id: attrs['id'] ?? null, hasPassword: false, hidden: [] };
          forms.push(current);
          if (current.id !== null) byId.set(current.id, current);
          return;
        }
        if (name !== 'input') return;
        const type = (attrs['type'] ?? 'text').toLowerCase();
        if (type === 'password' && current !== null) current.hasPassword = true;
        if (type !== 'hidden' || attrs['name'] === undefined || attrs['disabled'] !== undefined) return;
        const field: [string, string] = [attrs['name'], attrs['value'] ?? ''];
        if (attrs['form'] !== undefined) byFormAttr.push([attrs['form'], field]);
        else if (current !== null) current.hidden.push(field);
        else loose.push(field);
      },
      onclosetag(name) {
        if (name === 'form') current = null;
      },
    },
    { decodeEntities: true, lowerCaseTags: true, lowerCaseAttributeNames: true },
  );
  parser.write(html);
  parser.end();
  for (const [id, field] of byFormAttr) (byId.get(id)?.hidden ?? loose).push(field);
  if (forms.length === 0) return loose;
  const pathOfAction = (a: string | null): string | null => {
    try {
      // A form without an action posts to the page itself.
      return new URL(a ?? '', pageUrl).pathname;
    } catch {
      return null;
    }
  };
  const chosen =
    (actionPath !== null ? forms.find((f) => pathOfAction(f.action) === actionPath) : undefined) ??
    forms.find((f) => f.hasPassword) ??
    forms[0]!;
  return chosen.hidden;
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
