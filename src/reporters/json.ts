/**
 * The `--json` result file: the RunResult as-is (it is already the versioned, schema-described format).
 * The one reporter that does I/O, because a half-written result file would poison a later `compare`.
 */
import { mkdir, rename, unlink, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { RunResult } from '../result/schema.js';

/** The result as pretty JSON (2 spaces) with a trailing newline. */
export function formatJson(result: RunResult): string {
  return `${JSON.stringify(result, null, 2)}\n`;
}

/**
 * Writes the result to `path` atomically: a temp file in the same directory (so the rename stays on one
 * filesystem), then rename over the target. Creates the directory when missing. A reader sees either the
 * old file or the complete new one, never a truncated one.
 */
export async function writeResultFile(path: string, result: RunResult): Promise<void> {
  const dir = dirname(path);
  await mkdir(dir, { recursive: true });
  const tmp = join(dir, `${basename(path)}.tmp-${process.pid}`);
  try {
    await writeFile(tmp, formatJson(result), 'utf8');
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
}
