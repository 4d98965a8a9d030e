/**
 * Beyond one machine, played locally: the Kubernetes Indexed Job of deploy/job.yaml, its generator
 * command run by N processes with the environment Kubernetes sets (JOB_COMPLETION_INDEX), against the
 * lab, then the merge Job's command. The merged figures are checked against the shards' own and the
 * lab's, and the manifests against the Kubernetes schema (kubernetes-models).
 */
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Job } from 'kubernetes-models/batch/v1/Job';
import { PersistentVolumeClaim } from 'kubernetes-models/v1/PersistentVolumeClaim';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { startLab, type Lab } from '../../src/lab/lab.js';
import { decodeHistogram, mergeEncoded, percentileMs } from '../../src/metrics/histogram.js';
import { loadResultFile } from '../../src/result/load.js';
import type { RunResult } from '../../src/result/schema.js';
import { BIN, runCli, runShell } from '../helpers/cli.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'sb-shards-'));
const results = join(dir, 'results');
const bin = join(dir, 'bin');
let lab: Lab;

interface Container { command: string[]; args: string[]; env: { name: string; value: string }[] }
const docs = parseAllDocuments(readFileSync(join(ROOT, 'deploy/job.yaml'), 'utf8')).map((d) => d.toJSON() as { kind: string; metadata: { name: string }; spec: Record<string, unknown> & { template?: { spec: { containers: Container[] } } } });
const generatorJob = docs.find((d) => d.kind === 'Job' && d.spec['completionMode'] === 'Indexed')!;
const mergeJob = docs.find((d) => d.kind === 'Job' && d.metadata.name === 'session-bench-merge')!;

/** A container's shell script with the pod's paths moved into this test's folder. */
function script(c: Container): string {
  expect(c.command).toEqual(['sh', '-c']);
  return c.args[0]!.replaceAll('/results/', `${results}/`).replaceAll('/scenario/scenario.yaml', join(ROOT, 'scenarios/lab.yaml'));
}

beforeAll(async () => {
  mkdirSync(results);
  mkdirSync(bin);
  // `session-bench` on the PATH, as in the image.
  symlinkSync(BIN, join(bin, 'session-bench'));
  lab = await startLab({ replicas: 2, balancer: 'round-robin', store: 'memory', delayMs: 1 });
}, 60_000);
afterAll(async () => {
  await lab.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('deploy/job.yaml', () => {
  it('validates against the Kubernetes schema: an Indexed Job of N generators, a merge Job, a shared volume', () => {
    for (const d of docs) {
      if (d.kind === 'Job') new Job(d as never).validate();
      else if (d.kind === 'PersistentVolumeClaim') new PersistentVolumeClaim(d as never).validate();
      else throw new Error(`unexpected kind ${d.kind}`);
    }
    const shards = generatorJob.spec.template!.spec.containers[0]!.env.find((e) => e.name === 'SHARDS')!.value;
    expect(generatorJob.spec['completions']).toBe(Number(shards));
    expect(generatorJob.spec['parallelism']).toBe(Number(shards));
    expect(script(generatorJob.spec.template!.spec.containers[0]!)).toContain('--shard "$JOB_COMPLETION_INDEX/$SHARDS" --start-at "$START_AT"');
  });

  it('played locally: 3 shards started together, then the merge; counts are the sums, p99 the union\'s, retention from the counts', async () => {
    const gen = generatorJob.spec.template!.spec.containers[0]!;
    const env = Object.fromEntries(gen.env.map((e) => [e.name, e.value]));
    const shards = Number(env['SHARDS']);
    const startAt = new Date(Date.now() + 4000).toISOString();
    const runs = await Promise.all(
      Array.from({ length: shards }, (_, i) =>
        runShell(script(gen), {
          timeoutMs: 90_000,
          env: {
            ...process.env,
            ...env,
            PATH: `${bin}:${process.env['PATH']}`,
            JOB_COMPLETION_INDEX: String(i),
            START_AT: startAt,
            TARGET: lab.url,
            VUS: '4',
            DURATION: '3s',
            PROMETHEUS_PORT: '0',
            PROMETHEUS_LINGER: '0s',
          },
        }),
      ),
    );
    for (const r of runs) expect(r.code, r.stderr).toBe(0);
    // Every shard waited for the same start: they began within a second of each other.
    const parts: RunResult[] = await Promise.all(Array.from({ length: shards }, (_, i) => loadResultFile(join(results, `shard-${i}.json`))));
    const starts = parts.map((p) => Date.parse(p.startedAt));
    expect(Math.max(...starts) - Math.min(...starts)).toBeLessThan(1000);
    expect(parts.map((p) => p.shard)).toEqual([0, 1, 2].map((index) => ({ index, count: 3 })));

    const m = mergeJob.spec.template!.spec.containers[0]!;
    const merge = await runShell(script(m), { timeoutMs: 60_000, env: { ...process.env, ...Object.fromEntries(m.env.map((e) => [e.name, e.value])), PATH: `${bin}:${process.env['PATH']}` } });
    // The merge Job gives the verdict of the whole test: round-robin memory sessions lose some, so exit 1.
    expect(merge.code, merge.stderr).toBe(1);
    expect(readdirSync(results).sort()).toEqual(['merged.json', 'shard-0.json', 'shard-1.json', 'shard-2.json', 'summary.md']);
    const merged = await loadResultFile(join(results, 'merged.json'));
    const sum = (f: (r: RunResult) => number): number => parts.reduce((a, p) => a + f(p), 0);
    expect(merged.requests.total).toBe(sum((p) => p.requests.total));
    expect(merged.session.losses).toBe(sum((p) => p.session.losses));
    expect(merged.session.logins).toBe(sum((p) => p.session.logins));
    expect(merged.session.flowRequests).toBe(sum((p) => p.session.flowRequests));
    expect(merged.session.users.total).toBe(12);
    expect(merged.session.users.affected).toBe(sum((p) => p.session.users.affected));
    // The lab saw exactly the merged losses.
    expect(merged.session.losses).toBe(lab.stats().totals.sessionMisses);
    // Retention from the summed counts, not an average of the shards' retentions.
    expect(merged.session.retention).toBe(merged.session.flowRequestsKept / merged.session.flowRequests);
    // p99 of the union of the shards' samples: their histograms added independently of the merge.
    const union = mergeEncoded(parts.map((p) => p.latency.hdr));
    expect(merged.latency.p99).toBe(percentileMs(union, 99));
    expect(merged.latency.count).toBe(union.totalCount);
    for (const [i, st] of merged.steps.entries()) expect(decodeHistogram(st.latency.hdr).totalCount).toBe(sum((p) => p.steps[i]!.latency.count));
    // Timelines aligned on the shards' common start: the buckets add up.
    expect(merged.timeline.reduce((a, b) => a + b.requests, 0)).toBe(merged.requests.total);
    expect(merged.options.concurrency).toBe(12);
    expect(merged.thresholds!.map((t) => t.expression)).toEqual(['retention>=99.9%', 'users_affected==0', 'p99<500ms']);
    // Disjoint VU numbers (and so users): every VU id of the loss events belongs to one shard's range.
    for (const [i, p] of parts.entries()) for (const e of p.session.lossEvents) expect(Math.floor((e.vu - 1) / 4)).toBe(i);
  });
});

describe('session-bench merge', () => {
  async function result(name: string, change: (r: RunResult) => void): Promise<string> {
    const base = await loadResultFile(join(results, 'shard-0.json'));
    change(base);
    const file = join(dir, `${name}.json`);
    writeFileSync(file, JSON.stringify(base));
    return file;
  }

  it('refuses results of different scenarios (exit 2) unless --force, and the same shard twice always', async () => {
    const other = await result('other', (r) => {
      r.scenario = 'checkout';
      r.shard = { index: 1, count: 3 };
    });
    const a = join(results, 'shard-0.json');
    const refused = await runCli(['merge', a, other]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('is a result of the scenario "checkout"');
    expect((await runCli(['merge', a, other, '--force'])).code).toBe(0);
    const twice = await runCli(['merge', a, a]);
    expect(twice.code).toBe(2);
    expect(twice.stderr).toContain('the same shard twice');
    const bad = await runCli(['merge', a, join(dir, 'nope.json')]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('nope.json');
  });

  it('thresholds and --baseline apply to the merged result', async () => {
    const files = [0, 1, 2].map((i) => join(results, `shard-${i}.json`));
    expect((await runCli(['merge', ...files, '--threshold', 'requests>0'])).code).toBe(0);
    expect((await runCli(['merge', ...files, '--threshold', 'p99<0.001ms'])).code).toBe(1);
    const fast = await result('fast', (r) => {
      r.shard = null;
      r.throughput.rps *= 1000;
    });
    const r = await runCli(['merge', ...files, '--baseline', fast]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/✗ FAIL {2}requests\/s/);
  });
});
