import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { RunResultSchema } from '../../src/result/schema.js';
import { runCli } from '../helpers/cli.js';
import { closedPort, startServer, type TestServer } from '../helpers/servers.js';

const dir = mkdtempSync(join(tmpdir(), 'sb-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const servers: TestServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

function scenarioFile(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

const noStack = (s: string): void => {
  expect(s).not.toMatch(/\n\s+at .+\(.+:\d+:\d+\)/);
};

describe('invalid input exits 2 naming the field and the value', () => {
  const cases: [string, string, RegExp[]][] = [
    ['unknown step key', 'flow:\n  - get: /\n    gett: /x\n', [/flow\[0\]: unknown key "gett"/]],
    ['bad duration', 'flow:\n  - get: /\n    think: 3 parsecs\n', [/flow\[0\]\.think: invalid duration "3 parsecs"/]],
    ['missing users file', 'users: { file: nope.csv }\nlogin:\n  - get: /login\nflow:\n  - get: /\n', [/users\.file: cannot read users file ".*nope\.csv" \(ENOENT\)/]],
    ['bad regex', "login:\n  - get: /login\n    extract:\n      csrf: { regex: '([a-z' }\nflow:\n  - get: /\n", [/login\[0\]\.extract\.csrf\.regex: invalid regular expression "\(\[a-z"/]],
    ['bad status', 'flow:\n  - get: /\n    expect: { status: 700 }\n', [/flow\[0\]\.expect\.status: expected a status 100-599, got 700/]],
    ['several problems at once', 'flow:\n  - get: /\n    think: soon\n  - post: /x\n    expect: { status: 999 }\n  - put: /y\n    delete: /z\n', [/flow\[0\]\.think/, /flow\[1\]\.expect\.status/, /flow\[2\]: a step has exactly one method/]],
  ];
  it.each(cases)('%s', async (_name, text, patterns) => {
    const file = scenarioFile(`bad-${_name.replace(/\W+/g, '-')}.yaml`, `target: http://127.0.0.1:1\n${text}`);
    const r = await runCli(['run', file, '-n', '1']);
    expect(r.code).toBe(2);
    for (const p of patterns) expect(r.stderr).toMatch(p);
    expect(r.stderr).toContain(file);
    noStack(r.stderr);
  });

  it.each([
    [['run', 'http://127.0.0.1:1/', '-c', 'abc'], /--concurrency: expected a whole number from 1 to 1000000, got "abc"/],
    [['run', 'http://127.0.0.1:1/', '-d', '5 minutes'], /--duration: invalid duration "5 minutes"/],
    [['run', 'http://127.0.0.1:1/', '--connections', 'some'], /--connections.*some/],
    [['run', 'http://127.0.0.1:1/', '--target', 'ftp://x'], /--target: expected an http:\/\/ or https:\/\/ URL, got "ftp:\/\/x"/],
    [['run', 'http://127.0.0.1:1/', '--users', '/nonexistent/users.csv'], /--users: cannot read users file "\/nonexistent\/users\.csv" \(ENOENT\)/],
    [['run', 'http://127.0.0.1:1/', '--login-form', '/login'], /--user: quick mode with --login-form needs credentials/],
    [['run', 'http://127.0.0.1:1/', '--bogus'], /unknown option '--bogus'/],
    [['run', join(dir, 'missing.yaml')], /missing\.yaml is invalid:\n\s+\(file\): cannot read scenario file \(ENOENT\)/],
    [['run'], /give a scenario file or a URL/],
    [['run', 'http://127.0.0.1:1/', '--threshold', 'latency<5'], /--threshold: unknown metric "latency"/],
    [['run', 'http://127.0.0.1:1/', '--rate', 'fast'], /--rate: expected iterations per second such as 200 or 200\/s, got "fast"/],
  ])('%j', async (args, pattern) => {
    const r = await runCli(args as string[]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(pattern);
    noStack(r.stderr);
  });
});

describe('run from the command line', () => {
  it('ab parity: -n 1000 -c 10 makes exactly 1000 requests and prints the ab fields', async () => {
    const s = await startServer((_req, res) => res.end('hello world'));
    servers.push(s);
    const json = join(dir, 'quick.json');
    const r = await runCli(['run', `${s.url}/`, '-n', '1000', '-c', '10', '--json', json, '--label', 'quick']);
    expect(r.code).toBe(0);
    expect(s.count).toBe(1000);
    for (const field of [
      'Concurrency Level:      10',
      'Time taken for tests:',
      'Complete requests:      1000',
      'Failed requests:        0',
      'Requests per second:',
      '[#/sec] (mean)',
      'Time per request:',
      '[ms] (mean, across all concurrent requests)',
      'Transfer rate:',
      'Percentage of the requests served within a certain time (ms)',
      '99.9%',
      '100%',
    ]) {
      expect(r.stdout).toContain(field);
    }
    expect(r.stdout).not.toMatch(/\x1b\[/);
    const result = RunResultSchema.parse(JSON.parse(readFileSync(json, 'utf8')));
    expect(result.requests.total).toBe(1000);
    expect(result.label).toBe('quick');
    expect(result.schemaVersion).toBe(1);
  });

  it('exits 1 when a threshold fails, 0 when all pass, and reports each', async () => {
    const s = await startServer((_req, res) => res.end('ok'));
    servers.push(s);
    const pass = await runCli(['run', `${s.url}/`, '-n', '100', '-c', '2', '-q', '--threshold', 'failed<1%', '--threshold', 'p99<10s']);
    expect(pass.code).toBe(0);
    expect(pass.stdout).toMatch(/✓ pass\s+failed<1%/);
    const fail = await runCli(['run', `${s.url}/`, '-n', '100', '-c', '2', '-q', '--threshold', 'rps>=100000000', '--threshold', 'failed==0', '--threshold', 'losses==0']);
    expect(fail.code).toBe(1);
    expect(fail.stdout).toMatch(/✗ FAIL\s+rps>=100000000/);
    expect(fail.stdout).toMatch(/✓ pass\s+failed==0/);
    // Without a login, losses are not measured: the threshold fails and says so.
    expect(fail.stdout).toMatch(/✗ FAIL\s+losses==0\s+\(not measured\)/);
    expect(fail.stderr).toMatch(/thresholds failed: rps>=100000000, losses==0/);
  });

  it('exits 3 with the reason when nothing answers', async () => {
    const port = await closedPort();
    const r = await runCli(['run', `http://127.0.0.1:${port}/`, '-n', '40', '-c', '2', '-q']);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/target is unusable: nothing answered/);
    expect(r.stderr).toMatch(/refused|ECONNREFUSED/);
    expect(r.stdout).toContain('Complete requests:      40');
    noStack(r.stderr);
  });

  it('ends on time when every request is refused before it is sent (no busy loop starving the timers)', async () => {
    const s = await startServer((_req, res) => res.end('ok'));
    servers.push(s);
    // A control character in a header value: the request is rejected before it is written, every time.
    const file = scenarioFile('refused-locally.yaml', `target: ${s.url}\nflow:\n  - get: /\n    headers: { x-bad: "a\\u0001b" }\n`);
    const json = join(dir, 'refused-locally.json');
    const r = await runCli(['run', file, '-d', '1s', '-c', '2', '-q', '--json', json], { timeoutMs: 20_000 });
    expect(r.signal).toBeNull();
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/nothing answered: .*invalid x-bad header/);
    expect(s.count).toBe(0);
    // The VUs kept going until the run was stopped (by the unusable verdict at the 1 s tick, or -d).
    const result = RunResultSchema.parse(JSON.parse(readFileSync(json, 'utf8')));
    expect(result.durationMs).toBeGreaterThanOrEqual(900);
    expect(result.requests.failed).toBe(result.requests.total);
  });

  it('on SIGTERM prints the partial report and writes the partial JSON', async () => {
    const s = await startServer((_req, res) => {
      setTimeout(() => res.end('ok'), 2);
    });
    servers.push(s);
    const json = join(dir, 'partial.json');
    const r = await runCli(['run', `${s.url}/`, '-d', '60s', '-c', '4', '--json', json], {
      onStart: (kill) => {
        const t = setInterval(() => {
          if (s.count > 100) {
            clearInterval(t);
            kill('SIGTERM');
          }
        }, 50);
      },
    });
    expect(r.code).toBe(130);
    expect(r.stdout).toContain('Complete requests:');
    expect(r.stdout).toMatch(/Interrupted/i);
    const result = RunResultSchema.parse(JSON.parse(readFileSync(json, 'utf8')));
    expect(result.interrupted).toBe(true);
    // The requests in flight when the signal came (at most -c 4) are aborted, not counted.
    expect(result.requests.total).toBeGreaterThan(90);
  });

  it('never writes a password to the report or the JSON', async () => {
    const s = await startServer((req, res) => {
      if (req.url === '/login' && req.method === 'GET') res.end('<form><input type="password" name="password"></form>');
      else if (req.url === '/login') res.writeHead(302, { location: '/home', 'set-cookie': 'S=1; Path=/' }).end();
      else res.end('home');
    });
    servers.push(s);
    const json = join(dir, 'secret.json');
    const r = await runCli(['run', s.url, '--login-form', '/login', '--user', 'admin:Sup3r-Secret:pw', '--nav', '/home', '-n', '50', '-c', '2', '--json', json]);
    expect(r.code).toBe(0);
    expect(r.stdout + r.stderr + readFileSync(json, 'utf8')).not.toContain('Sup3r-Secret');
  });
});

describe('start-up', () => {
  // zod, yaml, csv-parse and htmlparser2 cost ~0.1-0.2 s of CPU each to load; a quick-mode run (a URL,
  // no file to parse or validate, no form) must not pay it. NODE_DEBUG lists every module Node loads.
  it('a quick-mode run loads none of zod, yaml, csv-parse, htmlparser2; a scenario file loads zod and yaml', async () => {
    const s = await startServer((_req, res) => res.end('ok'));
    servers.push(s);
    const env = { NODE_DEBUG: 'module,esm' };
    const quick = await runCli(['run', `${s.url}/`, '-n', '5', '-c', '1', '-q'], { env });
    expect(quick.code).toBe(0);
    expect(quick.stdout).toContain('Complete requests:');
    expect(quick.stderr).toMatch(/node_modules\/hdr-histogram-js\//); // the log does list packages
    expect(quick.stderr).not.toMatch(/node_modules\/(zod|yaml|csv-parse|htmlparser2|entities|undici|tough-cookie)\//);
    const file = scenarioFile('startup.yaml', `target: ${s.url}\nflow:\n  - get: /\n`);
    const withFile = await runCli(['run', file, '-n', '5', '-c', '1', '-q'], { env });
    expect(withFile.code).toBe(0);
    expect(withFile.stderr).toMatch(/node_modules\/zod\//);
    expect(withFile.stderr).toMatch(/node_modules\/yaml\//);
  });
});
