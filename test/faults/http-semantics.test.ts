/** HTTP as browsers and RFC 9110 do it: compressed pages, raw UTF-8 redirects, credentials across hosts. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { runWithResult } from '../helpers/fault-run.js';
import { response, startRawServer, type RawServer } from '../helpers/raw-server.js';
import { serversClosedAfterEach } from '../helpers/servers.js';

const server = serversClosedAfterEach(afterEach);
const raws: RawServer[] = [];
afterEach(async () => {
  await Promise.all(raws.splice(0).map((s) => s.close()));
});
const dir = mkdtempSync(join(tmpdir(), 'sb-http-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const scenario = (name: string, text: string): string => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};

describe('Content-Encoding', () => {
  it.each<[string, (b: Buffer) => Buffer]>([
    ['gzip', gzipSync],
    ['deflate', deflateSync],
    ['br', brotliCompressSync],
  ])('a %s page is decoded for extraction and body checks; Accept-Encoding is sent', async (coding, compress) => {
    const accept: (string | undefined)[] = [];
    const s = await server((req, res) => {
      accept.push(req.headers['accept-encoding']);
      const page = req.url === '/token' ? '<input type="hidden" name="csrf" value="t0k3n-ä">' : `seen ${req.headers['x-csrf']}`;
      res.writeHead(200, { 'content-encoding': coding, 'content-type': 'text/html' }).end(compress(Buffer.from(page)));
    });
    const file = scenario(`ce-${coding}.yaml`, `target: ${s.url}\nflow:\n  - get: /token\n    extract: { csrf: { input: csrf } }\n  - get: /use\n    headers: { X-Csrf: '{{csrf}}' }\n    expect: { bodyMatch: 'seen t0k3n-ä' }\n`);
    const r = await runWithResult([file, '-n', '4', '-c', '1']);
    expect(r.code).toBe(0);
    expect(r.result.requests.ok).toBe(4);
    expect(accept).toEqual(Array(4).fill('gzip, deflate, br'));
  });

  it('a body that does not decode is "invalid"', async () => {
    const s = await server((_req, res) => res.writeHead(200, { 'content-encoding': 'gzip' }).end('not gzip at all'));
    const file = scenario('ce-bad.yaml', `target: ${s.url}\nflow:\n  - get: /\n    expect: { bodyMatch: x }\n`);
    const r = await runWithResult([file, '-n', '3', '-c', '1']);
    expect(r.result.requests.errors.invalid).toBe(3);
  });
});

describe('redirects', () => {
  it('a raw UTF-8 Location is percent-encoded before it is followed', async () => {
    const s = await startRawServer((req, socket) => {
      if (req.path === '/') socket.write(Buffer.concat([Buffer.from('HTTP/1.1 302 Found\r\nContent-Length: 0\r\nLocation: '), Buffer.from('/café?q=ü', 'utf8'), Buffer.from('\r\n\r\n')]));
      else socket.write(response(req.path === '/caf%C3%A9?q=%C3%BC' ? 'right' : `wrong ${req.path}`));
    });
    raws.push(s);
    const file = scenario('utf8.yaml', `target: ${s.origin}\nflow:\n  - get: /\n    expect: { bodyMatch: right }\n`);
    const r = await runWithResult([file, '-n', '4', '-c', '1']);
    expect(r.result.requests.failed).toBe(0);
    expect(r.result.requests.ok).toBe(4);
  });

  it('Authorization goes to the step\'s own host only, not across a redirect to another host', async () => {
    const seen: string[] = [];
    const other = await server((req, res) => {
      seen.push(`other ${req.headers.authorization ?? 'none'}`);
      res.end('ok');
    });
    const home = await server((req, res) => {
      seen.push(`home ${req.headers.authorization ?? 'none'}`);
      res.writeHead(302, { location: `http://localhost:${other.port}/landing` }).end();
    });
    const file = scenario('auth.yaml', `target: ${home.url}\nflow:\n  - get: /\n    headers: { Authorization: 'Bearer s3cr3t-token' }\n`);
    const r = await runWithResult([file, '-n', '2', '-c', '1']);
    expect(r.result.requests.ok).toBe(2);
    expect(seen).toEqual(['home Bearer s3cr3t-token', 'other none']);
  });
});

describe('--http-client undici (the escape hatch)', () => {
  it('runs the same flow through undici with the same counts', async () => {
    const s = await server((_req, res) => res.end('ok'));
    const builtin = await runWithResult([s.url + '/', '-n', '50', '-c', '2']);
    const viaUndici = await runWithResult([s.url + '/', '-n', '50', '-c', '2', '--http-client', 'undici']);
    expect(viaUndici.result.options.httpClient).toBe('undici');
    expect(builtin.result.options.httpClient).toBe('builtin');
    expect(viaUndici.result.requests.ok).toBe(50);
    expect(builtin.result.requests.ok).toBe(50);
    expect(s.count).toBe(100);
  });
});
