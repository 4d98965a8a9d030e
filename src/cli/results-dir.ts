/** Where `demo` and `matrix` save their results: one folder per session, one numbered file per run. */
import { join, relative, resolve } from 'node:path';
import { outputPathProblem } from '../reporters/json.js';
import type { FlagIssues } from './flags.js';

/** Checks `--out DIR` before anything runs: the folder must be one that results can be written into. */
export function checkResultsDir(f: FlagIssues, out: string | undefined, cwd: string): void {
  if (out === undefined) return;
  const problem = outputPathProblem(join(resolve(cwd, out), '01-run.json'));
  if (problem !== null) f.add('--out', problem);
}

/** `2 replicas, sticky + restart` -> `2-replicas-sticky-restart` (file-name safe, never empty). */
export function slugOf(name: string): string {
  const s = name
    .normalize('NFKD')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 60)
    .replace(/-+$/, '');
  return s === '' ? 'run' : s;
}

/** `<dir>/01-1-replica.json`: numbered in run order so `ls` lists them the way they ran. */
export function resultPath(dir: string, index: number, name: string): string {
  return join(dir, `${String(index + 1).padStart(2, '0')}-${slugOf(name)}.json`);
}

/** `./session-bench-results/<kind>-YYYYMMDD-HHMMSS` (local time), resolved against `cwd`. */
export function defaultResultsDir(kind: string, cwd: string, now: Date = new Date()): string {
  const p = (n: number): string => String(n).padStart(2, '0');
  const stamp = `${now.getFullYear()}${p(now.getMonth() + 1)}${p(now.getDate())}-${p(now.getHours())}${p(now.getMinutes())}${p(now.getSeconds())}`;
  return resolve(cwd, 'session-bench-results', `${kind}-${stamp}`);
}

/** A path as the user should read it: relative to `cwd` when inside it. */
export function displayPath(path: string, cwd: string): string {
  const rel = relative(cwd, path);
  return rel === '' ? '.' : rel.startsWith('..') ? path : rel;
}
