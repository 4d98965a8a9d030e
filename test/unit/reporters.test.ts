import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ProgressSnapshot } from '../../src/result/schema.js';
import { formatCount, formatMs, formatRatioPct } from '../../src/reporters/format.js';
import { formatJson, writeResultFile } from '../../src/reporters/json.js';
import { formatProgressLine } from '../../src/reporters/progress.js';
import { createStyle, shouldUseColor } from '../../src/reporters/style.js';
import { formatRunReport } from '../../src/reporters/terminal.js';
import { fakeResult, latencyOf, lossEvent, noErrors, step } from '../helpers/fake-result.js';

const ANSI = /\x1b\[/;
const GREEN = '\x1b[32m';
const RED = '\x1b[31m';
const YELLOW = '\x1b[33m';

/** 1, 2, ..., 100 ms: every ab percentile is known. */
const ONE_TO_HUNDRED = Array.from({ length: 100 }, (_, i) => i + 1);

describe('shouldUseColor', () => {
  const tty = { isTTY: true };
  const pipe = { isTTY: false };
  it.each([
    ['TTY, clean env', tty, {}, true],
    ['pipe, clean env', pipe, {}, false],
    ['stream without isTTY', {}, {}, false],
    ['NO_COLOR=1 on a TTY', tty, { NO_COLOR: '1' }, false],
    ['NO_COLOR=0 still disables (any value)', tty, { NO_COLOR: '0' }, false],
    ['NO_COLOR=false still disables (any value)', tty, { NO_COLOR: 'false' }, false],
    ['NO_COLOR empty is ignored (no-color.org)', tty, { NO_COLOR: '' }, true],
    ['FORCE_COLOR=0 on a TTY', tty, { FORCE_COLOR: '0' }, false],
    ['FORCE_COLOR=false on a TTY', tty, { FORCE_COLOR: 'false' }, false],
    ['FORCE_COLOR=1 on a pipe', pipe, { FORCE_COLOR: '1' }, true],
    ['FORCE_COLOR=3 on a pipe', pipe, { FORCE_COLOR: '3' }, true],
    ['FORCE_COLOR empty on a pipe', pipe, { FORCE_COLOR: '' }, true],
    ['FORCE_COLOR=1 beats NO_COLOR', pipe, { FORCE_COLOR: '1', NO_COLOR: '1' }, true],
    ['TERM=dumb on a TTY', tty, { TERM: 'dumb' }, false],
  ] as const)('%s', (_name, stream, env, expected) => {
    expect(shouldUseColor(stream, env)).toBe(expected);
  });
});

describe('createStyle', () => {
  it('is the identity without color and adds ANSI codes with color, whatever the environment', () => {
    const plain = createStyle(false);
    for (const f of [plain.bold, plain.dim, plain.green, plain.red, plain.yellow, plain.cyan]) {
      expect(f('x')).toBe('x');
    }
    const colored = createStyle(true);
    expect(colored.green('x')).toBe(`${GREEN}x\x1b[39m`);
    expect(colored.red('x')).toMatch(ANSI);
  });
});

describe('number formatting', () => {
  it.each([
    [0.4123, '0.412'],
    [2.314, '2.31'],
    [12, '12.0'],
    [120.4, '120'],
    [1991.2, '1991'],
  ])('formatMs(%s) = %s', (ms, text) => expect(formatMs(ms)).toBe(text));

  it('never rounds a lossy retention up to 100%', () => {
    expect(formatRatioPct(0.99996)).toBe('99.99%');
    expect(formatRatioPct(1)).toBe('100.00%');
    expect(formatRatioPct(0.5012)).toBe('50.12%');
  });

  it('groups thousands without depending on the locale', () => {
    expect(formatCount(4210)).toBe('4,210');
    expect(formatCount(1234567)).toBe('1,234,567');
    expect(formatCount(12)).toBe('12');
  });
});

describe('formatRunReport: ab block', () => {
  const report = formatRunReport(fakeResult({ latency: latencyOf(ONE_TO_HUNDRED) }), { color: false });

  it("uses ab's labels, padded to ab's 24 columns", () => {
    for (const line of [
      'Target:                 http://127.0.0.1:8080',
      'Scenario:               lab login then browse',
      'Concurrency Level:      10',
      'Complete requests:      1000',
      'Failed requests:        0',
      'Total transferred:      123456 bytes',
      'Percentage of the requests served within a certain time (ms)',
    ]) {
      expect(report.split('\n')).toContain(line);
    }
    expect(report).not.toContain('Server Software');
  });

  it("computes the figures by ab's definitions", () => {
    // 1000 requests, 3.012 s, concurrency 10, 123456 bytes.
    const lines = report.split('\n');
    expect(lines).toContain('Time taken for tests:   3.012 seconds');
    expect(lines).toContain('Requests per second:    332.01 [#/sec] (mean)'); // 1000 / 3.012
    expect(lines).toContain('Time per request:       30.120 [ms] (mean)'); // 10 * 3.012 * 1000 / 1000
    expect(lines).toContain('Time per request:       3.012 [ms] (mean, across all concurrent requests)');
    expect(lines).toContain('Transfer rate:          40.03 [Kbytes/sec] received'); // 123456 / 1024 / 3.012
  });

  it('prints the percentiles of the recorded latencies, longest request last', () => {
    const table = report.split('\n').filter((l) => /^\s*[\d.]+%\s/.test(l));
    expect(table.map((l) => l.trim().split(/\s+/)[0])).toEqual([
      '50%', '66%', '75%', '80%', '90%', '95%', '98%', '99%', '99.9%', '100%',
    ]);
    const value = (p: string): number => Number(table.find((l) => l.trim().startsWith(p))!.trim().split(/\s+/)[1]);
    expect(value('50%')).toBe(50);
    expect(value('90%')).toBe(90);
    expect(value('99%')).toBe(99);
    expect(value('100%')).toBe(100);
    expect(table.at(-1)).toMatch(/ 100 \(longest request\)$/);
  });

  it('keeps sub-millisecond precision', () => {
    const r = fakeResult({ latency: latencyOf([0.412, 0.412, 0.412]) });
    expect(formatRunReport(r, { color: false })).toMatch(/^ {2}50% +0\.412$/m);
  });

  it('breaks down failures by error kind plus failed expectations, and shows Non-2xx only when present', () => {
    const clean = formatRunReport(fakeResult(), { color: false });
    expect(clean).not.toContain('Non-2xx');
    expect(clean).not.toContain('expectation:');

    const r = fakeResult({
      requests: { failed: 7, non2xx: 480, errors: noErrors({ refused: 3, reset: 1, dns: 1 }) },
    });
    const text = formatRunReport(r, { color: false });
    expect(text).toContain('Failed requests:        7\n   (refused: 3, reset: 1, timeout: 0, dns: 1, expectation: 2)');
    expect(text).toContain('Non-2xx responses:      480');
  });

  it('shows the label, interruption and open-model rate only when they apply', () => {
    const plain = formatRunReport(fakeResult(), { color: false });
    expect(plain).not.toMatch(/^Label:/m);
    expect(plain).not.toContain('Interrupted');
    expect(plain).not.toContain('Rate:');

    const r = fakeResult({
      label: '2 replicas round-robin',
      interrupted: true,
      stopReason: 'SIGINT',
      options: { rate: 50 },
      droppedIterations: 4,
    });
    const lines = formatRunReport(r, { color: false }).split('\n');
    expect(lines[0]).toBe('Interrupted:            partial results (SIGINT)');
    expect(lines).toContain('Label:                  2 replicas round-robin');
    expect(lines).toContain('Rate:                   50 iterations/s (open model)');
    expect(lines).toContain('Dropped iterations:     4 (not sent: every VU was busy; see below)');
    // Said loudly next to the latency, as requests the test meant to send and could not.
    expect(lines.join('\n')).toMatch(/WARNING: 4 iterations were dropped .*: the test meant to start them and could not/);
  });

  it('says when the target was judged unusable, near the top', () => {
    const lines = formatRunReport(fakeResult({ unusable: 'every login failed' }), { color: false }).split('\n');
    expect(lines[0]).toBe('Target unusable:        every login failed');
    expect(formatRunReport(fakeResult(), { color: false })).not.toContain('unusable');
  });
});

describe('formatRunReport: session block', () => {
  const lossy = fakeResult({
    session: {
      retention: 0.5012,
      flowRequests: 8005,
      flowRequestsKept: 4012,
      flowRetention: 0.48,
      flowIterations: 100,
      flowIterationsKept: 48,
      logins: 100,
      loginFailures: 2,
      losses: 1030,
      lossEvents: [
        lossEvent({ atMs: 1234, vu: 3 }),
        lossEvent({ atMs: 1500, vu: 4, reason: 'status', status: 401, url: 'http://127.0.0.1:8080/api/me' }),
        lossEvent({ atMs: 1600, vu: 5, reason: 'body-match', status: 200, backend: null, loginBackend: null }),
        lossEvent({ atMs: 1700 }),
        lossEvent({ atMs: 1800 }),
        lossEvent({ atMs: 1900 }),
      ],
      lossEventsDropped: 1024,
    },
    backends: { 'replica-2': 4988, 'replica-1': 5012 },
    steps: [step({ name: 'owners', method: 'GET', requests: 8005, losses: 1030 })],
  });

  it('reports logins, losses and both retentions with their counts', () => {
    const lines = formatRunReport(lossy, { color: false }).split('\n');
    expect(lines).toContain('Logins:                 100 (2 failed)');
    expect(lines).toContain('Session losses:         1030');
    expect(lines).toContain(
      'Session retention:      50.12% (4012 of 8005 logged-in requests kept their session)',
    );
    expect(lines).toContain('Flow retention:         48.00% (48 of 100 iterations completed without a loss)');
  });

  it('lists backends sorted by name with their share', () => {
    const text = formatRunReport(lossy, { color: false });
    expect(text).toMatch(/^Backends: +replica-1 +5012 +50\.1%\n +replica-2 +4988 +49\.9%$/m);
  });

  it('lists the first N loss events, then how many more', () => {
    const text = formatRunReport(lossy, { color: false });
    expect(text).toContain(
      '  +1.234s  vu 3  GET /owners  302 -> login page  answered by replica-2, logged in on replica-1',
    );
    expect(text).toContain('  +1.500s  vu 4  GET /api/me  401  answered by replica-2');
    expect(text).toMatch(/\+1\.600s {2}vu 5 {2}GET \/owners {2}200 login form$/m);
    expect(text).toContain('Loss events:            first 5 of 1030');
    expect(text).toContain('  (1025 more)');
    expect(text).not.toContain('+1.900s');

    const two = formatRunReport(lossy, { color: false, maxLossEvents: 2 });
    expect(two).toContain('  (1028 more)');
    expect(two).not.toContain('+1.600s');
  });

  it('says when sessions are not tracked, in one dim line', () => {
    const r = fakeResult({
      session: { tracked: false, retention: null, flowRetention: null, flowRequests: 0, flowRequestsKept: 0 },
    });
    expect(formatRunReport(r, { color: false })).toContain('Session: not tracked (no login in this scenario)');
    expect(formatRunReport(r, { color: true })).toContain('\x1b[2mSession: not tracked (no login in this scenario)');
  });

  it('colors retention green at 100%, yellow from 99%, red below', () => {
    const at = (retention: number): string =>
      formatRunReport(fakeResult({ session: { retention, losses: retention === 1 ? 0 : 1 } }), { color: true });
    expect(at(1)).toContain(`${GREEN}100.00%`);
    expect(at(0.995)).toContain(`${YELLOW}99.50%`);
    expect(at(0.5012)).toContain(`${RED}50.12%`);
  });
});

describe('formatRunReport: steps and color', () => {
  const r = fakeResult({
    requests: { failed: 1, errors: noErrors({ timeout: 1 }) },
    session: { retention: 0.9, losses: 3 },
    steps: [
      step({ name: '/login', phase: 'login', method: 'POST', requests: 100, latency: latencyOf([0.4, 0.5]) }),
      step({ name: 'GET /owners', requests: 900, failed: 1, losses: 3, latency: latencyOf(ONE_TO_HUNDRED) }),
    ],
  });

  it('prints one phase-prefixed row per step with latencies in ms', () => {
    const text = formatRunReport(r, { color: false });
    const row = (label: string): string[] =>
      text
        .split('\n')
        .find((l) => l.includes(label))!
        .split('│')
        .map((c) => c.trim())
        .filter((c) => c !== '');
    expect(row('login  POST /login')).toEqual(['login  POST /login', '100', '0', '0', '0.450', '0.400', '0.500', '0.500', '0.500']);
    // The method is not repeated when the step name already carries it.
    expect(row('flow   GET /owners')).toEqual(['flow   GET /owners', '900', '1', '3', '50.5', '50.0', '95.0', '99.0', '100']);
  });

  it('contains no ANSI code without color, and some with color', () => {
    expect(formatRunReport(r, { color: false })).not.toMatch(ANSI);
    expect(formatRunReport(r, { color: true })).toMatch(ANSI);
  });
});

describe('formatProgressLine', () => {
  const base: ProgressSnapshot = {
    elapsedMs: 12_400,
    totalMs: 30_000,
    requests: 4210,
    totalRequests: null,
    rps: 312.2,
    p99Ms: 4.1,
    retention: 0.5123,
    losses: 1030,
    usersAffected: 7,
    failed: 0,
    errors: 0,
    activeVus: 20,
    droppedIterations: 0,
  };

  it('shows time, requests, rate, p99, retention, losses, failures and errors on one line', () => {
    expect(formatProgressLine(base, { color: false })).toBe(
      '[  12s / 30s]  requests 4,210  312 req/s  p99 4.10 ms  retention 51.2%  users out 7  losses 1,030  failed 0  errors 0  vus 20',
    );
  });

  it('shows the planned request count when the run is count-bound, and omits unknown retention', () => {
    const line = formatProgressLine(
      { ...base, totalMs: null, totalRequests: 10_000, retention: null },
      { color: false },
    );
    expect(line).toBe('[  12s]  requests 4,210 / 10,000  312 req/s  p99 4.10 ms  losses 1,030  failed 0  errors 0  vus 20');
    expect(formatProgressLine({ ...base, droppedIterations: 970 }, { color: false })).toContain('vus 20  dropped 970');
  });

  it('never contains a line break, and is colored only on request', () => {
    for (const color of [false, true]) expect(formatProgressLine(base, { color })).not.toMatch(/[\r\n]/);
    expect(formatProgressLine(base, { color: false })).not.toMatch(ANSI);
    expect(formatProgressLine(base, { color: true })).toContain(`${RED}51.2%`);
  });
});

describe('json reporter', () => {
  let dir = '';
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
    dir = '';
  });

  it('formats pretty JSON with a trailing newline that round-trips', () => {
    const r = fakeResult({ label: 'x' });
    const text = formatJson(r);
    expect(text.endsWith('}\n')).toBe(true);
    expect(text).toContain('\n  "schemaVersion": 1,');
    expect(JSON.parse(text)).toEqual(r);
  });

  it('writes atomically into a directory it creates, leaving no temp file, replacing an old file', async () => {
    dir = await mkdtemp(join(tmpdir(), 'sb-json-'));
    const path = join(dir, 'nested', 'deeper', 'run.json');
    await writeResultFile(path, fakeResult({ label: 'first' }));
    await writeResultFile(path, fakeResult({ label: 'second' }));
    expect(JSON.parse(await readFile(path, 'utf8')).label).toBe('second');
    expect(await readdir(join(dir, 'nested', 'deeper'))).toEqual(['run.json']);
  });

  it('rejects and removes its temp file when the rename fails', async () => {
    dir = await mkdtemp(join(tmpdir(), 'sb-json-'));
    // A non-empty directory where the file should go: the temp file is written, the rename fails.
    const path = join(dir, 'run.json');
    await mkdir(path);
    await writeFile(join(path, 'keep'), 'x');
    await expect(writeResultFile(path, fakeResult())).rejects.toThrow();
    expect(await readdir(dir)).toEqual(['run.json']);
  });
});
