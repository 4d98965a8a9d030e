/**
 * `{{name}}` templates in paths, headers and bodies. Compiled once when the scenario loads; rendering a
 * constant template is a property read, and a variable one concatenates precomputed parts (no regex on
 * the hot path).
 */

/** Variables every virtual user has. `password` is secret: never shown in results or logs. */
export const BUILTIN_VARS = ['vu', 'iteration', 'username', 'password'] as const;
export const SECRET_VARS: ReadonlySet<string> = new Set(['password']);
/** `{{env.NAME}}`: the environment variable NAME, read when the scenario is compiled. */
export const ENV_PREFIX = 'env.';

export interface Template {
  /** The source text, for messages and for redacted display. */
  readonly source: string;
  /** Set when the template has no variables. */
  readonly constant: string | null;
  /** Alternating literal text (even indexes) and variable names (odd indexes). */
  readonly parts: readonly string[];
  readonly vars: readonly string[];
  /** True when rendering can reveal a secret (so displays use `source` instead). */
  readonly usesSecret: boolean;
}

/** Per-VU variable values; builtins are stored as strings. */
export type Vars = Record<string, string>;

const VAR = /\{\{\s*([A-Za-z_][\w.-]*)\s*\}\}/g;

/** Compiles `text`; names of variables it references are in `vars`. */
export function compileTemplate(text: string): Template {
  const parts: string[] = [];
  const vars: string[] = [];
  let last = 0;
  for (const m of text.matchAll(VAR)) {
    parts.push(text.slice(last, m.index), m[1]!);
    vars.push(m[1]!);
    last = m.index! + m[0].length;
  }
  parts.push(text.slice(last));
  return {
    source: text,
    constant: vars.length === 0 ? text : null,
    parts,
    vars,
    // `{{env.NAME}}` may hold a token: shown like a password, as its template.
    usesSecret: vars.some((v) => SECRET_VARS.has(v) || v.startsWith(ENV_PREFIX)),
  };
}

/** Renders a template; a missing variable renders as an empty string. */
export function renderTemplate(t: Template, vars: Vars): string {
  if (t.constant !== null) return t.constant;
  const p = t.parts;
  let out = p[0]!;
  for (let i = 1; i < p.length; i += 2) out += (vars[p[i]!] ?? '') + p[i + 1]!;
  return out;
}

/** What may be shown to a person: the rendered text, or the template source when it holds a secret. */
export function displayTemplate(t: Template, vars: Vars): string {
  return t.usesSecret ? t.source : renderTemplate(t, vars);
}
