/**
 * `--prometheus-port P`: live metrics of a run for Prometheus (and Grafana next to the app's own), served
 * through prom-client (the only module that imports it). Counters and gauges follow the threads' live
 * figures about once a second; the latency histogram `session_bench_request_duration_seconds` (per
 * scenario and step) is read from the same HDR histograms the result is made of. When the run ends the
 * figures are set from the final result, so a last scrape sees exactly the result's counts.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { UsageError } from '../common/errors.js';
import type { LiveFigures } from '../engine/local-run.js';
import { cumulativeBuckets } from '../metrics/histogram.js';
import { ERROR_KINDS } from '../result/constants.js';
import type { RunResult } from '../result/schema.js';

type PromClient = typeof import('prom-client');
const requireCjs = createRequire(import.meta.url);

/** Latency buckets, seconds: 1 ms to 30 s, as a web app's dashboards use. */
export const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

interface StepLatency {
  buckets: number[];
  count: number;
  sumSeconds: number;
}

export class PrometheusExporter {
  private readonly client: PromClient = requireCjs('prom-client') as PromClient;
  private readonly registry = new this.client.Registry();
  private readonly server: Server;
  private readonly counters: Record<string, import('prom-client').Counter> = {};
  private readonly gauges: Record<string, import('prom-client').Gauge> = {};
  /** What the counters were last set to (counters only go up: they are increased by the difference). */
  private readonly last = new Map<string, number>();
  private stepLatency: StepLatency[] = [];

  constructor(
    private readonly scenario: string,
    private readonly stepNames: readonly string[],
  ) {
    const labels = ['scenario'];
    const counter = (name: string, help: string, extra: string[] = []): void => {
      this.counters[name] = new this.client.Counter({ name, help, labelNames: [...labels, ...extra], registers: [this.registry] });
    };
    const gauge = (name: string, help: string): void => {
      this.gauges[name] = new this.client.Gauge({ name, help, labelNames: labels, registers: [this.registry] });
    };
    counter('session_bench_requests_total', 'Requests sent and ended (answered or not), login requests and redirects included');
    counter('session_bench_errors_total', 'Requests without an answer, by kind (refused, reset, timeout, tls, dns, invalid, local, other)', ['kind']);
    counter('session_bench_failed_total', 'Failed requests: no answer, or an answer that failed the step\'s expectation');
    counter('session_bench_session_losses_total', 'Logged-in requests that found their session gone');
    counter('session_bench_logins_total', 'Logins that succeeded');
    counter('session_bench_login_failures_total', 'Logins that failed');
    counter('session_bench_logged_in_requests_total', 'Logged-in (flow) requests that got an answer');
    gauge('session_bench_session_retention_ratio', 'Share of logged-in requests that kept their session, since the start (0-1)');
    gauge('session_bench_active_vus', 'Virtual users active now');
    gauge('session_bench_users_affected', 'Virtual users logged out at least once since the start');
    gauge('session_bench_dropped_iterations', 'Open model: iterations that could not start since the start');
    // Every series exists from the start at 0 (a query for errors of a kind that never happened is 0, not empty).
    for (const [name, c] of Object.entries(this.counters)) {
      if (name === 'session_bench_errors_total') for (const kind of ERROR_KINDS) c.inc({ scenario, kind }, 0);
      else c.inc({ scenario }, 0);
    }
    for (const g of Object.values(this.gauges)) g.set({ scenario }, 0);
    this.stepLatency = stepNames.map(() => ({ buckets: LATENCY_BUCKETS.map(() => 0), count: 0, sumSeconds: 0 }));
    // The latency histogram is made from the HDR histograms: a metric object the registry formats.
    const self = this;
    this.registry.registerMetric({
      name: 'session_bench_request_duration_seconds',
      help: 'Latency of answered requests, by step (from the run\'s HDR histograms)',
      type: 'histogram',
      aggregator: 'sum',
      get: async () => ({
        name: 'session_bench_request_duration_seconds',
        help: 'Latency of answered requests, by step',
        type: 'histogram',
        aggregator: 'sum',
        values: self.histogramValues(),
      }),
      reset: () => undefined,
    } as unknown as import('prom-client').Metric);
    this.server = createServer((req, res) => {
      if (req.url !== '/metrics' && req.url !== '/') {
        res.writeHead(404).end('see /metrics\n');
        return;
      }
      this.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': this.registry.contentType }).end(text),
        (e: unknown) => res.writeHead(500).end(String(e)),
      );
    });
  }

  private histogramValues(): { metricName: string; labels: Record<string, string | number>; value: number }[] {
    const out: { metricName: string; labels: Record<string, string | number>; value: number }[] = [];
    const name = 'session_bench_request_duration_seconds';
    this.stepLatency.forEach((l, i) => {
      const labels = { scenario: this.scenario, step: this.stepNames[i] ?? String(i) };
      LATENCY_BUCKETS.forEach((le, b) => out.push({ metricName: `${name}_bucket`, labels: { ...labels, le }, value: l.buckets[b]! }));
      out.push({ metricName: `${name}_bucket`, labels: { ...labels, le: '+Inf' }, value: l.count });
      out.push({ metricName: `${name}_sum`, labels, value: l.sumSeconds });
      out.push({ metricName: `${name}_count`, labels, value: l.count });
    });
    return out;
  }

  /** Starts serving on `port` (0: any free port) of `host`; resolves the URL of /metrics. */
  listen(port: number, host = '0.0.0.0'): Promise<string> {
    return new Promise((resolve, reject) => {
      this.server.once('error', (e: NodeJS.ErrnoException) =>
        reject(e.code === 'EADDRINUSE' ? new UsageError(`--prometheus-port ${port} is already in use`, 'give another port, or 0 for any free one') : e),
      );
      this.server.listen(port, host, () => {
        const a = this.server.address() as AddressInfo;
        resolve(`http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${a.port}/metrics`);
      });
    });
  }

  private setCounter(name: string, value: number, labels: Record<string, string> = {}): void {
    const key = `${name}${JSON.stringify(labels)}`;
    const delta = value - (this.last.get(key) ?? 0);
    if (delta > 0) this.counters[name]!.inc({ scenario: this.scenario, ...labels }, delta);
    this.last.set(key, Math.max(value, this.last.get(key) ?? 0));
  }

  private setGauge(name: string, value: number): void {
    this.gauges[name]!.set({ scenario: this.scenario }, value);
  }

  /** The threads' live figures (about once a second). */
  update(live: readonly LiveFigures[]): void {
    const sum = (f: (l: LiveFigures) => number): number => live.reduce((a, l) => a + f(l), 0);
    this.setCounter('session_bench_requests_total', sum((l) => l.requests));
    this.setCounter('session_bench_failed_total', sum((l) => l.failed));
    for (const k of ERROR_KINDS) this.setCounter('session_bench_errors_total', sum((l) => l.errorsByKind?.[k] ?? 0), { kind: k });
    this.setCounter('session_bench_session_losses_total', sum((l) => l.losses));
    this.setCounter('session_bench_logins_total', sum((l) => l.logins));
    this.setCounter('session_bench_login_failures_total', sum((l) => l.loginFailures));
    const flow = sum((l) => l.flowRequests);
    this.setCounter('session_bench_logged_in_requests_total', flow);
    if (flow > 0) this.setGauge('session_bench_session_retention_ratio', sum((l) => l.flowRequestsKept) / flow);
    this.setGauge('session_bench_active_vus', sum((l) => l.activeVus));
    this.setGauge('session_bench_users_affected', sum((l) => l.usersAffected));
    this.setGauge('session_bench_dropped_iterations', sum((l) => l.droppedIterations));
    this.stepLatency = this.stepNames.map((_n, i) => cumulativeBuckets(live.map((l) => l.stepHdrs?.[i] ?? ''), LATENCY_BUCKETS));
  }

  /** The final figures, from the result itself (a last scrape reads exactly the result's counts). */
  final(r: RunResult): void {
    this.setCounter('session_bench_requests_total', r.requests.total);
    this.setCounter('session_bench_failed_total', r.requests.failed);
    for (const k of ERROR_KINDS) this.setCounter('session_bench_errors_total', r.requests.errors[k], { kind: k });
    this.setCounter('session_bench_session_losses_total', r.session.losses);
    this.setCounter('session_bench_logins_total', r.session.logins);
    this.setCounter('session_bench_login_failures_total', r.session.loginFailures);
    this.setCounter('session_bench_logged_in_requests_total', r.session.flowRequests);
    if (r.session.retention !== null) this.setGauge('session_bench_session_retention_ratio', r.session.retention);
    this.setGauge('session_bench_active_vus', 0);
    this.setGauge('session_bench_users_affected', r.session.users.affected);
    this.setGauge('session_bench_dropped_iterations', r.droppedIterations);
    this.stepLatency = r.steps.map((st) => cumulativeBuckets([st.latency.hdr], LATENCY_BUCKETS));
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}
