/**
 * Compiles a schema-valid scenario file into a frozen {@link Scenario}: templates parsed, regexes
 * compiled, statuses in sets, so the request loop only reads. The schema has already checked every field
 * (durations, statuses, regexes); what is checked here needs more than one value, or is reported with
 * those: that every `{{variable}}` is defined, the login path, the target, the users files and the
 * thresholds.
 */
import { resolve as resolvePath } from 'node:path';
import { ConfigError, type ConfigIssue } from '../common/errors.js';
import { parseThreshold, type Threshold } from '../metrics/thresholds.js';
import { parseDurationMs } from './duration.js';
import { inputValueRegex, parseJsonPath } from './extract.js';
import { METHODS, type MethodKey, type ScenarioFile, type StepFile } from './schema.js';
import { BUILTIN_VARS, compileTemplate, ENV_PREFIX, type Template } from './template.js';
import type { Extractor, Scenario, ScenarioLoad, Step, StepBody } from './types.js';
import { readUsersFile, userVarNames, type Credential } from './users.js';
import { httpUrlProblem, parseRate } from './values.js';

/** Number of capture groups in a regex (an alternation with the empty string always matches ''). */
function captureGroups(regex: RegExp): number {
  return new RegExp(`${regex.source}|`).exec('')!.length - 1;
}

function compileJsonStrings(value: unknown, out: Map<string, Template>): void {
  if (typeof value === 'string') {
    const t = compileTemplate(value);
    if (t.constant === null) out.set(value, t);
  } else if (Array.isArray(value)) for (const v of value) compileJsonStrings(v, out);
  else if (value && typeof value === 'object') for (const v of Object.values(value)) compileJsonStrings(v, out);
}

/** A duration the schema has checked. */
const durationMs = (value: string | number | undefined): number | null => (value === undefined ? null : parseDurationMs(value)!);

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
    if ('regex' in spec) {
      const regex = new RegExp(spec.regex);
      extract.push({ name, kind: 'regex', regex, group: spec.group ?? (captureGroups(regex) > 0 ? 1 : 0) });
    } else if ('header' in spec) extract.push({ name, kind: 'header', header: spec.header.toLowerCase() });
    else if ('json' in spec) extract.push({ name, kind: 'json', path: parseJsonPath(spec.json) });
    else if ('input' in spec) extract.push({ name, kind: 'input', regex: inputValueRegex(spec.input) });
    else extract.push({ name, kind: 'login-form-action' });
  }

  const status = raw.expect?.status;
  const statuses = status === undefined ? null : new Set(Array.isArray(status) ? status : [status]);
  const bodyMatch = raw.expect?.bodyMatch ? new RegExp(raw.expect.bodyMatch) : null;
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
    thinkMs: durationMs(raw.think),
  };
}

/** What the command line puts in place of the file's own (users from --user or --users). */
export interface ScenarioOverrides {
  readonly users?: readonly Credential[] | undefined;
  /** Where `{{env.NAME}}` is read (default process.env). */
  readonly env?: NodeJS.ProcessEnv | undefined;
}

/** The path of a step URL (no query, no origin). */
export function pathOf(url: string): string {
  return url.split('?')[0]!.replace(/^https?:\/\/[^/]+/i, '') || '/';
}

/**
 * Compiles a scenario file that the schema accepted (parseScenario checks it; a quick-mode scenario is
 * valid by construction). `baseDir` resolves relative users files.
 */
export function compileScenario(file: ScenarioFile, baseDir: string, source: string, overrides: ScenarioOverrides = {}): Scenario {
  const issues: ConfigIssue[] = [];
  const usedVars: { name: string; path: string }[] = [];
  const loginRaw = file.login ?? [];
  const login = loginRaw.map((s, i) => compileStep(s, 'login', i, `login[${i}]`, issues, usedVars));
  const flow = file.flow.map((s, i) => compileStep(s, 'flow', loginRaw.length + i, `flow[${i}]`, issues, usedVars));

  let users: Credential[] = [];
  const entries = file.users === undefined ? [] : Array.isArray(file.users) ? file.users : [file.users];
  entries.forEach((entry, i) => {
    const p = Array.isArray(file.users) ? `users[${i}].file` : 'users.file';
    if ('file' in entry) users = users.concat(readUsersFile(resolvePath(baseDir, entry.file), p, issues));
    else users.push({ username: entry.username, password: String(entry.password) });
  });
  if (overrides.users !== undefined && overrides.users.length > 0) users = [...overrides.users];

  // Every {{variable}} must be a builtin, a users-file column, an environment variable that is set, or
  // extracted by some step.
  const known = new Set<string>([...BUILTIN_VARS, ...userVarNames(users)]);
  for (const s of [...login, ...flow]) for (const e of s.extract) known.add(e.name);
  const env: Record<string, string> = {};
  for (const u of usedVars) {
    if (u.name.startsWith(ENV_PREFIX)) {
      const value = (overrides.env ?? process.env)[u.name.slice(ENV_PREFIX.length)];
      if (value === undefined) issues.push({ path: u.path, message: `{{${u.name}}}: the environment variable ${u.name.slice(ENV_PREFIX.length)} is not set` });
      else env[u.name] = value;
      continue;
    }
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
  const lostBodyMatch = file.session?.lostBodyMatch ? new RegExp(file.session.lostBodyMatch) : null;

  if (file.target !== undefined) {
    const bad = httpUrlProblem(file.target);
    if (bad !== null) issues.push({ path: 'target', message: bad });
  }
  const thresholds = parseThresholds(file.thresholds ?? [], 'thresholds', issues);
  if (file.stages !== undefined && file.duration !== undefined) issues.push({ path: 'duration', message: 'stages set the run\'s length (the sum of their durations): use one or the other' });
  if (file.stages !== undefined && file.rampUp !== undefined) issues.push({ path: 'rampUp', message: 'stages shape the ramp-up themselves: use one or the other' });
  if (file.stages !== undefined && file.vus !== undefined && file.rate === undefined) issues.push({ path: 'vus', message: 'with stages, the VU counts are the stages\' targets (they start from 0)' });
  if (file.maxVus !== undefined && file.rate === undefined) issues.push({ path: 'maxVus', message: 'only with rate (the open model)' });
  if (issues.length > 0) throw new ConfigError(source, issues);
  const load: ScenarioLoad = {
    concurrency: file.vus ?? null,
    durationMs: durationMs(file.duration),
    rampUpMs: durationMs(file.rampUp),
    rate: file.rate === undefined ? null : parseRate(file.rate)!,
    maxVus: file.maxVus ?? null,
    stages: (file.stages ?? []).map((st) => ({ durationMs: durationMs(st.duration)!, target: st.target })),
    events: (file.events ?? []).map((e) => ({ atMs: durationMs(e.at)!, command: e.run, stopOnFailure: e.stopOnFailure ?? false })),
  };

  return deepFreeze({
    name: file.name ?? source,
    target: file.target ?? null,
    session: {
      loginPath,
      lostStatus,
      lostBodyMatch,
      servedByHeader: file.session?.servedByHeader?.toLowerCase() ?? null,
      relogin: file.session?.relogin ?? 'clear-session',
      keepCookies: new Set(file.session?.keepCookies ?? []),
      sessionCookies: file.session?.sessionCookies ? new Set(file.session.sessionCookies) : null,
    },
    users,
    login,
    flow,
    thinkMs: durationMs(file.think),
    thresholds,
    load,
    env,
  });
}

/** Parses thresholds, adding an issue (`path[i]`, or the flag name) for each invalid one. */
export function parseThresholds(texts: readonly (string | { threshold: string; abortOnFail?: boolean | undefined })[], path: string, issues: ConfigIssue[], abortOnFail = false): Threshold[] {
  const out: Threshold[] = [];
  texts.forEach((entry, i) => {
    const text = typeof entry === 'string' ? entry : entry.threshold;
    const t = parseThreshold(text, typeof entry === 'string' ? abortOnFail : (entry.abortOnFail ?? false));
    if (typeof t === 'string') issues.push({ path: path.startsWith('-') ? path : `${path}[${i}]`, message: t });
    else out.push(t);
  });
  return out;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !(value instanceof RegExp) && !Object.isFrozen(value)) {
    if (!(value instanceof Set) && !(value instanceof Map)) for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
