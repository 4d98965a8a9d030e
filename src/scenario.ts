/**
 * Scenario files (YAML or JSON) and quick-mode flags, validated with zod and compiled once into a frozen
 * {@link Scenario}: templates parsed, regexes compiled, URLs resolved, so the request loop only reads.
 * Every problem is reported at once as `path: message` through {@link ConfigError}.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve as resolvePath } from 'node:path';
import { createRequire } from 'node:module';
import type { z as Z } from 'zod';
import { ConfigError, formatPath, type ConfigIssue } from './errors.js';
import { parseDurationMs } from './duration.js';
import { BUILTIN_VARS, compileTemplate, type Template } from './template.js';
import { readUsersFile, type Credential } from './users.js';
import { parseThreshold, type Threshold } from './metrics/thresholds.js';
import { loadZod } from './zod.js';

// yaml, like zod, is loaded when a YAML file is read (~0.07 s a quick-mode run does not spend).
const requireCjs = createRequire(import.meta.url);
const parseYaml = (text: string): unknown => (requireCjs('yaml') as typeof import('yaml')).parse(text);

export const METHODS = ['get', 'post', 'put', 'patch', 'delete', 'head'] as const;
type MethodKey = (typeof METHODS)[number];

// ---------------------------------------------------------------------------------------------------
// File schema (the documented contract: fields may be added, never renamed)

// Field-level checks live in the schema so that every problem in a file is reported in one pass. It is
// built on first use (see zod.ts): a quick-mode run compiles its scenario without it.
function defineFileSchema(z: typeof Z) {
  const Duration = z.union([z.string(), z.number()]).refine((v) => parseDurationMs(v) !== undefined, {
    error: (iss) => `invalid duration "${String(iss.input)}" (use e.g. 500ms, 30s, 2m)`,
  });
  const Status = z
    .number()
    .int()
    .refine((s) => s >= 100 && s <= 599, { error: (iss) => `expected a status 100-599, got ${String(iss.input)}` });
  const StatusList = z.union([Status, z.array(Status).min(1)]);
  const regexError = (source: string): string | null => {
    try {
      new RegExp(source);
      return null;
    } catch (err) {
      return (err as Error).message;
    }
  };
  const Regex = z.string().refine((s) => regexError(s) === null, {
    error: (iss) => `invalid regular expression "${String(iss.input)}": ${regexError(String(iss.input))}`,
  });

  const ExtractSchema = z.union([
    z.strictObject({ regex: Regex, group: z.number().int().nonnegative().optional() }),
    z.strictObject({ header: z.string().min(1) }),
    z.strictObject({ json: z.string().min(1) }),
    z.strictObject({ input: z.string().min(1) }),
  ]);

  const StepSchema = z
    .strictObject({
      get: z.string().optional(),
      post: z.string().optional(),
      put: z.string().optional(),
      patch: z.string().optional(),
      delete: z.string().optional(),
      head: z.string().optional(),
      name: z.string().min(1).optional(),
      headers: z.record(z.string(), z.union([z.string(), z.number()])).optional(),
      form: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).optional(),
      json: z.unknown().optional(),
      body: z.string().optional(),
      /** Also send every hidden `<input>` of the previous response's page (CSRF tokens and the like). */
      hiddenInputs: z.boolean().optional(),
      extract: z.record(z.string(), ExtractSchema).optional(),
      expect: z
        .strictObject({
          status: StatusList.optional(),
          location: z.string().optional(),
          bodyMatch: Regex.optional(),
        })
        .optional(),
      followRedirects: z.boolean().optional(),
      think: Duration.optional(),
    })
    .superRefine((step, ctx) => {
      const present = METHODS.filter((m) => step[m] !== undefined);
      if (present.length !== 1) {
        ctx.addIssue({
          code: 'custom',
          message:
            present.length === 0
              ? `a step needs one of ${METHODS.join(', ')} with a path or URL`
              : `a step has exactly one method, got ${present.join(' and ')}`,
        });
      }
      const bodies = ['form', 'json', 'body'].filter((k) => (step as Record<string, unknown>)[k] !== undefined);
      if (bodies.length > 1) {
        ctx.addIssue({ code: 'custom', message: `use only one of form, json, body; got ${bodies.join(' and ')}` });
      }
    });

  const UserEntry = z.union([
    z.strictObject({ username: z.string().min(1), password: z.union([z.string(), z.number()]) }),
    z.strictObject({ file: z.string().min(1) }),
  ]);

  return z.strictObject({
    name: z.string().min(1).optional(),
    target: z.string().optional(),
    session: z
      .strictObject({
        loginPath: z.string().optional(),
        lostStatus: z.array(Status).optional(),
        lostBodyMatch: Regex.optional(),
        servedByHeader: z.string().min(1).optional(),
      })
      .optional(),
    users: z.union([z.array(UserEntry), z.strictObject({ file: z.string().min(1) })]).optional(),
    login: z.array(StepSchema).optional(),
    flow: z.array(StepSchema).min(1),
    think: Duration.optional(),
    /** Pass/fail criteria such as `p99<200ms`, `retention>=99%` (see metrics/thresholds.ts). */
    thresholds: z.array(z.string()).optional(),
  });
}
let fileSchema: ReturnType<typeof defineFileSchema> | null = null;
/** The scenario file schema (zod), built on first use. */
export function scenarioFileSchema(): ReturnType<typeof defineFileSchema> {
  return (fileSchema ??= defineFileSchema(loadZod().z));
}
export type ScenarioFile = Z.infer<ReturnType<typeof defineFileSchema>>;
type StepFile = ScenarioFile['flow'][number];

// ---------------------------------------------------------------------------------------------------
// Compiled form

export type Extractor =
  | { readonly name: string; readonly kind: 'regex'; readonly regex: RegExp; readonly group: number }
  | { readonly name: string; readonly kind: 'header'; readonly header: string }
  | { readonly name: string; readonly kind: 'json'; readonly path: readonly string[] }
  | { readonly name: string; readonly kind: 'input'; readonly regex: RegExp };

export type StepBody =
  | { readonly kind: 'none' }
  | { readonly kind: 'form'; readonly fields: readonly (readonly [string, Template])[] }
  | { readonly kind: 'json'; readonly value: unknown; readonly strings: ReadonlyMap<string, Template> }
  | { readonly kind: 'raw'; readonly template: Template };

export interface Expectation {
  /** Accepted statuses; null = any status below 400. */
  readonly statuses: ReadonlySet<number> | null;
  /** Expected redirect target path (compared after resolving against the request URL). */
  readonly location: string | null;
  readonly bodyMatch: RegExp | null;
}

/** One request of a scenario, compiled. */
export interface Step {
  /** Index into the run's per-step metrics (login steps first, then flow steps). */
  readonly index: number;
  readonly name: string;
  readonly phase: 'login' | 'flow';
  readonly method: string;
  readonly url: Template;
  readonly headers: readonly (readonly [string, Template])[];
  readonly body: StepBody;
  readonly hiddenInputs: boolean;
  readonly extract: readonly Extractor[];
  readonly expect: Expectation;
  readonly followRedirects: boolean;
  /** Think time after this step; null = the run's default. */
  readonly thinkMs: number | null;
}

export interface SessionRules {
  /** A 3xx whose Location resolves to this path means the session was lost. Null: no login. */
  readonly loginPath: string | null;
  readonly lostStatus: ReadonlySet<number>;
  readonly lostBodyMatch: RegExp | null;
  /** Lower-case header name naming the backend, or null. */
  readonly servedByHeader: string | null;
}

/** A validated, compiled, immutable scenario. */
export interface Scenario {
  readonly name: string;
  readonly target: string | null;
  readonly session: SessionRules;
  readonly users: readonly Credential[];
  readonly login: readonly Step[];
  readonly flow: readonly Step[];
  readonly thinkMs: number | null;
  readonly thresholds: readonly Threshold[];
}

/** Matches a password field: the default sign that a 2xx page is the login form (quick mode). */
export const PASSWORD_INPUT_PATTERN = String.raw`<input[^>]*type=["']?password`;

function compileRegex(source: string, path: string, issues: ConfigIssue[], flags = ''): RegExp | null {
  try {
    return new RegExp(source, flags);
  } catch (err) {
    issues.push({ path, message: `invalid regular expression "${source}": ${(err as Error).message}` });
    return null;
  }
}

function durationField(value: string | number | undefined, path: string, issues: ConfigIssue[]): number | null {
  if (value === undefined) return null;
  const ms = parseDurationMs(value);
  if (ms === undefined) {
    issues.push({ path, message: `invalid duration "${value}" (use e.g. 500ms, 30s, 2m)` });
    return null;
  }
  return ms;
}

function statusSet(value: number | number[] | undefined, path: string, issues: ConfigIssue[]): Set<number> | null {
  if (value === undefined) return null;
  const list = Array.isArray(value) ? value : [value];
  for (const s of list) {
    if (s < 100 || s > 599) issues.push({ path, message: `expected a status 100-599, got ${s}` });
  }
  return new Set(list);
}

/** Number of capture groups in a regex (an alternation with the empty string always matches ''). */
function captureGroups(regex: RegExp): number {
  return new RegExp(`${regex.source}|`).exec('')!.length - 1;
}

/** Escapes text for use inside a RegExp. */
export function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** A regex that finds the value of the `<input name="NAME" ... value="...">` element, in any attribute order. */
function inputValueRegex(name: string): RegExp {
  const n = escapeRegex(name);
  return new RegExp(
    String.raw`<input(?=[^>]*\sname\s*=\s*["']?${n}["'\s/>])[^>]*\svalue\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]*))`,
    'i',
  );
}

function compileJsonStrings(value: unknown, out: Map<string, Template>): void {
  if (typeof value === 'string') {
    const t = compileTemplate(value);
    if (t.constant === null) out.set(value, t);
  } else if (Array.isArray(value)) for (const v of value) compileJsonStrings(v, out);
  else if (value && typeof value === 'object') for (const v of Object.values(value)) compileJsonStrings(v, out);
}

function compileStep(
  raw: StepFile,
  phase: 'login' | 'flow',
  index: number,
  path: string,
  issues: ConfigIssue[],
  usedVars: { name: string; path: string }[],
): Step {
  const methodKey = METHODS.find((m) => raw[m] !== undefined) ?? 'get';
  const method = methodKey.toUpperCase();
  const urlText = raw[methodKey as MethodKey] ?? '/';
  const url = compileTemplate(urlText);
  const note = (t: Template, p: string): Template => {
    for (const v of t.vars) usedVars.push({ name: v, path: p });
    return t;
  };
  note(url, `${path}.${methodKey}`);
  if (url.constant !== null && !/^https?:\/\//i.test(urlText) && !urlText.startsWith('/')) {
    issues.push({ path: `${path}.${methodKey}`, message: `expected a path starting with / or an http(s) URL, got "${urlText}"` });
  }

  const headers = Object.entries(raw.headers ?? {}).map(
    ([k, v]) => [k.toLowerCase(), note(compileTemplate(String(v)), `${path}.headers.${k}`)] as const,
  );
  let body: StepBody = { kind: 'none' };
  if (raw.form) {
    body = {
      kind: 'form',
      fields: Object.entries(raw.form).map(([k, v]) => [k, note(compileTemplate(String(v)), `${path}.form.${k}`)] as const),
    };
  } else if (raw.json !== undefined) {
    const strings = new Map<string, Template>();
    compileJsonStrings(raw.json, strings);
    for (const t of strings.values()) note(t, `${path}.json`);
    body = { kind: 'json', value: raw.json, strings };
  } else if (raw.body !== undefined) {
    body = { kind: 'raw', template: note(compileTemplate(raw.body), `${path}.body`) };
  }

  const extract: Extractor[] = [];
  for (const [name, spec] of Object.entries(raw.extract ?? {})) {
    const p = `${path}.extract.${name}`;
    if ('regex' in spec) {
      const regex = compileRegex(spec.regex, `${p}.regex`, issues);
      if (regex) extract.push({ name, kind: 'regex', regex, group: spec.group ?? (captureGroups(regex) > 0 ? 1 : 0) });
    } else if ('header' in spec) extract.push({ name, kind: 'header', header: spec.header.toLowerCase() });
    else if ('json' in spec) {
      const parts = spec.json.replace(/^\$\.?/, '').split('.').filter((s) => s !== '');
      extract.push({ name, kind: 'json', path: parts });
    } else extract.push({ name, kind: 'input', regex: inputValueRegex(spec.input) });
  }

  const statuses = statusSet(raw.expect?.status, `${path}.expect.status`, issues);
  const bodyMatch = raw.expect?.bodyMatch ? compileRegex(raw.expect.bodyMatch, `${path}.expect.bodyMatch`, issues) : null;
  const location = raw.expect?.location ?? null;
  const expectsRedirect = location !== null || (statuses !== null && [...statuses].some((s) => s >= 300 && s < 400));
  const name = raw.name ?? `${method} ${urlText}`;
  return {
    index,
    name,
    phase,
    method,
    url,
    headers,
    body,
    hiddenInputs: raw.hiddenInputs ?? false,
    extract,
    expect: { statuses, location, bodyMatch },
    // A step that expects a redirect checks the redirect itself rather than where it leads.
    followRedirects: raw.followRedirects ?? !expectsRedirect,
    thinkMs: durationField(raw.think, `${path}.think`, issues),
  };
}

function pathOf(url: string): string {
  return url.split('?')[0]!.replace(/^https?:\/\/[^/]+/i, '') || '/';
}

/** Compiles an already schema-valid scenario; `baseDir` resolves relative users files. */
export function compileScenario(file: ScenarioFile, baseDir: string, source: string): Scenario {
  const issues: ConfigIssue[] = [];
  const usedVars: { name: string; path: string }[] = [];
  const loginRaw = file.login ?? [];
  const login = loginRaw.map((s, i) => compileStep(s, 'login', i, `login[${i}]`, issues, usedVars));
  const flow = file.flow.map((s, i) => compileStep(s, 'flow', loginRaw.length + i, `flow[${i}]`, issues, usedVars));

  // Every {{variable}} must be a builtin or extracted by some step.
  const known = new Set<string>(BUILTIN_VARS);
  for (const s of [...login, ...flow]) for (const e of s.extract) known.add(e.name);
  for (const u of usedVars) {
    if (!known.has(u.name)) {
      issues.push({
        path: u.path,
        message: `unknown variable {{${u.name}}} (known: ${[...known].join(', ')})`,
      });
    }
  }

  const hasLogin = login.length > 0;
  const loginPath = file.session?.loginPath ?? (hasLogin ? pathOf(login[0]!.url.source) : null);
  if (loginPath !== null && !loginPath.startsWith('/')) {
    issues.push({ path: 'session.loginPath', message: `expected a path starting with /, got "${loginPath}"` });
  }
  const lostStatus = new Set(file.session?.lostStatus ?? (hasLogin ? [401] : []));
  for (const s of lostStatus) {
    if (s < 100 || s > 599) issues.push({ path: 'session.lostStatus', message: `expected a status 100-599, got ${s}` });
  }
  const lostBodyMatch = file.session?.lostBodyMatch
    ? compileRegex(file.session.lostBodyMatch, 'session.lostBodyMatch', issues)
    : null;

  let users: Credential[] = [];
  const entries = file.users === undefined ? [] : Array.isArray(file.users) ? file.users : [file.users];
  entries.forEach((entry, i) => {
    const p = Array.isArray(file.users) ? `users[${i}].file` : 'users.file';
    if ('file' in entry) users = users.concat(readUsersFile(resolvePath(baseDir, entry.file), p, issues));
    else users.push({ username: entry.username, password: String(entry.password) });
  });

  if (file.target !== undefined) checkTargetUrl(file.target, 'target', issues);
  const thinkMs = durationField(file.think, 'think', issues);
  const thresholds = parseThresholds(file.thresholds ?? [], 'thresholds', issues);
  if (issues.length > 0) throw new ConfigError(source, issues);

  return deepFreeze({
    name: file.name ?? source,
    target: file.target ?? null,
    session: {
      loginPath,
      lostStatus,
      lostBodyMatch,
      servedByHeader: file.session?.servedByHeader?.toLowerCase() ?? null,
    },
    users,
    login,
    flow,
    thinkMs,
    thresholds,
  });
}

/** Parses thresholds, adding an issue (`path[i]`) for each invalid one. */
export function parseThresholds(texts: readonly string[], path: string, issues: ConfigIssue[]): Threshold[] {
  const out: Threshold[] = [];
  texts.forEach((text, i) => {
    const t = parseThreshold(text);
    if (typeof t === 'string') issues.push({ path: path.startsWith('-') ? path : `${path}[${i}]`, message: t });
    else out.push(t);
  });
  return out;
}

/** Adds an issue unless `url` is an absolute http(s) URL. */
export function checkTargetUrl(url: string, path: string, issues: ConfigIssue[]): void {
  let ok = false;
  try {
    const u = new URL(url);
    ok = u.protocol === 'http:' || u.protocol === 'https:';
  } catch {
    ok = false;
  }
  if (!ok) issues.push({ path, message: `expected an http:// or https:// URL, got "${url}"` });
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !(value instanceof RegExp) && !Object.isFrozen(value)) {
    if (!(value instanceof Set) && !(value instanceof Map)) for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/** Validates and compiles parsed scenario data (from YAML, JSON or code). */
export function parseScenario(data: unknown, source: string, baseDir = process.cwd()): Scenario {
  const parsed = scenarioFileSchema().safeParse(data);
  if (!parsed.success) {
    throw new ConfigError(
      source,
      parsed.error.issues.flatMap((i) => flattenIssue(i)),
    );
  }
  return compileScenario(parsed.data, baseDir, source);
}

/**
 * Turns a zod issue into ours. For a union (e.g. a user given inline or as a file) zod only says "Invalid
 * input"; report instead what the closest alternative wanted: the one that got furthest into the value.
 */
function flattenIssue(issue: Z.core.$ZodIssue, base: readonly PropertyKey[] = []): ConfigIssue[] {
  const path = [...base, ...issue.path];
  if (issue.code === 'unrecognized_keys') {
    return [{ path: formatPath(path), message: `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}` }];
  }
  if (issue.code === 'invalid_union' && issue.errors.length > 0) {
    const depth = (errs: readonly Z.core.$ZodIssue[]): number => Math.max(...errs.map((e) => (e.code === 'invalid_type' && e.path.length === 0 ? -1 : e.path.length)));
    const closest = [...issue.errors].sort((a, b) => depth(b) - depth(a) || a.length - b.length)[0]!;
    if (closest.length > 0) return closest.flatMap((e) => flattenIssue(e, path));
  }
  if (issue.code === 'invalid_type' && issue.message.endsWith('received undefined')) {
    return [{ path: formatPath(path), message: `required (${issue.expected})` }];
  }
  return [{ path: formatPath(path), message: issue.message }];
}

/** Reads a YAML or JSON scenario file. Throws ConfigError (exit 2) naming every problem. */
export function loadScenario(file: string): Scenario {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new ConfigError(file, [{ path: '(file)', message: `cannot read scenario file (${code})` }]);
  }
  let data: unknown;
  try {
    data = file.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new ConfigError(file, [{ path: '(file)', message: `not valid ${file.endsWith('.json') ? 'JSON' : 'YAML'}: ${(err as Error).message.split('\n')[0]}` }]);
  }
  return parseScenario(data, file, dirname(resolvePath(file)));
}

// ---------------------------------------------------------------------------------------------------
// Quick mode: a scenario from flags, for people coming from ab

export interface QuickModeOptions {
  /** The URL given on the command line. */
  url: string;
  /** Path (or URL) of the login form page; enables login-then-navigate. */
  loginForm?: string | undefined;
  /** Where the form is posted; default: the login form path. */
  loginAction?: string | undefined;
  usernameField?: string | undefined;
  passwordField?: string | undefined;
  /** Pages visited in order after login; default: the URL itself. */
  nav?: readonly string[] | undefined;
  servedByHeader?: string | undefined;
}

/** Builds a scenario from quick-mode flags: plain GETs, or login form + navigation. */
export function buildQuickScenario(o: QuickModeOptions): ScenarioFile {
  const navPaths = o.nav && o.nav.length > 0 ? [...o.nav] : [o.url];
  const flow = navPaths.map((p) => ({ get: p }));
  if (!o.loginForm) return { name: `GET ${o.url}`, target: o.url, flow };
  const action = o.loginAction ?? o.loginForm;
  return {
    name: `login ${o.loginForm} then ${navPaths.join(' ')}`,
    target: o.url,
    session: {
      loginPath: pathOf(o.loginForm),
      lostBodyMatch: PASSWORD_INPUT_PATTERN,
      ...(o.servedByHeader ? { servedByHeader: o.servedByHeader } : {}),
    },
    login: [
      { get: o.loginForm },
      {
        post: action,
        hiddenInputs: true,
        form: { [o.usernameField ?? 'username']: '{{username}}', [o.passwordField ?? 'password']: '{{password}}' },
        // Check the login answer itself: following its redirect could land on another replica and
        // would then measure the session, not the login.
        followRedirects: false,
      },
    ],
    flow,
  };
}
