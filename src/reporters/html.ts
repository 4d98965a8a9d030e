/**
 * The HTML report (`run --html`, `compare --html`): one self-contained file that opens without a network.
 * The charts are uPlot's (its script and stylesheet are inlined from the package; this is the only
 * module that reads it), fed with the result's own timeline; the tables are plain HTML. A Content
 * Security Policy forbids the page any request, so a report can be opened anywhere and leaks nothing.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { RunResult } from '../result/schema.js';
import { abFigures, formatCount, formatMs, formatRatioPct, runName } from './format.js';
import { gatePassed } from './markdown.js';
import { regressionFigureName, regressionLimitText, regressionValueText, thresholdActualText } from './verdict.js';

const requireCjs = createRequire(import.meta.url);
let uplotAssets: { js: string; css: string } | null = null;
/** uPlot's minified script and stylesheet, read once from the installed package. */
function uplot(): { js: string; css: string } {
  if (uplotAssets !== null) return uplotAssets;
  const dir = requireCjs.resolve('uplot/dist/uPlot.iife.min.js').replace(/uPlot\.iife\.min\.js$/, '');
  uplotAssets = { js: readFileSync(`${dir}uPlot.iife.min.js`, 'utf8'), css: readFileSync(`${dir}uPlot.min.css`, 'utf8') };
  return uplotAssets;
}

const esc = (s: string): string => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
/** JSON inside a <script> element: `<` escaped so that no string can close the element. */
const scriptJson = (v: unknown): string => JSON.stringify(v).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');

function htmlTable(head: readonly string[], rows: readonly (readonly string[])[], cls = ''): string {
  if (rows.length === 0) return '';
  return `<table${cls ? ` class="${cls}"` : ''}><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${rows
    .map((r) => `<tr>${r.map((c, i) => `<td${i > 0 ? ' class="n"' : ''}>${c}</td>`).join('')}</tr>`)
    .join('')}</tbody></table>`;
}

const section = (title: string, body: string): string => (body === '' ? '' : `<section><h2>${esc(title)}</h2>${body}</section>`);
const mark = (ok: boolean): string => (ok ? '<span class="ok">✓ pass</span>' : '<span class="bad">✗ fail</span>');

/** What the page's script charts: per run, the timeline's series and the events. */
interface ChartRun {
  name: string;
  seconds: number[];
  rps: number[];
  p50: (number | null)[];
  p99: (number | null)[];
  retention: (number | null)[];
  losses: number[];
  activeVus: number[];
  events: { label: string; start: number; end: number | null }[];
}

function chartRun(r: RunResult, name: string): ChartRun {
  const t = r.timeline;
  return {
    name,
    seconds: t.map((b) => b.second),
    rps: t.map((b) => b.requests),
    p50: t.map((b) => b.p50),
    p99: t.map((b) => b.p99),
    retention: t.map((b) => (b.flowRequests === 0 ? null : (b.flowRequestsKept / b.flowRequests) * 100)),
    losses: t.map((b) => b.losses),
    activeVus: t.map((b) => b.activeVus),
    events: r.events.flatMap((e, i) => (e.startedMs === null ? [] : [{ label: `event ${i + 1}: ${e.command}`, start: e.startedMs / 1000, end: e.endedMs === null ? null : e.endedMs / 1000 }])),
  };
}

/** The page's script: one uPlot chart per figure, a series per run, event bands drawn by a plugin. */
const CHART_SCRIPT = `
(function () {
  var data = JSON.parse(document.getElementById('sb-data').textContent);
  var colors = ['#1f6feb', '#d1242f', '#1a7f37', '#9a6700', '#8250df', '#bf3989', '#0a3069'];
  var rendered = [];
  function eventsPlugin(runs) {
    return { hooks: { draw: [function (u) {
      var ctx = u.ctx; ctx.save();
      runs.forEach(function (run, ri) { run.events.forEach(function (e) {
        var x0 = u.valToPos(e.start, 'x', true);
        var x1 = u.valToPos(e.end === null ? u.scales.x.max : e.end, 'x', true);
        ctx.fillStyle = 'rgba(154,103,0,0.15)';
        ctx.fillRect(x0, u.bbox.top, Math.max(2, x1 - x0), u.bbox.height);
        ctx.strokeStyle = colors[ri % colors.length]; ctx.setLineDash([4, 3]); ctx.lineWidth = 2;
        ctx.beginPath(); ctx.moveTo(x0, u.bbox.top); ctx.lineTo(x0, u.bbox.top + u.bbox.height); ctx.stroke();
      }); });
      ctx.restore();
    }] } };
  }
  function chart(id, title, unit, pick, series) {
    var el = document.getElementById(id);
    if (!el) return;
    var longest = data.runs.reduce(function (a, r) { return r.seconds.length > a.length ? r.seconds : a; }, []);
    var cols = [longest];
    var defs = [{ label: 'second' }];
    data.runs.forEach(function (run, ri) {
      series.forEach(function (s, si) {
        var values = pick(run, s.key);
        cols.push(longest.map(function (_, i) { return i < values.length ? values[i] : null; }));
        defs.push({ label: (data.runs.length > 1 ? run.name + ': ' : '') + s.label, stroke: colors[(ri * series.length + si) % colors.length], width: 2, spanGaps: false,
          value: function (u, v) { return v == null ? '-' : (Math.round(v * 100) / 100) + ' ' + unit; } });
      });
    });
    var u = new uPlot({ title: title, width: Math.min(1100, el.clientWidth || 900), height: 240, series: defs, scales: { x: { time: false } },
      axes: [{ label: 'seconds since start' }, { label: unit }], plugins: [eventsPlugin(data.runs)] }, cols, el);
    var sums = cols.slice(1).map(function (c) { return c.reduce(function (a, v) { return v == null ? a : a + v; }, 0); });
    rendered.push({ id: id, title: title, series: defs.length - 1, points: longest.length, sums: sums, canvases: el.querySelectorAll('canvas').length });
    return u;
  }
  chart('chart-rps', 'Throughput', 'req/s', function (r) { return r.rps; }, [{ key: 'rps', label: 'requests/s' }]);
  chart('chart-latency', 'Latency per second', 'ms', function (r, k) { return r[k]; }, [{ key: 'p50', label: 'p50' }, { key: 'p99', label: 'p99' }]);
  chart('chart-retention', 'Session retention per second', '%', function (r) { return r.retention; }, [{ key: 'retention', label: 'retention' }]);
  chart('chart-losses', 'Session losses per second', 'losses', function (r) { return r.losses; }, [{ key: 'losses', label: 'losses' }]);
  chart('chart-vus', 'Active virtual users', 'VUs', function (r) { return r.activeVus; }, [{ key: 'activeVus', label: 'active VUs' }]);
  window.sessionBenchReport = { charts: rendered };
})();
`;

const STYLE = `
body { font: 14px/1.45 system-ui, sans-serif; margin: 24px auto; max-width: 1140px; color: #1f2328; padding: 0 12px; }
h1 { font-size: 22px; margin-bottom: 4px; } h2 { font-size: 17px; margin: 28px 0 8px; border-bottom: 1px solid #d0d7de; padding-bottom: 4px; }
table { border-collapse: collapse; margin: 8px 0; } th, td { border: 1px solid #d0d7de; padding: 4px 10px; text-align: left; }
td.n { text-align: right; font-variant-numeric: tabular-nums; } th { background: #f6f8fa; }
.ok { color: #1a7f37; font-weight: 600; } .bad { color: #d1242f; font-weight: 600; } .meta { color: #57606a; }
.verdict { font-size: 18px; margin: 12px 0; } .chart { margin: 12px 0; }
`;

function page(title: string, head: string, tables: string, runs: ChartRun[], charts: string[]): string {
  const { js, css } = uplot();
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title><style>${css}${STYLE}</style></head>
<body>${head}
<section><h2>Over time</h2><p class="meta">Per second; the shaded bands are the events (from start to end).</p>${charts.map((id) => `<div class="chart" id="${id}"></div>`).join('')}</section>
${tables}
<script id="sb-data" type="application/json">${scriptJson({ runs })}</script>
<script>${js}</script><script>${CHART_SCRIPT}</script>
</body></html>
`;
}

function runTables(r: RunResult): string {
  const ab = abFigures(r);
  const ss = r.session;
  const parts: string[] = [];
  const l = r.latency;
  parts.push(
    section(
      'Figures',
      htmlTable(
        ['figure', 'value'],
        [
          ['Complete requests', formatCount(r.requests.total)],
          ['Failed requests', formatCount(r.requests.failed)],
          ['Requests per second', ab.rps.toFixed(2)],
          ['Latency p50 / p95 / p99 / max', l.count === 0 ? 'not measured' : `${formatMs(l.p50)} / ${formatMs(l.p95)} / ${formatMs(l.p99)} / ${formatMs(l.max)} ms`],
          ...(ss.tracked
            ? [
                ['Session retention', ss.retention === null ? 'not measured' : formatRatioPct(ss.retention)],
                ['Users logged out', `${formatCount(ss.users.affected)} of ${formatCount(ss.users.total)}`],
                ['Session losses', formatCount(ss.losses)],
                ['Silent regenerations', formatCount(ss.silentRegenerations)],
              ]
            : []),
          ...(r.options.rate !== null ? [['Dropped iterations', formatCount(r.droppedIterations)]] : []),
        ].map(([a, b]) => [esc(a!), esc(b!)]),
      ),
    ),
  );
  const ts = r.thresholds ?? [];
  parts.push(section('Thresholds', htmlTable(['threshold', 'measured', 'result'], ts.map((t) => [esc(t.expression), esc(thresholdActualText(t)), mark(t.ok)]))));
  if (r.regression !== undefined) {
    parts.push(
      section(
        `Against the baseline ${r.regression.baseline}`,
        htmlTable(
          ['figure', 'baseline', 'this run', 'change', 'allowed', 'result'],
          r.regression.checks.map((c) => [esc(regressionFigureName(c)), esc(regressionValueText(c, c.baseline)), esc(regressionValueText(c, c.actual)), esc(c.note), esc(regressionLimitText(c)), mark(c.ok)]),
        ),
      ),
    );
  }
  parts.push(
    section(
      'Events',
      htmlTable(
        ['event', 'status', 'ran', 'losses before / during / after', 'retention during', 'p99 during'],
        r.events.map((e, i) => [
          `${i + 1}. at ${(e.atMs / 1000).toFixed(1)}s: <code>${esc(e.command)}</code>`,
          esc(e.status + (e.exitCode !== null ? ` (exit ${e.exitCode})` : '')),
          e.startedMs === null ? '-' : esc(`${(e.startedMs / 1000).toFixed(1)}s - ${e.endedMs === null ? '?' : `${(e.endedMs / 1000).toFixed(1)}s`}`),
          esc(`${e.windows.before?.losses ?? '-'} / ${e.windows.during?.losses ?? '-'} / ${e.windows.after?.losses ?? '-'}`),
          esc(e.windows.during?.retention == null ? '-' : formatRatioPct(e.windows.during.retention)),
          esc(e.windows.during?.p99 == null ? '-' : `${formatMs(e.windows.during.p99)} ms`),
        ]),
      ),
    ),
  );
  const a = ss.attribution;
  const hops = htmlTable(['logged in on', 'lost on', 'losses'], a.hops.map((h) => [esc(h.login ?? '(unknown)'), esc(h.lost ?? '(unknown)'), formatCount(h.losses)]), 'hops');
  const sticky =
    a.stickiness?.share != null
      ? `<p>Stickiness: <b>${esc(formatRatioPct(a.stickiness.share, 1))}</b> of logged-in requests went to the backend of the user's login; ${formatCount(a.stickiness.fullySticky)} of ${formatCount(a.stickiness.vus)} users always did.${a.backendSource ? ` Backend from ${esc(a.backendSource.kind)} <code>${esc(a.backendSource.name)}</code>.` : ''}</p>`
      : '';
  const byLogin = htmlTable(['login backend', 'users', 'logged out'], Object.entries(ss.users.byLoginBackend).map(([b, v]) => [esc(b), formatCount(v.users), formatCount(v.affected)]));
  parts.push(section('Where the losses happened', `${hops}${byLogin}${sticky}`));
  parts.push(
    section(
      'Steps',
      htmlTable(
        ['step', 'requests', 'failed', 'losses', 'mean', 'p50', 'p95', 'p99', 'max'],
        r.steps.map((st) => [esc(`${st.phase} ${st.name}`), formatCount(st.requests), formatCount(st.failed), formatCount(st.losses), ...[st.latency.mean, st.latency.p50, st.latency.p95, st.latency.p99, st.latency.max].map((v) => (st.latency.count === 0 ? '-' : `${formatMs(v)} ms`))]),
      ),
    ),
  );
  const statuses = Object.entries(r.requests.byStatus).sort(([x], [y]) => Number(x) - Number(y));
  const errors = Object.entries(r.requests.errors).filter(([, n]) => n > 0);
  parts.push(section('Status codes and errors', `${htmlTable(['status', 'responses'], statuses.map(([c, n]) => [esc(c), formatCount(n)]))}${htmlTable(['error kind', 'requests'], errors.map(([k, n]) => [esc(k), formatCount(n)]))}`));
  return parts.join('');
}

const CHARTS_RUN = ['chart-rps', 'chart-latency', 'chart-retention', 'chart-losses', 'chart-vus'];

/** The HTML report of one run. */
export function formatHtmlReport(r: RunResult): string {
  const name = runName(r, r.scenario);
  const passed = gatePassed(r);
  const hasGate = (r.thresholds ?? []).length > 0 || r.regression !== undefined;
  const head = `<h1>session-bench: ${esc(name)}</h1><p class="meta">${esc(r.target)} · ${esc(r.startedAt)} · ${(r.durationMs / 1000).toFixed(1)} s · ${r.options.concurrency} VUs · session-bench ${esc(r.tool.version)}</p>${
    hasGate ? `<p class="verdict">${passed ? '<span class="ok">✓ passed</span>' : '<span class="bad">✗ failed</span>'}${r.stopReason ? ` (${esc(r.stopReason)})` : ''}</p>` : ''
  }`;
  return page(`session-bench: ${name}`, head, runTables(r), [chartRun(r, name)], r.session.tracked ? CHARTS_RUN : CHARTS_RUN.filter((c) => c !== 'chart-retention' && c !== 'chart-losses'));
}

/** The HTML report of several runs side by side (the first is the baseline). */
export function formatHtmlComparison(runs: readonly { name: string; result: RunResult }[]): string {
  const rows = runs.map(({ name, result: r }) => {
    const ab = abFigures(r);
    const ss = r.session;
    return [
      esc(name),
      ab.rps.toFixed(2),
      r.latency.count === 0 ? '-' : formatMs(r.latency.p95),
      r.latency.count === 0 ? '-' : formatMs(r.latency.p99),
      formatCount(r.requests.failed),
      ss.tracked && ss.retention !== null ? formatRatioPct(ss.retention) : '-',
      ss.tracked ? `${formatCount(ss.users.affected)} of ${formatCount(ss.users.total)}` : '-',
      ss.tracked ? formatCount(ss.losses) : '-',
    ];
  });
  const head = `<h1>session-bench: ${runs.length} runs compared</h1><p class="meta">The first run is the baseline.</p>${section(
    'Side by side',
    htmlTable(['run', 'requests/s', 'p95 ms', 'p99 ms', 'failed', 'session retention', 'users logged out', 'losses'], rows),
  )}`;
  return page(`session-bench: ${runs.map((r) => r.name).join(' vs ')}`, head, '', runs.map(({ name, result }) => chartRun(result, name)), CHARTS_RUN);
}
