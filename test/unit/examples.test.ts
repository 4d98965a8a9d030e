/** The CI examples users copy: valid YAML, and they gate on what the README says they gate on. */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const read = (name: string): string => readFileSync(fileURLToPath(new URL(`../../examples/${name}`, import.meta.url)), 'utf8');

describe('examples/', () => {
  it.each(['github-actions.yml', 'gitlab-ci.yml'])('%s is valid YAML and gates on retention, users logged out, p99 and a baseline, with JUnit', (name) => {
    const text = read(name);
    expect(() => parse(text)).not.toThrow();
    const run = /session-bench run [^\n]*(?:\n[^\n]*){0,6}/.exec(text)![0];
    for (const flag of ["--threshold 'retention>=99.9%'", "--threshold 'users_affected==0'", "--threshold 'p99<500ms'", '$BASELINE', '--max-regression', '--junit junit.xml', '--at 15s=']) {
      expect(run).toContain(flag);
    }
  });

  it('GitHub Actions: the baseline comes from the last successful main run, and the result is uploaded for the next one', () => {
    const wf = parse(read('github-actions.yml')) as { jobs: { sessions: { steps: { name?: string; uses?: string; with?: { name?: string } }[] } } };
    const steps = wf.jobs.sessions.steps;
    expect(steps.some((s) => s.name?.startsWith('Baseline'))).toBe(true);
    expect(steps.find((s) => s.uses?.startsWith('actions/upload-artifact'))!.with!.name).toBe('session-bench-result');
  });

  it('GitLab CI: JUnit report and artifacts', () => {
    const ci = parse(read('gitlab-ci.yml')) as { 'session-bench': { artifacts: { reports: { junit: string }; paths: string[] } } };
    expect(ci['session-bench'].artifacts.reports.junit).toBe('junit.xml');
    expect(ci['session-bench'].artifacts.paths).toContain('result.json');
  });
});
