/**
 * Credentials for virtual users: from the scenario, `--user NAME:PASSWORD` flags or a CSV file with a
 * header row that names `username` and `password` columns (more columns are allowed and ignored).
 */
import { readFileSync } from 'node:fs';
import type { ConfigIssue } from '../common/errors.js';

export interface Credential {
  readonly username: string;
  readonly password: string;
}

/** Parses one CSV line with RFC 4180 quoting. */
function parseCsvLine(line: string): string[] {
  const out: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (quoted) {
      if (ch === '"') {
        if (line[i + 1] === '"') {
          field += '"';
          i++;
        } else quoted = false;
      } else field += ch;
    } else if (ch === '"' && field === '') quoted = true;
    else if (ch === ',') {
      out.push(field);
      field = '';
    } else field += ch;
  }
  out.push(field);
  return out.map((f) => f.trim());
}

/** Parses CSV text into credentials, adding problems to `issues` under `path`. */
export function parseUsersCsv(text: string, path: string, issues: ConfigIssue[]): Credential[] {
  const issuesBefore = issues.length;
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '');
  if (lines.length === 0) {
    issues.push({ path, message: 'the users file is empty (expected a header row username,password)' });
    return [];
  }
  const header = parseCsvLine(lines[0]!).map((h) => h.toLowerCase());
  const u = header.indexOf('username');
  const p = header.indexOf('password');
  if (u < 0 || p < 0) {
    issues.push({
      path,
      message: `the header row must name username and password columns, got "${lines[0]}"`,
    });
    return [];
  }
  const users: Credential[] = [];
  for (let i = 1; i < lines.length; i++) {
    const cols = parseCsvLine(lines[i]!);
    const username = cols[u];
    const password = cols[p];
    if (!username || password === undefined) {
      issues.push({ path: `${path} line ${i + 1}`, message: 'missing username or password' });
      continue;
    }
    users.push({ username, password });
  }
  if (users.length === 0 && issues.length === issuesBefore) {
    issues.push({ path, message: 'the users file has a header row but no users' });
  }
  return users;
}

/** Reads a users CSV file; unreadable files become an issue naming the path. */
export function readUsersFile(file: string, path: string, issues: ConfigIssue[]): Credential[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    issues.push({ path, message: `cannot read users file "${file}" (${code})` });
    return [];
  }
  return parseUsersCsv(text, path, issues);
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
