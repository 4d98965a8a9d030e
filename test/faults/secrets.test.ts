/** Passwords and auth headers never appear in any output, whatever the server reflects. */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { readBody, serversClosedAfterEach } from '../helpers/servers.js';

const server = serversClosedAfterEach(afterEach);
const dir = mkdtempSync(join(tmpdir(), 'sb-secrets-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const SECRET = 'hunter2-Secret!';

describe('secrets', () => {
  it('a password in the URL is sent as Basic auth (as curl does) and redacted from the report and the JSON', async () => {
    const seen: (string | undefined)[] = [];
    const s = await server((req, res) => {
      seen.push(req.headers.authorization);
      res.end('ok');
    });
    const url = `http://alice:${encodeURIComponent(SECRET)}@127.0.0.1:${s.port}/`;
    const json = join(dir, 'basic.json');
    const r = await runCli(['run', url, '-n', '3', '-c', '1', '--json', json]);
    expect(r.code).toBe(0);
    expect(seen).toEqual(Array(3).fill(`Basic ${Buffer.from(`alice:${SECRET}`).toString('base64')}`));
    const out = r.stdout + r.stderr + readFileSync(json, 'utf8');
    expect(out).not.toContain(SECRET);
    expect(out).not.toContain(encodeURIComponent(SECRET));
    expect(out).not.toContain(Buffer.from(`alice:${SECRET}`).toString('base64'));
    expect(out).toContain('alice:***@127.0.0.1');
  });

  it('a password the server reflects (in a redirect and in a failed expectation) is redacted everywhere', async () => {
    const s = await server(async (req, res) => {
      if (req.method === 'POST') {
        const body = await readBody(req);
        const pw = new URLSearchParams(body).get('password') ?? '';
        res.writeHead(302, { location: `/login?error=bad+password+${encodeURIComponent(pw)}` }).end();
        return;
      }
      res.end('<form method="post"><input name="username"><input type="password" name="password"></form>');
    });
    const file = join(dir, 'reflect.yaml');
    writeFileSync(file, `target: ${s.url}\nlogin:\n  - get: /login\n  - post: /login\n    form: { username: '{{username}}', password: '{{password}}' }\n    expect: { status: 302, location: /home }\nflow:\n  - get: /home\n`);
    const json = join(dir, 'reflect.json');
    const r = await runCli(['run', file, '--user', `alice:${SECRET}`, '-n', '20', '-c', '1', '--json', json]);
    expect(r.code).toBe(3); // every login fails
    const out = r.stdout + r.stderr + readFileSync(json, 'utf8');
    expect(out).toContain('***');
    expect(out).not.toContain(SECRET);
    expect(out).not.toContain(encodeURIComponent(SECRET));
    expect(out).not.toContain(new URLSearchParams({ p: SECRET }).toString().slice(2));
  });

  it('a malformed --user value is not echoed back', async () => {
    const r = await runCli(['run', 'http://127.0.0.1:9/', '--user', SECRET, '-n', '1']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--user: expected NAME:PASSWORD, got a value without a colon/);
    expect(r.stderr).not.toContain(SECRET);
  });

  it('an event command that prints a password: redacted from the live event lines, the report, the JSON and the HTML', async () => {
    const s = await server((_req, res) => res.end('ok'));
    const json = join(dir, 'event.json');
    const html = join(dir, 'event.html');
    const r = await runCli(['run', `${s.url}/`, '--user', `alice:${SECRET}`, '-d', '1500ms', '-c', '1', '--json', json, '--html', html, '--at', `200ms=echo login with ${SECRET} failed >&2; exit 1`]);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/event 1 FAILED: exit 1 .*login with \*\*\* failed/);
    const out = r.stdout + r.stderr + readFileSync(json, 'utf8') + readFileSync(html, 'utf8');
    expect(out).not.toContain(SECRET);
  });
});
