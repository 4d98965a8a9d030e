/// <reference lib="dom" />
/**
 * The HTML reports opened in a real browser: Debian's chromium, headless, driven by playwright-core. The
 * charts must render with the run's own data, with no console error and no request but the file itself
 * (the page's Content Security Policy forbids any); a screenshot of each is kept in the test's folder.
 */
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadResultFile } from '../../src/result/load.js';
import type { RunResult } from '../../src/result/schema.js';
import { startLab, type Lab } from '../../src/lab/lab.js';
import { labControlCommand } from '../../src/cli/demo-rows.js';
import { runCli } from '../helpers/cli.js';

const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
const dir = mkdtempSync(join(tmpdir(), 'sb-html-'));
let browser: Browser | undefined;
let lab: Lab | undefined;

beforeAll(async () => {
  if (CHROMIUM === undefined) return;
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu'] });
  lab = await startLab({ replicas: 2, balancer: 'sticky', store: 'memory', delayMs: 2 });
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await lab?.close();
  rmSync(dir, { recursive: true, force: true });
});

interface RenderedChart {
  id: string;
  series: number;
  points: number;
  sums: number[];
  canvases: number;
}

/** Opens `file`, returns what the page rendered, the console errors and every request it made. */
async function open(file: string, shot: string): Promise<{ charts: RenderedChart[]; errors: string[]; requests: string[]; painted: number; text: string }> {
  const page = await browser!.newPage({ viewport: { width: 1200, height: 900 } });
  const errors: string[] = [];
  const requests: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('request', (r) => requests.push(r.url()));
  await page.goto(pathToFileURL(file).href);
  await page.waitForFunction(() => (window as unknown as { sessionBenchReport?: unknown }).sessionBenchReport !== undefined);
  const charts = await page.evaluate(() => (window as unknown as { sessionBenchReport: { charts: RenderedChart[] } }).sessionBenchReport.charts);
  // The throughput chart's canvas has been drawn on (not blank).
  const painted = await page.evaluate(() => {
    const c = document.querySelector('#chart-rps canvas') as HTMLCanvasElement;
    const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 3; i < d.length; i += 4) if (d[i]! > 0) n++;
    return n;
  });
  const text = await page.evaluate(() => document.body.innerText);
  await page.screenshot({ path: shot, fullPage: true });
  await page.close();
  return { charts, errors, requests, painted, text };
}

describe.skipIf(CHROMIUM === undefined)(`HTML reports in headless Chromium${CHROMIUM === undefined ? ' (skipped: no chromium; apt-get install chromium)' : ''}`, () => {
  let result: RunResult;
  const html = join(dir, 'run.html');

  it('run --html: charts of the run over time, with the event, and the tables', async () => {
    const json = join(dir, 'run.json');
    const cli = await runCli(
      ['run', 'scenarios/lab.yaml', '--target', lab!.url, '-c', '10', '-d', '4s', '-q', '--json', json, '--html', html, '--threshold', 'p99<2s', '--threshold', 'losses==0',
        '--at', `2s=${labControlCommand(lab!.url, 'restart/1', process.env)}`],
      { timeoutMs: 60_000 },
    );
    expect(cli.code, cli.stderr).toBe(1); // losses==0 fails: the restart logs users out
    result = await loadResultFile(json);
    const shot = join(dir, 'run.png');
    const page = await open(html, shot);
    expect(page.errors).toEqual([]);
    expect(page.requests).toEqual([pathToFileURL(html).href]);
    expect(statSync(shot).size).toBeGreaterThan(10_000);
    expect(page.painted).toBeGreaterThan(1000);
    const byId = new Map(page.charts.map((c) => [c.id, c]));
    expect([...byId.keys()]).toEqual(['chart-rps', 'chart-latency', 'chart-retention', 'chart-losses', 'chart-vus']);
    for (const c of page.charts) {
      expect(c.canvases).toBeGreaterThan(0);
      expect(c.points).toBe(result.timeline.length);
    }
    // The charts carry the run's own figures.
    expect(byId.get('chart-rps')!.sums).toEqual([result.requests.total]);
    expect(byId.get('chart-losses')!.sums).toEqual([result.session.losses]);
    expect(byId.get('chart-latency')!.series).toBe(2);
    // The tables: thresholds, the event, the hop matrix, steps, status codes.
    expect(page.text).toContain('losses==0');
    expect(page.text).toMatch(/✗ failed/);
    expect(page.text).toContain('/_lab/restart/1');
    expect(page.text).toMatch(/replica-1\s+replica-2\s+\d+/);
    expect(page.text).toContain('GET /owners');
    expect(page.text).toMatch(/200\s+[\d,]+/);
  });

  it('compare --html: the runs side by side, a series per run', async () => {
    const base = join(dir, 'base.json');
    const one = await runCli(['run', 'scenarios/lab.yaml', '--target', lab!.url, '-c', '5', '-d', '2s', '-q', '--json', base], { timeoutMs: 60_000 });
    expect(one.code, one.stderr).toBe(0);
    const out = join(dir, 'compare.html');
    const cli = await runCli(['compare', base, join(dir, 'run.json'), '--html', out]);
    expect(cli.code, cli.stderr).toBe(0);
    const page = await open(out, join(dir, 'compare.png'));
    expect(page.errors).toEqual([]);
    expect(page.requests).toEqual([pathToFileURL(out).href]);
    const rps = page.charts.find((c) => c.id === 'chart-rps')!;
    expect(rps.series).toBe(2);
    const baseline = await loadResultFile(base);
    expect(rps.sums).toEqual([baseline.requests.total, result.requests.total]);
    expect(page.text).toContain('2 runs compared');
  });
});
