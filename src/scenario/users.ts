/**
 * Credentials for virtual users: from the scenario, `--user NAME:PASSWORD` flags or a CSV file with a
 * header row that names `username` and `password` columns. Every other column is a variable of the VU
 * that uses that row (`{{team}}`). CSV is read by csv-parse (RFC 4180: quoted fields keep their spaces,
 * commas and quotes).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { ConfigIssue } from '../common/errors.js';

// csv-parse is loaded when a users file is read.
const requireCjs = createRequire(import.meta.url);
const parseCsv = (text: string, options: import('csv-parse/sync').Options): unknown =>
  (requireCjs('csv-parse/sync') as typeof import('csv-parse/sync')).parse(text, options);

export interface Credential {
  readonly username: string;
  readonly password: string;
  /** The row's other columns, by header name (CSV users only). */
  readonly vars?: Readonly<Record<string, string>>;
}

/** Parses CSV text into credentials, adding problems to `issues` under `where` (the file, as the user named it). */
export function parseUsersCsv(text: string, where: string, issues: ConfigIssue[]): Credential[] {
  const issuesBefore = issues.length;
  let rows: string[][];
  try {
    rows = parseCsv(text, { bom: true, skip_empty_lines: true, trim: true, relax_column_count: true }) as string[][];
  } catch (err) {
    const e = err as Error & { lines?: number };
    issues.push({ path: e.lines ? `${where} line ${e.lines}` : where, message: `not valid CSV: ${e.message}` });
    return [];
  }
  if (rows.length === 0) {
    issues.push({ path: where, message: 'the users file is empty (expected a header row username,password)' });
    return [];
  }
  const header = rows[0]!.map((h) => h.trim());
  const lower = header.map((h) => h.toLowerCase());
  const u = lower.indexOf('username');
  const p = lower.indexOf('password');
  if (u < 0 || p < 0) {
    issues.push({ path: where, message: `the header row must name username and password columns, got "${header.join(',')}"` });
    return [];
  }
  const extra = header.map((h, i) => (i === u || i === p || h === '' ? null : h));
  const users: Credential[] = [];
  for (let i = 1; i < rows.length; i++) {
    const cols = rows[i]!;
    const username = cols[u];
    const password = cols[p];
    if (!username || password === undefined) {
      issues.push({ path: `${where} line ${i + 1}`, message: 'missing username or password' });
      continue;
    }
    const vars: Record<string, string> = {};
    let any = false;
    extra.forEach((name, j) => {
      if (name !== null) {
        vars[name] = cols[j] ?? '';
        any = true;
      }
    });
    users.push(any ? { username, password, vars } : { username, password });
  }
  if (users.length === 0 && issues.length === issuesBefore) {
    issues.push({ path: where, message: 'the users file has a header row but no users' });
  }
  return users;
}

/** The column names a users file adds as variables. */
export function userVarNames(users: readonly Credential[]): string[] {
  const names = new Set<string>();
  for (const u of users) for (const k of Object.keys(u.vars ?? {})) names.add(k);
  return [...names];
}

/** Reads a users CSV file; `path` names where it was given (`--users`, `users.file`); problems name both. */
export function readUsersFile(file: string, path: string, issues: ConfigIssue[]): Credential[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    issues.push({ path, message: `cannot read users file "${file}" (${code})` });
    return [];
  }
  const before = issues.length;
  const users = parseUsersCsv(text, `${path} ${file}`, issues);
  return issues.length > before ? [] : users;
}

/** Parses `--user NAME:PASSWORD`; the password may contain colons. */
export function parseUserFlag(value: string, issues: ConfigIssue[]): Credential | undefined {
  const i = value.indexOf(':');
  if (i <= 0) {
    // Never echo the value: without a colon it may well be a password typed alone.
    const got = i < 0 ? 'a value without a colon' : 'an empty NAME';
    issues.push({ path: '--user', message: `expected NAME:PASSWORD, got ${got}` });
    return undefined;
  }
  return { username: value.slice(0, i), password: value.slice(i + 1) };
}
