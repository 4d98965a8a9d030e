/**
 * Bad-input suite: every mistake is exit 2 before the run (the target sees nothing), names the field and
 * the value, prints no stack trace, and no result is ever lost.
 */
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { readBody, serversClosedAfterEach } from '../helpers/servers.js';

const server = serversClosedAfterEach(afterEach);
const dir = mkdtempSync(join(tmpdir(), 'sb-bad-input-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const noStack = (s: string): void => expect(s).not.toMatch(/\n\s+at .+:\d+:\d+\)?/);

describe('output paths are checked before the run', () => {
  it.each<[string, () => string, RegExp]>([
    ['a folder', () => dir, /--json: ".*" is a folder; give a file name/],
    ['a path under a file', () => {
      writeFileSync(join(dir, 'plain-file'), 'x');
      return join(dir, 'plain-file', 'r.json');
    }, /--json: ".*plain-file" is a file, so ".*" cannot be made/],
  ])('--json that is %s: exit 2, nothing sent', async (_name, path, message) => {
    const s = await server((_req, res) => res.end('ok'));
    const r = await runCli(['run', s.url + '/', '-n', '5', '--json', path()]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(s.count).toBe(0);
    noStack(r.stderr);
  });

  it.skipIf(process.getuid?.() === 0)('--json in a read-only folder: exit 2, nothing sent (root may write anywhere)', async () => {
    const ro = join(dir, 'ro');
    mkdirSync(ro);
    chmodSync(ro, 0o555);
    const s = await server((_req, res) => res.end('ok'));
    const r = await runCli(['run', s.url + '/', '-n', '5', '--json', join(ro, 'r.json')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--json: ".*ro" is not writable/);
    expect(s.count).toBe(0);
  });

  it('a result that cannot be written after the run is saved elsewhere, never lost (exit 2)', async () => {
    const out = join(dir, 'gone');
    // The path is fine when the run starts; during the run a file takes the place of its folder.
    const s = await server((_req, res) => {
      if (!existsSync(out)) writeFileSync(out, 'in the way');
      res.end('ok');
    });
    const r = await runCli(['run', s.url + '/', '-n', '5', '-c', '1', '--json', join(out, 'result.json')]);
    expect(s.count).toBe(5);
    const m = /the result was saved to (\S+) instead/.exec(r.stderr);
    expect(m, r.stderr).not.toBeNull();
    expect(JSON.parse(readFileSync(m![1]!, 'utf8')).requests.total).toBe(5);
    rmSync(m![1]!);
    expect(r.code).toBe(2);
    noStack(r.stderr);
  });

  it('demo and matrix check --out the same way', async () => {
    writeFileSync(join(dir, 'not-a-folder'), 'x');
    const r = await runCli(['matrix', 'http://127.0.0.1:9/', '--case', 'a=true', '--out', join(dir, 'not-a-folder')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--out: ".*not-a-folder" is a file/);
  });
});

describe('durations need a unit', () => {
  it.each(['-d', '--think', '--timeout', '--ramp-up'])('%s 10 is refused, naming the fix (exit 2)', async (flag) => {
    const r = await runCli(['run', 'http://127.0.0.1:9/', flag, '10']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${flag === '-d' ? '--duration' : flag}: "10" has no unit: write 10s (seconds) or 10ms (milliseconds)`);
  });
});

describe('users files (CSV)', () => {
  it('a quoted password keeps its spaces; other columns and {{env.NAME}} are variables', async () => {
    const seen: string[] = [];
    const s = await server(async (req, res) => {
      if (req.method === 'POST') seen.push(`${req.url} ${await readBody(req)} ${req.headers['x-team']}`);
      res.end('ok');
    });
    const users = join(dir, 'users.csv');
    writeFileSync(users, 'username,password,team\nalice,"  two words  ",red\n');
    const file = join(dir, 'vars.yaml');
    writeFileSync(file, `target: ${s.url}\nlogin:\n  - post: /login\n    headers: { X-Team: '{{team}}' }\n    form: { u: '{{username}}', p: '{{password}}', site: '{{env.SB_TEST_SITE}}' }\nflow:\n  - get: /\n`);
    const r = await runCli(['run', file, '--users', users, '-n', '2', '-c', '1'], { env: { SB_TEST_SITE: 'eu-1' } });
    expect(r.code).toBe(0);
    expect(seen).toEqual([`/login u=alice&p=++two+words++&site=eu-1 red`]);
  });

  it('an environment variable that is not set is exit 2, naming it', async () => {
    const file = join(dir, 'env.yaml');
    writeFileSync(file, 'target: http://127.0.0.1:9\nflow:\n  - get: /{{env.SB_SURELY_UNSET_VAR}}\n');
    const r = await runCli(['run', file, '-n', '1']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/flow\[0\]\.get: \{\{env\.SB_SURELY_UNSET_VAR\}\}: the environment variable SB_SURELY_UNSET_VAR is not set/);
  });

  it('a CSV error names the file and the line', async () => {
    const users = join(dir, 'broken.csv');
    writeFileSync(users, 'username,password\nalice,"unclosed\n');
    const r = await runCli(['run', 'http://127.0.0.1:9/', '--users', users, '-n', '1']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`--users ${users} line 2: not valid CSV: Quote Not Closed`);
    expect(existsSync(users)).toBe(true);
  });
});
