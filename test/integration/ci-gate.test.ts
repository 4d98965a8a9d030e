/**
 * The CI gate end to end, through the CLI as a subprocess: thresholds and the baseline regression check
 * decide exit 0 / 1 / 2; abortOnFail stops a run early; JUnit XML read back by a JUnit parser; the
 * Markdown summary checked against the JSON's own figures, also through $GITHUB_STEP_SUMMARY.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseJunit } from 'junit2json';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLab, type Lab } from '../../src/lab/lab.js';
import { formatCount, formatRatioPct } from '../../src/reporters/format.js';
import { loadResultFile } from '../../src/result/load.js';
import type { RunResult } from '../../src/result/schema.js';
import { runCli } from '../helpers/cli.js';
import { startServer, type TestServer } from '../helpers/servers.js';

const dir = mkdtempSync(join(tmpdir(), 'sb-gate-'));
let server: TestServer;
let lab: Lab;
let current: RunResult;
const currentJson = join(dir, 'current.json');

beforeAll(async () => {
  server = await startServer((_req, res) => void res.writeHead(200, { 'content-type': 'text/plain' }).end('ok'));
  lab = await startLab({ replicas: 2, balancer: 'round-robin', store: 'memory' });
  const r = await runCli(['run', `${server.url}/`, '-n', '300', '-c', '4', '-q', '--json', currentJson]);
  expect(r.code, r.stderr).toBe(0);
  current = await loadResultFile(currentJson);
}, 60_000);
afterAll(async () => {
  await server.close();
  await lab.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A baseline file: the current result changed by `change`. */
function baseline(name: string, change: (r: RunResult) => void): string {
  const r = structuredClone(current);
  change(r);
  const file = join(dir, `${name}.json`);
  writeFileSync(file, JSON.stringify(r));
  return file;
}
const quick = (...args: string[]): Promise<Awaited<ReturnType<typeof runCli>>> => runCli(['run', `${server.url}/`, '-n', '300', '-c', '4', '-q', ...args]);

describe('run --baseline', () => {
  it('exit 0 when no figure is worse than its limit, with the checks in the report and the JSON', async () => {
    const easy = baseline('easy', (r) => {
      r.throughput.rps /= 10;
      r.latency.p95 *= 10;
      r.latency.p99 *= 10;
    });
    const json = join(dir, 'pass.json');
    const r = await quick('--baseline', easy, '--json', json);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`Against the baseline ${easy}`);
    const result = await loadResultFile(json);
    expect(result.regression!.checks.map((c) => [c.figure, c.ok])).toEqual([
      ['rps', true],
      ['p95', true],
      ['p99', true],
      ['error_rate', true],
      ['retention', true],
      ['users_affected', true],
    ]);
  });

  it('exit 1 when a figure is worse than its limit, and the table says why', async () => {
    const fast = baseline('fast', (r) => {
      r.throughput.rps *= 100;
      r.latency.p95 *= 10;
      r.latency.p99 *= 10;
    });
    const r = await quick('--baseline', fast);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stdout).toMatch(/✗ FAIL {2}requests\/s .* lower, more than the limit of 10\.0%/);
    expect(r.stderr).toMatch(/regression against .*fast\.json: rps \(/);
    // A looser limit for that figure passes.
    expect((await quick('--baseline', fast, '--max-regression', 'rps=99.5%')).code).toBe(0);
  });

  it.each([
    [['--baseline', join(dir, 'missing.json')], /--baseline.*missing\.json.*cannot read/s],
    [['--baseline', '/etc/hostname'], /not valid JSON/],
    [['--max-regression', '10%'], /--max-regression: only with --baseline FILE/],
    [['--baseline', 'BASE', '--max-regression', 'latency=5%'], /--max-regression: unknown figure "latency"/],
    [['--force'], /--force: only with --baseline FILE/],
  ])('exit 2 before the run for %j', async (args, message) => {
    const file = baseline('any', () => undefined);
    const r = await quick(...args.map((a) => (a === 'BASE' ? file : a)));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stdout).toBe('');
  });

  it('a baseline of another scenario: exit 2, unless --force', async () => {
    const other = baseline('other', (r) => {
      r.scenario = 'checkout flow';
      r.throughput.rps /= 10;
      r.latency.p95 *= 10;
      r.latency.p99 *= 10;
    });
    const r = await quick('--baseline', other);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('is a result of the scenario "checkout flow"');
    expect(r.stdout).toBe('');
    expect((await quick('--baseline', other, '--force')).code).toBe(0);
  });
});

describe('compare --fail-on-regression', () => {
  it('exit 1 when a later run regressed against the first, 0 otherwise; other scenarios need --force', async () => {
    const fast = baseline('cmp-fast', (r) => {
      r.throughput.rps *= 100;
    });
    const bad = await runCli(['compare', fast, currentJson, '--fail-on-regression']);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/current\.json: Against the baseline .*cmp-fast\.json/);
    expect(bad.stdout).toContain('✗ FAIL');
    expect((await runCli(['compare', fast, currentJson])).code).toBe(0);
    expect((await runCli(['compare', currentJson, currentJson, '--fail-on-regression'])).code).toBe(0);
    const other = baseline('cmp-other', (r) => {
      r.scenario = 'another';
    });
    expect((await runCli(['compare', other, currentJson])).code).toBe(2);
    expect((await runCli(['compare', other, currentJson, '--force'])).code).toBe(0);
    expect((await runCli(['compare', currentJson, currentJson, '--max-regression', '5%'])).code).toBe(2);
  });
});

describe('thresholds through the CLI', () => {
  it.each<[string[], number]>([
    [['--threshold', 'p99<10s', '--threshold', 'failed==0'], 0],
    [['--threshold', 'p99<0.001ms'], 1],
    [['--threshold', 'rps>1000000'], 1],
    [['--threshold', 'retention>=99%'], 1], // quick mode without a login: not measured, fails
    [['--threshold', 'p99{step:"GET SERVER/"}<10s'], 0],
    [['--threshold', 'p99{step:"GET /nope"}<10s'], 2],
    [['--threshold', 'p99<fast'], 2],
    [['--threshold', 'p99<1s', '--abort-on-fail'], 2],
  ])('%j: exit %d', async (args, code) => {
    const r = await quick(...args.map((a) => a.replace('SERVER', server.url)));
    expect(r.code, r.stderr).toBe(code);
    if (code === 2) expect(r.stdout).toBe('');
    if (args[1] === 'retention>=99%') expect(r.stdout).toMatch(/✗ FAIL {2}retention>=99% +\(not measured\)/);
  });

  it('--abort-on-fail stops the run as soon as losses==0 can no longer pass', async () => {
    const json = join(dir, 'abort.json');
    const r = await runCli(['run', 'scenarios/lab.yaml', '--target', lab.url, '-c', '4', '-d', '60s', '-q', '--threshold', 'losses==0', '--threshold', 'p99<10s', '--abort-on-fail', '--json', json], { timeoutMs: 60_000 });
    expect(r.code, r.stderr).toBe(1);
    const result = await loadResultFile(json);
    expect(result.stopReason).toBe('threshold losses==0 can no longer pass (abortOnFail)');
    expect(result.durationMs).toBeLessThan(30_000);
    expect(result.interrupted).toBe(false);
    expect(result.thresholds!.map((t) => t.ok)).toEqual([false, true]);
  });
});

describe('JUnit and Markdown', () => {
  it('--junit: a test case per threshold and per regression check, read back by a JUnit parser', async () => {
    const fast = baseline('junit-fast', (r) => {
      r.throughput.rps *= 100;
      r.latency.p95 *= 10;
      r.latency.p99 *= 10;
    });
    const xml = join(dir, 'gate.xml');
    const r = await quick('--threshold', 'p99<10s', '--threshold', 'failed>0', '--baseline', fast, '--junit', xml);
    expect(r.code, r.stderr).toBe(1);
    const doc = (await parseJunit(readFileSync(xml, 'utf8'))) as { tests: number; failures: number; testsuite: { name: string; tests: number; failures: number; testcase: { name: string; failure?: { message: string }[] }[] }[] };
    expect(doc.tests).toBe(2 + 6);
    expect(doc.failures).toBe(2);
    const [thresholds, regression] = doc.testsuite;
    expect(thresholds!.testcase.map((c) => [c.name, c.failure === undefined])).toEqual([
      ['p99<10s', true],
      ['failed>0', false],
    ]);
    expect(thresholds!.testcase[1]!.failure![0]!.message).toBe('failed>0: measured 0');
    expect(regression!.name).toContain('junit-fast.json');
    expect(regression!.testcase.filter((c) => c.failure !== undefined).map((c) => c.name)).toEqual(['requests/s (at most 10% worse)']);
  });

  it('--summary-md and $GITHUB_STEP_SUMMARY: the verdict and the JSON\'s own figures', async () => {
    const md = join(dir, 'summary.md');
    const stepSummary = join(dir, 'step-summary.md');
    writeFileSync(stepSummary, '# earlier step\n');
    const json = join(dir, 'md.json');
    const r = await runCli(['run', 'scenarios/lab.yaml', '--target', lab.url, '-c', '4', '-n', '400', '-q', '--json', json, '--summary-md', md, '--threshold', 'losses==0'], {
      env: { ...process.env, GITHUB_STEP_SUMMARY: stepSummary },
    });
    expect(r.code).toBe(1);
    const result = await loadResultFile(json);
    const text = readFileSync(md, 'utf8');
    expect(text).toMatch(/^## session-bench: lab login then browse ❌ failed/);
    expect(text).toContain('**1 threshold failed**');
    expect(text).toContain(`| Requests | ${formatCount(result.requests.total)} |`);
    expect(text).toContain(`| Session retention | ${formatRatioPct(result.session.retention!)} |`);
    expect(text).toContain(`| Users logged out | ${result.session.users.affected} of ${result.session.users.total} |`);
    expect(text).toContain(`| Session losses | ${formatCount(result.session.losses)} |`);
    expect(text).toContain(`| losses==0 | ${result.session.losses} | ❌ fail |`);
    // Appended to the job summary, after what was there.
    expect(readFileSync(stepSummary, 'utf8')).toBe(`# earlier step\n${text}\n`);
  });

  it('report paths are checked before the run: exit 2 naming the flag', async () => {
    const r = await quick('--html', dir, '--junit', '/etc/hostname/y.xml');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`--html: "${dir}" is a folder`);
    expect(r.stderr).toContain('--junit: "/etc/hostname" is a file');
  });
});
