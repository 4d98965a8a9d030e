/**
 * JUnit XML for CI systems (`--junit`): one testcase per threshold and per regression check, failed
 * with the measured value and the limit, so that a pipeline shows each criterion as a test. Written
 * with junit-report-builder (the only module that imports it).
 */
import { createRequire } from 'node:module';
import type { RunResult } from '../result/schema.js';
import { regressionFigureName, regressionLimitText, regressionValueText, thresholdActualText } from './verdict.js';

type Builder = typeof import('junit-report-builder').default;
const requireCjs = createRequire(import.meta.url);
const newBuilder = (): Builder => {
  const m = requireCjs('junit-report-builder') as Builder & { default?: Builder };
  return (m.default ?? m).newBuilder();
};

/** The JUnit XML of a run's thresholds and regression checks (an empty suite when it had neither). */
export function formatJunit(r: RunResult): string {
  const builder = newBuilder();
  const name = r.label || r.scenario;
  const seconds = r.durationMs / 1000;
  const thresholds = builder.testSuite().name(`session-bench thresholds: ${name}`).timestamp(r.startedAt).time(seconds);
  for (const t of r.thresholds ?? []) {
    const tc = thresholds.testCase().className('session-bench.threshold').name(t.expression).time(seconds);
    if (!t.ok) tc.failure(`${t.expression}: measured ${thresholdActualText(t)}`, 'threshold');
  }
  if (r.regression !== undefined) {
    const suite = builder.testSuite().name(`session-bench regression against ${r.regression.baseline}: ${name}`).timestamp(r.startedAt).time(seconds);
    for (const c of r.regression.checks) {
      const tc = suite.testCase().className('session-bench.regression').name(`${regressionFigureName(c)} (at most ${regressionLimitText(c)})`).time(seconds);
      if (!c.ok) tc.failure(`${regressionFigureName(c)}: baseline ${regressionValueText(c, c.baseline)}, this run ${regressionValueText(c, c.actual)}: ${c.note}`, 'regression');
    }
  }
  return builder.build();
}
