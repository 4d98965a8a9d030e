/**
 * The `--json` result file: the RunResult as-is (it is already the versioned, schema-described format).
 * The one reporter that does I/O, because a half-written result file would poison a later `compare`.
 */
import { accessSync, constants, statSync } from 'node:fs';
import { mkdir, rename, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import type { RunResult } from '../result/schema.js';

/** The result as pretty JSON (2 spaces) with a trailing newline. */
export function formatJson(result: RunResult): string {
  return `${JSON.stringify(result, null, 2)}\n`;
}

/**
 * Why a result could not be written to `path`, checked before a run so that a bad path costs nothing;
 * null when it can (the folders that are missing will be made).
 */
export function outputPathProblem(path: string): string | null {
  const full = resolve(path);
  const st = statOrNull(full);
  if (st?.isDirectory()) return `"${path}" is a folder; give a file name, e.g. ${join(path, 'result.json')}`;
  // The nearest folder that exists must be a folder, and writable (missing ones are made).
  let dir = dirname(full);
  for (let d = statOrNull(dir); d === null; d = statOrNull(dir)) {
    const up = dirname(dir);
    if (up === dir) return `no folder of "${path}" exists`;
    dir = up;
  }
  if (!statOrNull(dir)!.isDirectory()) return `"${dir}" is a file, so "${path}" cannot be made`;
  try {
    accessSync(dir, constants.W_OK);
    if (st !== null) accessSync(full, constants.W_OK);
  } catch {
    return `"${st !== null ? path : dir}" is not writable`;
  }
  return null;
}

function statOrNull(p: string): ReturnType<typeof statSync> | null {
  try {
    return statSync(p);
  } catch {
    return null;
  }
}

/**
 * Writes the result to `path`, or, when that fails after all (the disk filled, the folder went away),
 * to a file in the system's temporary folder so that the run is not lost. Returns where it was written
 * and, on the fallback, why `path` failed.
 */
export async function saveResultFile(path: string, result: RunResult): Promise<{ path: string; failure: string | null }> {
  try {
    await writeResultFile(path, result);
    return { path, failure: null };
  } catch (err) {
    const failure = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    const fallback = join(tmpdir(), `session-bench-result-${new Date().toISOString().replace(/[:.]/g, '-')}-${process.pid}.json`);
    await writeResultFile(fallback, result);
    return { path: fallback, failure };
  }
}

/**
 * Writes the result to `path` atomically: a temp file in the same directory (so the rename stays on one
 * filesystem), then rename over the target. Creates the directory when missing. A reader sees either the
 * old file or the complete new one, never a truncated one.
 */
export async function writeResultFile(path: string, result: RunResult): Promise<void> {
  await writeTextFile(path, formatJson(result));
}

/** Writes `text` to `path` atomically (temp file, then rename), making the folder when missing; `mode` for a file that holds a secret. */
export async function writeTextFile(path: string, text: string, mode?: number): Promise<void> {
  const dir = dirname(path);
  await mkdir(dir, { recursive: true });
  const tmp = join(dir, `${basename(path)}.tmp-${process.pid}`);
  try {
    await writeFile(tmp, text, { encoding: 'utf8', ...(mode !== undefined ? { mode } : {}) });
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
}
