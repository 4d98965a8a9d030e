/**
 * --prometheus-port: scraped during a run against the lab, the counters only grow and never pass the
 * final result; scraped after it (--prometheus-linger), they are the result's counts exactly, and the
 * latency histogram per step holds as many answers as that step's histogram in the result. The Grafana
 * dashboard of deploy/ queries only metrics the endpoint serves.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLab, type Lab } from '../../src/lab/lab.js';
import { loadResultFile } from '../../src/result/load.js';
import { runCli } from '../helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'sb-prom-'));
let lab: Lab;
beforeAll(async () => {
  lab = await startLab({ replicas: 2, balancer: 'round-robin', store: 'memory', delayMs: 1 });
}, 60_000);
afterAll(async () => {
  await lab.close();
  rmSync(dir, { recursive: true, force: true });
});

/** name{labels} -> value, from the text exposition format. */
function parse(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    out.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return out;
}
const scrape = async (url: string): Promise<Map<string, number>> => parse(await (await fetch(url)).text());
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('--prometheus-port', () => {
  it('live metrics during the run; the final scrape equals the result', async () => {
    const json = join(dir, 'run.json');
    let output: () => string = () => '';
    const running = runCli(['run', 'scenarios/lab.yaml', '--target', lab.url, '-c', '6', '-d', '4s', '-q', '--json', json, '--prometheus-port', '0', '--prometheus-linger', '6s'], {
      timeoutMs: 60_000,
      onStart: (_k, o) => {
        output = o;
      },
    });
    let url = '';
    for (let i = 0; i < 100 && url === ''; i++) {
      url = /Prometheus metrics at (\S+)/.exec(output())?.[1] ?? '';
      await sleep(50);
    }
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    const S = 'scenario="lab login then browse"';
    const live: number[] = [];
    while (!output().includes('Result written to')) {
      const m = await scrape(url);
      live.push(m.get(`session_bench_requests_total{${S}}`) ?? 0);
      await sleep(400);
    }
    const last = await scrape(url);
    const text = await (await fetch(url)).text();
    const done = await running;
    expect(done.code, done.stderr).toBe(0);
    const r = await loadResultFile(json);

    // During the run: counts grow, and never pass the final figures.
    expect(live.length).toBeGreaterThanOrEqual(3);
    expect(live.some((v) => v > 0 && v < r.requests.total)).toBe(true);
    for (let i = 1; i < live.length; i++) expect(live[i]!).toBeGreaterThanOrEqual(live[i - 1]!);
    expect(Math.max(...live)).toBeLessThanOrEqual(r.requests.total);

    // After it: exactly the result.
    expect(last.get(`session_bench_requests_total{${S}}`)).toBe(r.requests.total);
    expect(last.get(`session_bench_failed_total{${S}}`)).toBe(r.requests.failed);
    expect(last.get(`session_bench_session_losses_total{${S}}`)).toBe(r.session.losses);
    expect(last.get(`session_bench_logins_total{${S}}`)).toBe(r.session.logins);
    expect(last.get(`session_bench_logged_in_requests_total{${S}}`)).toBe(r.session.flowRequests);
    expect(last.get(`session_bench_session_retention_ratio{${S}}`)).toBeCloseTo(r.session.retention!, 12);
    expect(last.get(`session_bench_users_affected{${S}}`)).toBe(r.session.users.affected);
    expect(last.get(`session_bench_errors_total{${S},kind="refused"}`)).toBe(0);
    for (const st of r.steps) {
      const labels = `${S},step="${st.name}"`;
      expect(last.get(`session_bench_request_duration_seconds_count{${labels}}`), st.name).toBe(st.latency.count);
      expect(last.get(`session_bench_request_duration_seconds_bucket{${labels},le="+Inf"}`)).toBe(st.latency.count);
      // Buckets are cumulative; the one at 30 s holds everything a lab answers.
      expect(last.get(`session_bench_request_duration_seconds_bucket{${labels},le="30"}`)).toBe(st.latency.count);
      expect(last.get(`session_bench_request_duration_seconds_bucket{${labels},le="0.001"}`)!).toBeLessThanOrEqual(last.get(`session_bench_request_duration_seconds_bucket{${labels},le="0.01"}`)!);
    }
    expect(text).toContain('# TYPE session_bench_requests_total counter');
    expect(text).toContain('# TYPE session_bench_request_duration_seconds histogram');

    // The dashboard asks only for what is served.
    const dashboard = readFileSync(new URL('../../deploy/grafana-dashboard.json', import.meta.url), 'utf8');
    const asked = new Set([...dashboard.matchAll(/session_bench_[a-z_]+/g)].map((m) => m[0]));
    const served = new Set([...text.matchAll(/^# TYPE (session_bench_[a-z_]+) (\w+)/gm)].flatMap((m) => (m[2] === 'histogram' ? [`${m[1]}_bucket`] : [m[1]!])));
    expect([...asked].filter((n) => !served.has(n))).toEqual([]);
    expect(asked.has('session_bench_session_losses_total')).toBe(true);
    expect(asked.has('session_bench_request_duration_seconds_bucket')).toBe(true);
  });

  it('a port in use is exit 2 before the run', async () => {
    const r = await runCli(['run', 'scenarios/lab.yaml', '--target', lab.url, '-n', '10', '-q', '--prometheus-port', String(new URL(lab.url).port)]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('is already in use');
  });
});
