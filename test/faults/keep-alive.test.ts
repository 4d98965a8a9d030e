/**
 * Fault suite: servers that close kept-alive connections whenever they like. This is what a rolling
 * restart looks like from the client (every app server closes its connections in a graceful shutdown,
 * nginx at keepalive_requests): the tool must not count its own reuse race as errors of the target.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { errorTotal as totalErrors, runWithResult } from '../helpers/fault-run.js';
import { response, startRawServer, type RawServer } from '../helpers/raw-server.js';

const open: RawServer[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.close()));
});

const runAgainst = (url: string, args: string[]) => runWithResult([url, ...args]);

describe('a server that closes kept-alive connections without saying so', () => {
  it('closes each connection right after its response (no Connection: close): no error, every request answered', async () => {
    const server = await startRawServer((_req, socket) => {
      // Like a process in a graceful shutdown: answer, then close the socket for good.
      socket.end(response('ok'), () => socket.destroy());
    });
    open.push(server);
    const { code, result, stdout } = await runAgainst(server.url, ['-n', '300', '-c', '1']);
    expect(code).toBe(0);
    expect(totalErrors(result)).toBe(0);
    expect(result.requests.total).toBe(300);
    expect(result.requests.ok).toBe(300);
    // The server's own count: every request it read was answered and counted once.
    expect(server.requests).toBe(300);
    // Retries are counted apart from errors, and only a reused connection is ever retried.
    expect(result.requests.retries).toBeLessThanOrEqual(300);
    if (result.requests.retries > 0) expect(stdout).toMatch(/Retried requests: +\d+/);
  });

  it('closes every 3rd response on a connection (like nginx keepalive_requests without the header)', async () => {
    const server = await startRawServer((req, socket) => {
      if (req.onConnection % 3 === 0) socket.end(response('ok'), () => socket.destroy());
      else socket.write(response('ok'));
    });
    open.push(server);
    const { code, result } = await runAgainst(server.url, ['-n', '600', '-c', '4']);
    expect(code).toBe(0);
    expect(totalErrors(result)).toBe(0);
    expect(result.requests.total).toBe(600);
    expect(server.requests).toBe(600);
  });

  it('closes idle connections after the think time (the idle timeout equals the think time)', async () => {
    const server = await startRawServer((_req, socket) => {
      socket.write(response('ok'));
      socket.setTimeout(50, () => socket.destroy());
    });
    open.push(server);
    const { code, result } = await runAgainst(server.url, ['-n', '40', '-c', '2', '--think', '50ms']);
    expect(code).toBe(0);
    expect(totalErrors(result)).toBe(0);
    expect(result.requests.total).toBe(40);
    expect(server.requests).toBe(40);
  });

  it('still counts a real reset: a server that resets every request is not retried forever', async () => {
    const server = await startRawServer((_req, socket) => {
      socket.resetAndDestroy();
    });
    open.push(server);
    const { code, result } = await runAgainst(server.url, ['-n', '20', '-c', '1']);
    expect(code).toBe(3); // nothing answered: the target is unusable
    // (The run may stop early on that verdict; every request it made is a reset, and the server saw each.)
    expect(result.requests.total).toBeGreaterThanOrEqual(10);
    expect(result.requests.errors.reset).toBe(result.requests.total);
    expect(result.requests.retries).toBe(0); // a new connection is never retried
    expect(server.requests).toBe(result.requests.total);
  });
});
