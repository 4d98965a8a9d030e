/**
 * Reading a scenario: a YAML or JSON file, or data from code, validated against the schema and compiled.
 * Every problem is reported at once as `path: message` through {@link ConfigError} (exit 2).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, resolve as resolvePath } from 'node:path';
import type { z as Z } from 'zod';
import { ConfigError, formatPath, type ConfigIssue } from '../common/errors.js';
import { compileScenario, type ScenarioOverrides } from './compile.js';
import { scenarioFileSchema } from './schema.js';
import type { Scenario } from './types.js';

// yaml, like zod, is loaded when a YAML file is read (~0.07 s a quick-mode run does not spend).
const requireCjs = createRequire(import.meta.url);
const parseYaml = (text: string): unknown => (requireCjs('yaml') as typeof import('yaml')).parse(text);

/** Validates and compiles parsed scenario data (from YAML, JSON or code). */
export function parseScenario(data: unknown, source: string, baseDir = process.cwd(), overrides: ScenarioOverrides = {}): Scenario {
  const parsed = scenarioFileSchema().safeParse(data);
  if (!parsed.success) {
    throw new ConfigError(
      source,
      parsed.error.issues.flatMap((i) => flattenIssue(i)),
    );
  }
  return compileScenario(parsed.data, baseDir, source, overrides);
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
export function loadScenario(file: string, overrides: ScenarioOverrides = {}): Scenario {
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
  return parseScenario(data, file, dirname(resolvePath(file)), overrides);
}
