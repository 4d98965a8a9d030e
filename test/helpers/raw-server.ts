/**
 * A raw TCP server speaking just enough HTTP/1.1 to misbehave on purpose: it reads request heads (and a
 * Content-Length body), and answers each with whatever the test's handler writes on the socket. It
 * counts the requests it read, so tests compare the tool's counts with the server's own.
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

export interface RawRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: string;
  /** 1 for the first request on this connection. */
  onConnection: number;
}

export interface RawServer {
  url: string;
  origin: string;
  /** Requests read, all connections. */
  requests: number;
  connections: number;
  close(): Promise<void>;
}

/** Starts a raw server; `handler` answers a request by writing on (or closing) the socket. */
export async function startRawServer(handler: (req: RawRequest, socket: Socket, server: RawServer) => void): Promise<RawServer> {
  const sockets = new Set<Socket>();
  const rs: RawServer = { url: '', origin: '', requests: 0, connections: 0, close: async () => undefined };
  const server: Server = createServer((socket) => {
    rs.connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    let buf = Buffer.alloc(0);
    let onConnection = 0;
    socket.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      for (;;) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buf.subarray(0, end).toString('latin1').split('\r\n');
        const [method = '', path = ''] = head[0]!.split(' ');
        const headers: Record<string, string> = {};
        for (const l of head.slice(1)) {
          const i = l.indexOf(':');
          if (i > 0) headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
        }
        const length = Number(headers['content-length'] ?? 0);
        if (buf.length < end + 4 + length) return;
        const body = buf.subarray(end + 4, end + 4 + length).toString('utf8');
        buf = buf.subarray(end + 4 + length);
        rs.requests++;
        handler({ method, path, headers, body, onConnection: ++onConnection }, socket, rs);
        if (socket.destroyed) return;
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  rs.origin = `http://127.0.0.1:${port}`;
  rs.url = `${rs.origin}/`;
  rs.close = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    });
  return rs;
}

/** `HTTP/1.1 200 OK` with a body and extra header lines. */
export function response(body = 'ok', status = '200 OK', headers: string[] = []): string {
  return [`HTTP/1.1 ${status}`, `Content-Length: ${Buffer.byteLength(body)}`, ...headers, '', body].join('\r\n');
}
