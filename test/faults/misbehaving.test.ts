/**
 * Fault suite: servers that misbehave on purpose. Whatever the target does, the run ends on time, counts
 * each failure under its true kind, and writes a complete result (checked against the schema).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BIN, runShell } from '../helpers/cli.js';
import { errorTotal, runWithResult } from '../helpers/fault-run.js';
import { response, startRawServer, type RawServer } from '../helpers/raw-server.js';

const open: RawServer[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.close()));
});
async function server(handler: Parameters<typeof startRawServer>[0]): Promise<RawServer> {
  const s = await startRawServer(handler);
  open.push(s);
  return s;
}

describe('the run always ends, on time', () => {
  it('a body that trickles in one byte at a time: a timeout per request, within --timeout', async () => {
    const s = await server((_req, socket) => {
      socket.write('HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n');
      const t = setInterval(() => (socket.destroyed ? clearInterval(t) : socket.write('x')), 50);
      socket.on('close', () => clearInterval(t));
    });
    const r = await runWithResult([s.url, '-n', '3', '-c', '1', '--timeout', '400ms']);
    expect(r.result.requests.errors.timeout).toBe(3);
    expect(r.result.requests.total).toBe(3);
    expect(r.result.requests.total).toBe(s.requests);
    // 3 requests of at most 400 ms each; without a total deadline this never ended.
    expect(r.elapsedMs).toBeLessThan(30_000);
  });

  it('a redirect to a non-http scheme: the step fails with the reason, the run goes on for its duration', async () => {
    const s = await server((req, socket) => {
      if (req.path === '/') socket.write(response('', '302 Found', ['Location: ftp://files.example/x']));
      else socket.write(response('ok'));
    });
    const r = await runWithResult([s.url, '-d', '1s', '-c', '2']);
    expect(r.code).toBe(0);
    // It ran for its duration (the bug: every VU ended silently after 0.1 s).
    expect(r.result.durationMs).toBeGreaterThanOrEqual(900);
    expect(r.result.requests.total).toBe(s.requests);
    expect(r.result.requests.failed).toBe(r.result.requests.total);
    expect(errorTotal(r.result)).toBe(0);
  });

  it('an endless redirect loop fails as "too many redirects"', async () => {
    const s = await server((req, socket) => {
      const n = Number(req.path.slice(1)) || 0;
      socket.write(response('', '302 Found', [`Location: /${n + 1}`]));
    });
    const r = await runWithResult([s.url, '-n', '22', '-c', '1']);
    expect(r.result.requests.total).toBe(22);
    expect(s.requests).toBe(22);
    // 11 responses per step (10 followed, the 11th is one too many): 2 steps, both failed.
    expect(r.result.steps[0]!.failed).toBe(2);
    expect(r.result.requests.failed).toBe(2);
  });
});

describe('failures under their true kind', () => {
  it.each<[string, string, 'invalid' | 'reset']>([
    ['a garbage status line', 'HTTP/1.1 2x0 OK\r\nContent-Length: 0\r\n\r\n', 'invalid'],
    ['a bad chunk size', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n', 'invalid'],
    ['an obs-folded header', 'HTTP/1.1 200 OK\r\nX-A: 1\r\n  2\r\nContent-Length: 0\r\n\r\n', 'invalid'],
    ['headers over 16 KiB', `HTTP/1.1 200 OK\r\nX-A: ${'a'.repeat(20_000)}\r\nContent-Length: 0\r\n\r\n`, 'invalid'],
    ['non-HTTP bytes and no blank line', 'SSH-2.0-OpenSSH_9.6\r\n', 'invalid'],
    ['an unasked 101 Switching Protocols', 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n', 'invalid'],
  ])('%s is "invalid", at once', async (_name, raw, kind) => {
    const s = await server((_req, socket) => socket.write(raw));
    const r = await runWithResult([s.url, '-n', '5', '-c', '1', '--timeout', '20s']);
    expect(r.result.requests.errors[kind]).toBe(5);
    expect(r.result.requests.errors.other).toBe(0);
    expect(s.requests).toBe(5);
    // None waited for the 20 s timeout.
    expect(r.elapsedMs).toBeLessThan(20_000);
  });

  it('a status outside 100-599 is "invalid", not a missing status count', async () => {
    const s = await server((_req, socket) => socket.write('HTTP/1.1 799 Odd\r\nContent-Length: 0\r\n\r\n'));
    const r = await runWithResult([s.url, '-n', '4', '-c', '1']);
    expect(r.result.requests.errors.invalid).toBe(4);
    expect(r.result.requests.total).toBe(4);
  });

  it.each<[string, string]>([
    ['a close-delimited body cut by a reset', 'HTTP/1.1 200 OK\r\nConnection: close\r\n\r\npartial'],
    ['a Content-Length body with Connection: close cut by a reset', 'HTTP/1.1 200 OK\r\nContent-Length: 100\r\nConnection: close\r\n\r\npartial'],
  ])('%s is a "reset", not a success', async (_name, raw) => {
    const s = await server((_req, socket) => {
      socket.write(raw, () => setTimeout(() => socket.resetAndDestroy(), 20));
    });
    const r = await runWithResult([s.url, '-n', '3', '-c', '1']);
    expect(r.result.requests.errors.reset).toBe(3);
    expect(r.result.requests.ok).toBe(0);
  });
});

describe('the generator runs out of file descriptors', () => {
  it('checks the open-files limit against -c before the run, and says how to raise it (exit 2)', async () => {
    const r = await runShell(`ulimit -n 256 && exec "${process.execPath}" "${BIN}" run http://127.0.0.1:9/ -c 1000 -n 1`);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--concurrency: 1,000 connections need about 1,032 open files, but this process may open 256 \(ulimit -n; the hard limit is 256\)/);
    expect(r.stderr).toMatch(/ulimit -n 1032/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('EMFILE in the middle of a run is counted as "local", the VUs back off, and the run ends on time', async () => {
    // Each VU keeps a connection per origin: 40 VUs x 3 origins = 120 sockets, over a limit of 100.
    const a = await server((_req, socket) => socket.write(response('a')));
    const b = await server((_req, socket) => socket.write(response('b')));
    const c = await server((_req, socket) => socket.write(response('c')));
    const dir = mkdtempSync(join(tmpdir(), 'sb-emfile-'));
    try {
      const scenario = join(dir, 's.yaml');
      writeFileSync(scenario, `target: ${a.origin}\nflow:\n  - get: ${a.origin}/\n  - get: ${b.origin}/\n  - get: ${c.origin}/\n`);
      const json = join(dir, 'r.json');
      const r = await runShell(`ulimit -n 100 && exec "${process.execPath}" "${BIN}" run "${scenario}" -c 40 -d 2s -q --json "${json}"`);
      expect(r.signal).toBeNull();
      const result = JSON.parse(readFileSync(json, 'utf8')) as { requests: { total: number; errors: Record<string, number> }; durationMs: number };
      expect(result.requests.errors.local, `${r.stdout}${r.stderr}`).toBeGreaterThan(0);
      expect(result.requests.errors.other).toBe(0);
      expect(result.durationMs).toBeLessThan(15_000);
      // Every answered request was one the servers served.
      const answered = result.requests.total - Object.values(result.requests.errors).reduce((x, y) => x + y, 0);
      expect(answered).toBe(a.requests + b.requests + c.requests);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
