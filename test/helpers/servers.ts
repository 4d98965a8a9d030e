/**
 * Small real HTTP servers for tests, on 127.0.0.1 port 0. Each counts what it served so tests can
 * compare the tool's figures with the server's own.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface TestServer {
  url: string;
  port: number;
  /** Requests served, all paths. */
  count: number;
  close(): Promise<void>;
}

export async function startServer(handler: (req: IncomingMessage, res: ServerResponse, server: TestServer) => void, host = '127.0.0.1'): Promise<TestServer> {
  const ts: TestServer = { url: '', port: 0, count: 0, close: async () => undefined };
  const server: Server = createServer((req, res) => {
    ts.count++;
    handler(req, res, ts);
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const port = (server.address() as AddressInfo).port;
  ts.port = port;
  ts.url = `http://${host === '::1' ? '[::1]' : host}:${port}`;
  ts.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return ts;
}

/** A port with nothing listening (bound then released). */
export async function closedPort(): Promise<number> {
  const s = await startServer(() => undefined);
  const port = s.port;
  await s.close();
  return port;
}

/** Parses a Cookie header into a map. */
export function cookiesOf(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0) out[part.slice(0, i).trim()] = part.slice(i + 1).trim();
  }
  return out;
}

export async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * A `server()` that starts test servers and closes them all after each test. Call at the top of a test
 * file: `const server = serversClosedAfterEach(afterEach);`.
 */
export function serversClosedAfterEach(afterEach: (fn: () => Promise<void>) => void): (...args: Parameters<typeof startServer>) => Promise<TestServer> {
  const open: TestServer[] = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((s) => s.close()));
  });
  return async (...args) => {
    const s = await startServer(...args);
    open.push(s);
    return s;
  };
}
