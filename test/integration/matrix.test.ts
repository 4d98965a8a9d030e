/**
 * `session-bench matrix` as a subprocess against a real lab in this process. Setup commands call the lab's
 * `/_lab/scale` control with node (curl may not exist in CI), the way a user's would call kubectl.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { startLab, type Lab } from '../../src/lab/lab.js';
import { loadResultFile } from '../../src/result/load.js';
import { runCli } from '../helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'sb-matrix-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const labs: Lab[] = [];
afterEach(async () => {
  await Promise.all(labs.splice(0).map((l) => l.close()));
});

async function lab(): Promise<Lab> {
  const l = await startLab({ replicas: 2, balancer: 'round-robin', store: 'memory' });
  labs.push(l);
  return l;
}

/** A shell command that scales the lab and fails unless the lab says OK. */
function scaleCommand(l: Lab, n: number): string {
  const js = `fetch('${l.url}/_lab/scale/${n}',{method:'POST'}).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))`;
  return `"${process.execPath}" -e "${js}"`;
}

const load = ['-n', '300', '-c', '8', '--settle', '0s', '-q'];

describe('session-bench matrix', () => {
  it('runs each case after its setup command and compares them; the saved results are ordinary results', async () => {
    const l = await lab();
    const out = join(dir, 'ok');
    const r = await runCli([
      'matrix', 'scenarios/lab.yaml', '--target', l.url, ...load, '--out', out,
      '--case', `1 replica=${scaleCommand(l, 1)}`,
      '--case', `2 replicas=${scaleCommand(l, 2)}`,
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(readdirSync(out).sort()).toEqual(['01-1-replica.json', '02-2-replicas.json']);
    const one = await loadResultFile(join(out, '01-1-replica.json'));
    const two = await loadResultFile(join(out, '02-2-replicas.json'));
    expect([one.label, two.label]).toEqual(['1 replica', '2 replicas']);
    expect(one.meta).toEqual({ case: '1 replica' });
    expect([one.requests.total, two.requests.total]).toEqual([300, 300]);

    // The setup commands really changed the fleet: 1 replica keeps every session, 2 round-robin do not.
    expect(one.session.retention).toBe(1);
    expect(Object.keys(one.backends)).toEqual(['replica-1']);
    expect(two.session.losses).toBeGreaterThan(0);
    expect(Object.keys(two.backends).sort()).toEqual(['replica-1', 'replica-2']);
    // And the lab counted exactly the misses the tool counted, over both cases.
    expect(l.stats().totals.sessionMisses).toBe(one.session.losses + two.session.losses);

    // One summary line per case, then the comparison table and the conclusions.
    expect(r.stdout).toMatch(/^1 replica: [\d.]+ req\/s, p99 [\d.]+ ms, 0 failed, session retention 100\.00% \(0 losses\) -> /m);
    expect(r.stdout).toMatch(/^│ 1 replica +│/m);
    expect(r.stdout).toMatch(/^│ 2 replicas +│/m);
    expect(r.stdout).toContain('What the numbers say:');
    expect(r.stdout).toMatch(/2 replicas: lost [\d,]+ sessions?/);
  });

  it('a failing setup command stops the matrix with its output shown and exit 3; results so far are kept', async () => {
    const l = await lab();
    const out = join(dir, 'failing');
    const r = await runCli([
      'matrix', 'scenarios/lab.yaml', '--target', l.url, ...load, '--out', out,
      '--case', `first=${scaleCommand(l, 1)}`,
      '--case', 'broken=echo "deployment not found"; echo "kubectl: error" >&2; exit 7',
      '--case', `never=${scaleCommand(l, 2)}`,
    ]);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('case 2/3 "broken": the setup command exited with code 7');
    expect(r.stderr).toContain('command: echo "deployment not found"; echo "kubectl: error" >&2; exit 7');
    expect(r.stderr).toContain('deployment not found');
    expect(r.stderr).toContain('kubectl: error');
    expect(readdirSync(out)).toEqual(['01-first.json']);
    expect((await loadResultFile(join(out, '01-first.json'))).label).toBe('first');
    expect(r.stdout).toMatch(/^│ first +│/m);
    expect(r.stdout).not.toContain('never');
    expect(l.stats().replicas.filter((x) => x.up)).toHaveLength(1); // "never" did not run
  });

  it('a failed --threshold in a case is reported and exits 1, after every case ran', async () => {
    const l = await lab();
    const out = join(dir, 'threshold');
    const r = await runCli([
      'matrix', 'scenarios/lab.yaml', '--target', l.url, ...load, '--out', out, '--threshold', 'losses==0',
      '--case', `round-robin=${scaleCommand(l, 2)}`,
      '--case', `single=${scaleCommand(l, 1)}`,
    ]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toContain('case 1/2 "round-robin": threshold failed: losses==0');
    expect(r.stderr).not.toContain('case 2/2 "single": threshold');
    expect(readdirSync(out).sort()).toEqual(['01-round-robin.json', '02-single.json']);
  });

  it('exits 2 naming --case and the bad value; nothing runs', async () => {
    const out = join(dir, 'bad');
    const r = await runCli(['matrix', 'scenarios/lab.yaml', ...load, '--out', out, '--case', 'no command here', '--case', '=exit 0', '--settle', 'later']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--case: expected NAME=COMMAND (a label, "=", a shell command), got "no command here"');
    expect(r.stderr).toContain('got "=exit 0"');
    expect(r.stderr).toContain('--settle: invalid duration "later"');
    const none = await runCli(['matrix', 'scenarios/lab.yaml', '-n', '10', '--out', out]);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('--case: at least one is required');
    const dup = await runCli(['matrix', 'scenarios/lab.yaml', '-n', '10', '--out', out, '--case', 'a=true', '--case', 'a=true']);
    expect(dup.code).toBe(2);
    expect(dup.stderr).toContain('the name "a" is used twice');
    expect(existsSync(out)).toBe(false);
  });
});
