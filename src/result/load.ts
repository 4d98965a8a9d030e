/**
 * Reading a result file back: the file written by `--json` (or by demo and matrix), checked against the
 * schema of this version. Used by `compare` and anything else that takes results as input.
 */
import { readFile } from 'node:fs/promises';
import { ConfigError, formatPath, type ConfigIssue } from '../common/errors.js';
import { SCHEMA_VERSION } from './constants.js';
import type { RunResult } from './schema.js';

/**
 * Reads and validates a result file written by `--json`.
 *
 * @throws ConfigError naming the file (`source`) and every invalid field; an unreadable file or invalid
 *   JSON is reported with the issue path `(file)`.
 */
export async function loadResultFile(path: string): Promise<RunResult> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new ConfigError(path, [{ path: '(file)', message: `cannot read: ${errorMessage(err)}` }]);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(path, [{ path: '(file)', message: `not valid JSON: ${errorMessage(err)}` }]);
  }
  // A different schema version makes every other issue noise; say only that.
  if (typeof data === 'object' && data !== null && 'schemaVersion' in data) {
    const v = (data as { schemaVersion: unknown }).schemaVersion;
    if (v !== SCHEMA_VERSION) {
      throw new ConfigError(path, [
        {
          path: 'schemaVersion',
          message:
            `expected ${SCHEMA_VERSION}, got ${JSON.stringify(v)} ` +
            '(written by another session-bench version)',
        },
      ]);
    }
  }
  // The schema (and zod) are loaded here, not when a run's report imports this module.
  const { RunResultSchema } = await import('./schema.js');
  const parsed = RunResultSchema.safeParse(data);
  if (!parsed.success) {
    const issues: ConfigIssue[] = parsed.error.issues.map((i) => ({
      path: formatPath(i.path),
      message: i.message,
    }));
    throw new ConfigError(path, issues);
  }
  return parsed.data;
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
