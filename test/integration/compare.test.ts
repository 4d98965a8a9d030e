/** `session-bench compare` as a subprocess, on result files written the way `run --json` writes them. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ComparisonJson } from '../../src/reporters/compare.js';
import { formatJson, writeResultFile } from '../../src/reporters/json.js';
import { fakeResult, latencyOf } from '../helpers/fake-result.js';
import { runCli } from '../helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'sb-compare-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const ANSI = /\x1b\[/;

const one = join(dir, '01-1-replica.json');
const two = join(dir, '02-2-replicas.json');
beforeAll(async () => {
  // 1 replica: 500 requests in 10 s; 2 replicas round-robin: 950 requests, half the sessions lost.
  await writeResultFile(
    one,
    fakeResult({ label: '1 replica', durationMs: 10_000, requests: { total: 500, ok: 500 }, latency: latencyOf([10, 20, 30]), meta: { replicas: 1 } }),
  );
  await writeResultFile(
    two,
    fakeResult({
      label: '2 replicas round-robin',
      durationMs: 10_000,
      requests: { total: 950, ok: 950 },
      latency: latencyOf([5, 10, 15]),
      meta: { replicas: 2 },
      session: { retention: 0.5, flowRetention: 0.5, losses: 480, flowRequests: 960, flowRequestsKept: 480 },
    }),
  );
});

describe('session-bench compare', () => {
  it('prints a table, the first file as the baseline, with deltas', async () => {
    const r = await runCli(['compare', one, two]);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.split('\n');
    const row = (label: string): string => lines.find((l) => l.startsWith(`│ ${label} `))!;
    expect(row('1 replica')).toContain('50.00');
    expect(row('1 replica')).not.toMatch(/(%| pp)\)/);
    expect(row('2 replicas round-robin')).toContain('95.00 (+90.0%)');
    expect(row('2 replicas round-robin')).toContain('50.00% (-50.0 pp)');
    expect(row('2 replicas round-robin')).toContain('480 (was 0)');
    expect(lines[1]).toMatch(/Run.*Replicas.*Requests\/sec.*Time\/request.*p50.*p95.*p99.*Failed requests.*Session retention.*Flow retention.*Losses/);
    expect(r.stdout).not.toMatch(ANSI);
  });

  it('colors deltas when asked (FORCE_COLOR), never in markdown', async () => {
    const colored = await runCli(['compare', one, two], { env: { FORCE_COLOR: '1', NO_COLOR: undefined } });
    expect(colored.stdout).toContain('95.00 \x1b[32m(+90.0%)'); // better: green
    expect(colored.stdout).toContain('480 \x1b[31m(was 0)'); // worse: red
    const md = await runCli(['compare', one, two, '--format', 'markdown'], { env: { FORCE_COLOR: '1', NO_COLOR: undefined } });
    expect(md.code).toBe(0);
    expect(md.stdout).not.toMatch(ANSI);
    expect(md.stdout.split('\n')[0]).toMatch(/^\| Run \| Replicas \| Requests\/sec \|/);
  });

  it('prints json', async () => {
    const r = await runCli(['compare', one, two, '--format', 'json']);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout) as ComparisonJson;
    expect(doc.baseline).toBe('1 replica');
    expect(doc.runs.map((x) => [x.label, x.replicas, x.rps, x.losses])).toEqual([
      ['1 replica', 1, 50, 0],
      ['2 replicas round-robin', 2, 95, 480],
    ]);
    expect(doc.runs[1]!.deltas.rps).toBeCloseTo(90, 9);
  });

  it('accepts a single file', async () => {
    const r = await runCli(['compare', one]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('1 replica');
  });

  it('exits 2 naming every file that is not a valid result', async () => {
    const broken = join(dir, 'broken.json');
    writeFileSync(broken, '{"schemaVersion": 1, "label": 3}');
    const notJson = join(dir, 'notes.txt');
    writeFileSync(notJson, 'hello');
    const badField = join(dir, 'bad-field.json');
    const data = JSON.parse(formatJson(fakeResult())) as { session: { retention: number } };
    data.session.retention = 2;
    writeFileSync(badField, JSON.stringify(data));
    const r = await runCli(['compare', one, broken, notJson, badField, join(dir, 'missing.json')]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(`${broken} is invalid:`);
    expect(r.stderr).toContain(`${notJson} is invalid:\n  (file): not valid JSON`);
    expect(r.stderr).toContain(`${badField} is invalid:\n  session.retention:`);
    expect(r.stderr).toContain(`${join(dir, 'missing.json')} is invalid:\n  (file): cannot read`);
    expect(r.stderr).not.toContain(`${one} is invalid`);
    expect(r.stderr).not.toMatch(/\n\s+at .+:\d+:\d+\)/);
  });

  it('exits 2 for a missing file list or an unknown format', async () => {
    const none = await runCli(['compare']);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/missing required argument 'files'/);
    const fmt = await runCli(['compare', one, '--format', 'html']);
    expect(fmt.code).toBe(2);
    expect(fmt.stderr).toMatch(/--format.*html/);
  });
});
