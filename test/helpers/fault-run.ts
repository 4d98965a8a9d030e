/** Runs the CLI against a misbehaving server and reads back its JSON result (fault and bad-input suites). */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RunResultSchema, type RunResult } from '../../src/result/schema.js';
import { runCli, type CliResult } from './cli.js';

export interface FaultRun extends CliResult {
  /** The JSON result, validated against the schema (every run must write a complete one). */
  result: RunResult;
  /** Wall time of the whole process, for a generous upper bound (never a tight one). */
  elapsedMs: number;
}

/**
 * Memory a faulty target may make the generator use, at most: Node with this tool holds ~80-100 MB; a run
 * whose memory grows without bound (the EMFILE bug grew ~100 MB/s) is caught well before this.
 */
export const MAX_GENERATOR_RSS_MB = 400;

/** `session-bench run ARGS --json FILE -q`, in a temporary folder removed afterwards; the generator's memory stays bounded. */
export async function runWithResult(args: string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<FaultRun> {
  const dir = mkdtempSync(join(tmpdir(), 'sb-fault-'));
  try {
    const json = join(dir, 'r.json');
    const t0 = performance.now();
    const r = await runCli(['run', ...args, '--json', json, '-q'], { env: opts.env, timeoutMs: opts.timeoutMs ?? 60_000 });
    const elapsedMs = performance.now() - t0;
    let text: string;
    try {
      text = readFileSync(json, 'utf8');
    } catch {
      throw new Error(`no result written (exit ${r.code}, signal ${r.signal}):\n${r.stdout}\n${r.stderr}`);
    }
    const result = RunResultSchema.parse(JSON.parse(text));
    if (result.generator === undefined) throw new Error('the result does not say what the run cost the generator');
    if (result.generator.maxRssMb > MAX_GENERATOR_RSS_MB) {
      throw new Error(`the generator used ${result.generator.maxRssMb} MB (bound ${MAX_GENERATOR_RSS_MB} MB)`);
    }
    return { ...r, result, elapsedMs };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Transport errors of a result, all kinds. */
export const errorTotal = (r: RunResult): number => Object.values(r.requests.errors).reduce((a, b) => a + b, 0);
