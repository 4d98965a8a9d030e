/**
 * Fault suite: TLS targets that refuse the handshake. Certificates are made here with openssl (a CA, a
 * server certificate for another host name), so nothing depends on the machine's trust store.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { runWithResult } from '../helpers/fault-run.js';

let dir = '';
let key = '';
let cert = '';
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'sb-tls-'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '2', '-subj', '/CN=other.example', '-addext', 'subjectAltName=DNS:other.example'], { stdio: 'ignore' });
  key = readFileSync(join(dir, 'key.pem'), 'utf8');
  cert = readFileSync(join(dir, 'cert.pem'), 'utf8');
  writeFileSync(join(dir, 'ca.pem'), cert);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise<void>((r) => { s.closeAllConnections(); s.close(() => r()); })));
});
async function tlsServer(opts: { requireClientCert?: boolean } = {}): Promise<{ url: string; served: () => number }> {
  let served = 0;
  const s = createServer({ key, cert, ...(opts.requireClientCert ? { requestCert: true, rejectUnauthorized: true } : {}) }, (_req, res) => {
    served++;
    res.end('ok');
  });
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return { url: `https://127.0.0.1:${(s.address() as AddressInfo).port}/`, served: () => served };
}

describe('TLS failures', () => {
  it('a certificate nobody trusts: "tls", exit 3, and the hint names NODE_EXTRA_CA_CERTS and --insecure', async () => {
    const s = await tlsServer();
    const r = await runWithResult([s.url, '-n', '5', '-c', '1']);
    expect(r.code).toBe(3);
    expect(r.result.requests.errors.tls).toBe(5);
    expect(r.stderr).toMatch(/hint: .*NODE_EXTRA_CA_CERTS=.*--insecure/);
    expect(s.served()).toBe(0);
  });

  it.each(['per-vu', 'shared'])('a trusted certificate for another host name (%s connections): "tls", and the run ends (it used to exit 13 with no result)', async (mode) => {
    const s = await tlsServer();
    const r = await runWithResult([s.url, '-n', '5', '-c', '1', '--connections', mode], { env: { NODE_EXTRA_CA_CERTS: join(dir, 'ca.pem') } });
    expect(r.code).toBe(3);
    expect(r.result.requests.errors.tls).toBe(5);
    expect(r.result.requests.total).toBe(5);
  });

  it.each(['per-vu', 'shared'])('a server that requires a client certificate (%s): "tls" with the alert, not "reset"', async (mode) => {
    const s = await tlsServer({ requireClientCert: true });
    const r = await runWithResult([s.url, '-n', '4', '-c', '1', '--insecure', '--connections', mode]);
    expect(r.code).toBe(3);
    expect(r.result.requests.errors.tls).toBe(4);
    expect(r.result.requests.errors.reset).toBe(0);
    expect(r.stderr).toMatch(/alert: certificate required/);
    expect(r.stderr).toMatch(/hint: the server asks for a client certificate/);
  });

  it('--insecure accepts it: every request answered', async () => {
    const s = await tlsServer();
    const r = await runWithResult([s.url, '-n', '20', '-c', '2', '--insecure']);
    expect(r.code).toBe(0);
    expect(r.result.requests.ok).toBe(20);
    expect(s.served()).toBe(20);
  });
});
