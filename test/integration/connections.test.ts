/**
 * Where real apps are: HTTPS on the built-in client (verification, ALPN, SNI, session resumption seen by
 * the server), a connection per request (`--connections new`) on it, and connections spread over several
 * local addresses. Each is checked on the server's side of the connection, by exact counts.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connectionLimitProblem, parseSourceAddresses } from '../../src/engine/limits.js';
import { runCli } from '../helpers/cli.js';
import { runWithResult } from '../helpers/fault-run.js';

let dir = '';
let ca = '';
let key = '';
let cert = '';
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'sb-conn-'));
  // A CA, and a server certificate it signed for localhost and 127.0.0.1.
  const run = (args: string[]): void => void execFileSync('openssl', args, { stdio: 'ignore', cwd: dir });
  run(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=session-bench test CA']);
  run(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'key.pem', '-out', 'req.csr', '-subj', '/CN=localhost']);
  writeFileSync(join(dir, 'ext.cnf'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  run(['x509', '-req', '-in', 'req.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'cert.pem', '-days', '2', '-extfile', 'ext.cnf']);
  ca = join(dir, 'ca.pem');
  key = readFileSync(join(dir, 'key.pem'), 'utf8');
  cert = readFileSync(join(dir, 'cert.pem'), 'utf8');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const open: (Server | HttpServer)[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => new Promise<void>((r) => { s.closeAllConnections(); s.close(() => r()); })));
});

/** What an HTTPS server saw of its clients: connections, resumed sessions, ALPN, SNI, Connection headers. */
interface Seen { requests: number; connections: number; resumed: number; alpn: Set<string>; sni: Set<string>; connectionHeaders: Set<string> }
async function httpsServer(): Promise<{ url: (host?: string) => string; seen: Seen }> {
  const seen: Seen = { requests: 0, connections: 0, resumed: 0, alpn: new Set(), sni: new Set(), connectionHeaders: new Set() };
  const s = createServer({ key, cert, ALPNProtocols: ['h2', 'http/1.1'] }, (req, res) => {
    seen.requests++;
    seen.connectionHeaders.add(String(req.headers.connection));
    res.end('ok');
  });
  s.on('secureConnection', (sock: TLSSocket) => {
    seen.connections++;
    if (sock.isSessionReused()) seen.resumed++;
    seen.alpn.add(String(sock.alpnProtocol));
    seen.sni.add(String((sock as TLSSocket & { servername?: string | false }).servername));
  });
  open.push(s);
  // Every loopback address (a test connects to 127.0.0.2, which the certificate does not name).
  await new Promise<void>((r) => s.listen(0, '0.0.0.0', r));
  const port = (s.address() as AddressInfo).port;
  return { url: (host = '127.0.0.1') => `https://${host}:${port}/`, seen };
}
/** The CA trusted as a user would trust it (read when called: the CA is made in beforeAll). */
const trusted = (): { env: NodeJS.ProcessEnv } => ({ env: { NODE_EXTRA_CA_CERTS: ca } });

describe('HTTPS on the built-in client', () => {
  it('verifies the certificate (trusted through NODE_EXTRA_CA_CERTS), sends SNI for a host name, negotiates http/1.1 by ALPN', async () => {
    const s = await httpsServer();
    const r = await runWithResult([s.url('localhost'), '-n', '50', '-c', '2'], trusted());
    expect(r.code, r.stderr).toBe(0);
    expect(r.result.requests.total).toBe(50);
    expect(s.seen.requests).toBe(50);
    // Keep-alive: one connection per VU.
    expect(s.seen.connections).toBe(2);
    expect([...s.seen.alpn]).toEqual(['http/1.1']);
    expect([...s.seen.sni]).toEqual(['localhost']);
    expect(r.result.options.httpClient).toBe('builtin');
  });

  it('no SNI for an IP address (RFC 6066); an untrusted certificate is a "tls" error, --insecure accepts it', async () => {
    const s = await httpsServer();
    const untrusted = await runWithResult([s.url(), '-n', '6', '-c', '1']);
    expect(untrusted.code).toBe(3);
    expect(untrusted.result.requests.errors.tls).toBe(6);
    expect(s.seen.requests).toBe(0);
    const insecure = await runWithResult([s.url(), '-n', '6', '-c', '1', '--insecure']);
    expect(insecure.code, insecure.stderr).toBe(0);
    expect(s.seen.requests).toBe(6);
    expect([...s.seen.sni]).toEqual(['false']);
  });

  it('a certificate for another name is refused even when its CA is trusted', async () => {
    const s = await httpsServer();
    // The certificate names localhost and 127.0.0.1; 127.0.0.2 is neither.
    const r = await runWithResult([s.url().replace('127.0.0.1', '127.0.0.2'), '-n', '4', '-c', '1'], trusted());
    expect(r.code).toBe(3);
    expect(r.result.requests.errors.tls).toBe(4);
    expect(r.result.requests.total).toBe(4);
  });

  it('resumes the TLS session when a VU reconnects, as a browser does; --no-tls-resumption makes every handshake full', async () => {
    const s = await httpsServer();
    const r = await runWithResult([s.url('localhost'), '-n', '40', '-c', '2', '--connections', 'new'], trusted());
    expect(r.code, r.stderr).toBe(0);
    // A connection per request; every one after each VU's first resumed its session.
    expect(s.seen.connections).toBe(40);
    expect(s.seen.resumed).toBe(38);
    expect([...s.seen.connectionHeaders]).toEqual(['close']);
    const full = await httpsServer();
    const f = await runWithResult([full.url('localhost'), '-n', '20', '-c', '2', '--connections', 'new', '--no-tls-resumption'], trusted());
    expect(f.code, f.stderr).toBe(0);
    expect(full.seen.connections).toBe(20);
    expect(full.seen.resumed).toBe(0);
    expect(f.result.options.tlsResumption).toBe(false);
  });
});

describe('--connections new on the built-in client', () => {
  it('one connection per request, each asking the server to close it (as ab without -k)', async () => {
    let connections = 0;
    const headers = new Set<string>();
    let requests = 0;
    const s = createHttpServer((req, res) => {
      requests++;
      headers.add(String(req.headers.connection));
      res.end('ok');
    });
    s.on('connection', () => connections++);
    open.push(s);
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(s.address() as AddressInfo).port}/`;
    const r = await runWithResult([url, '-n', '300', '-c', '10', '--connections', 'new']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.result.requests.total).toBe(300);
    expect(requests).toBe(300);
    expect(connections).toBe(300);
    expect([...headers]).toEqual(['close']);
    expect(r.result.requests.failed).toBe(0);
  });
});

describe('--source-addresses', () => {
  async function byAddress(): Promise<{ url: string; seen: Map<string, number> }> {
    const seen = new Map<string, number>();
    const s = createHttpServer((req, res) => {
      const a = req.socket.remoteAddress!.replace(/^::ffff:/, '');
      seen.set(a, (seen.get(a) ?? 0) + 1);
      res.end('ok');
    });
    open.push(s);
    await new Promise<void>((r) => s.listen(0, '0.0.0.0', r));
    return { url: `http://127.0.0.1:${(s.address() as AddressInfo).port}/`, seen };
  }

  it.each(['per-vu', 'new', 'shared'])('spreads the VUs over the addresses, VU n on address (n-1) mod count (%s connections)', async (mode) => {
    const s = await byAddress();
    const r = await runWithResult([s.url, '-n', '400', '-c', '8', '--connections', mode, '--source-addresses', '127.0.0.1-127.0.0.4']);
    expect(r.code, r.stderr).toBe(0);
    expect([...s.seen.keys()].sort()).toEqual(['127.0.0.1', '127.0.0.2', '127.0.0.3', '127.0.0.4']);
    expect([...s.seen.values()].reduce((a, n) => a + n, 0)).toBe(400);
    for (const n of s.seen.values()) expect(n).toBeGreaterThan(0);
    expect(r.result.options.sourceAddresses).toEqual(['127.0.0.1', '127.0.0.2', '127.0.0.3', '127.0.0.4']);
  });

  it.each([
    ['127.0.0.1-127.0.0.3', ['127.0.0.1', '127.0.0.2', '127.0.0.3']],
    ['127.0.0.9-11', ['127.0.0.9', '127.0.0.10', '127.0.0.11']],
    ['127.0.0.1, 127.0.0.5,::1', ['127.0.0.1', '127.0.0.5', '::1']],
  ])('%s', (text, addresses) => {
    expect(parseSourceAddresses(text, ['::1'])).toEqual(addresses);
  });

  it.each([
    ['10.255.255.1', /10\.255\.255\.1 is not an address of this machine .*ip addr add/],
    ['127.0.0.9-127.0.0.2', /ends before it starts/],
    ['eth0', /is not an IP address or a range/],
    ['127.0.0.1-127.1.0.1', /more than 4096 addresses/],
  ])('refuses %s before the run (exit 2)', async (text, message) => {
    expect(parseSourceAddresses(text, [])).toMatch(message);
    const r = await runCli(['run', 'http://127.0.0.1:9/', '-n', '1', '--source-addresses', text]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--source-addresses/);
  });

  it('the up-front message says how to make many connections fit: ulimit, the port range, more addresses', () => {
    const many = connectionLimitProblem(10_000_000);
    expect(many).toMatch(/ulimit -n|ip_local_port_range/);
  });
});
