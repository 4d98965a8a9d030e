/**
 * The lab's load balancer: an HTTP reverse proxy (node:http, one keep-alive Agent per replica) doing
 * round-robin, or cookie stickiness like an ALB `lb_cookie` / HAProxy `cookie insert`. It also counts,
 * per replica name, every proxied response and every session miss, so the lab's figures are exact and
 * survive replica restarts; and it answers the lab's control endpoints under `/_lab/`.
 */
import http, { type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse } from 'node:http';
import { ErrorCode, UsageError } from '../common/errors.js';
import { readCookie, SESSION_MISS_HEADER } from './replica-app.js';

/** How the balancer picks a replica. */
export type BalancerMode = 'round-robin' | 'sticky';

/** Name of the affinity cookie the balancer inserts in `sticky` mode. */
export const AFFINITY_COOKIE = 'LAB_AFFINITY';

/** Per-replica tallies, kept by name so a restarted replica continues its counts. */
export interface BackendCounts {
  requests: number;
  sessionMisses: number;
}

/** One replica as the balancer sees it. The lab mutates `port`/`agent`/`routable` across restarts. */
export interface Backend {
  readonly name: string;
  port: number;
  agent: http.Agent;
  /** False while starting, draining, restarting or dead: no new request is routed here. */
  routable: boolean;
  /** Requests proxied to this replica and not yet finished. */
  inflight: number;
  readonly counts: BackendCounts;
  /** Resolvers waiting for `inflight` to reach 0. */
  idleWaiters: (() => void)[];
}

/** What the control endpoints call; implemented by the lab. Throw `UsageError` for bad input (-> 400). */
export interface LabControl {
  restart(i: number): Promise<void>;
  scale(n: number): Promise<void>;
  stats(): unknown;
  resetStats(): void;
}

// Hop-by-hop headers (RFC 9110 7.6.1) must not be forwarded by a proxy.
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/** Creates the keep-alive agent used to reach one replica. */
export function createBackendAgent(): http.Agent {
  // Free sockets are dropped after 30 s, well before the replica's 65 s keep-alive timeout, so the balancer
  // never reuses a socket the replica is closing (which would surface as a spurious 502).
  return new http.Agent({ keepAlive: true, timeout: 30_000, scheduling: 'lifo' });
}

/** The balancer server. Backends are kept in replica-number order; the lab adds and removes them. */
export class Balancer {
  readonly mode: BalancerMode;
  readonly backends: Backend[] = [];
  readonly #counts = new Map<string, BackendCounts>();
  readonly #server: http.Server;
  readonly #control: LabControl;
  #rr = 0;
  /** Called for every proxied answer when set (the lab's --log-requests). */
  onAnswer: ((backend: string, method: string, url: string, status: number, ms: number) => void) | null = null;

  constructor(mode: BalancerMode, control: LabControl) {
    this.mode = mode;
    this.#control = control;
    this.#server = http.createServer((req, res) => this.#handle(req, res));
    // Clients' sockets must not keep a closed lab alive, and many short-lived VUs come and go.
    this.#server.keepAliveTimeout = 5_000;
  }

  /** Starts listening; resolves the bound port. */
  listen(port: number, host: string): Promise<number> {
    return new Promise((resolve, reject) => {
      const onError = (e: NodeJS.ErrnoException): void =>
        reject(e.code === 'EADDRINUSE' ? new UsageError(`Lab port ${host}:${port} is already in use.`, undefined, ErrorCode.portInUse) : e);
      this.#server.once('error', onError);
      this.#server.listen(port, host, () => {
        this.#server.removeListener('error', onError);
        const addr = this.#server.address();
        resolve(typeof addr === 'object' && addr ? addr.port : port);
      });
    });
  }

  /** Cumulative counts for `name`, created on first use; the same object is returned on every call. */
  countsFor(name: string): BackendCounts {
    let c = this.#counts.get(name);
    if (!c) this.#counts.set(name, (c = { requests: 0, sessionMisses: 0 }));
    return c;
  }

  /** Every name ever counted (since the last reset), with its counts. */
  allCounts(): ReadonlyMap<string, BackendCounts> {
    return this.#counts;
  }

  /** Zeroes counts in place (backends keep their references) and forgets replicas that no longer exist. */
  resetCounts(): void {
    const live = new Set(this.backends.map((b) => b.name));
    for (const [name, c] of this.#counts) {
      if (live.has(name)) c.requests = c.sessionMisses = 0;
      else this.#counts.delete(name);
    }
  }

  /** Registers a backend in name order (replica-2 before replica-10). */
  addBackend(name: string, port: number, routable = true): Backend {
    const b: Backend = { name, port, agent: createBackendAgent(), routable, inflight: 0, counts: this.countsFor(name), idleWaiters: [] };
    this.backends.push(b);
    this.backends.sort((x, y) => replicaNumber(x.name) - replicaNumber(y.name));
    return b;
  }

  /** Unregisters a backend and drops its pooled sockets (its counts stay). */
  removeBackend(b: Backend): void {
    const i = this.backends.indexOf(b);
    if (i !== -1) this.backends.splice(i, 1);
    b.agent.destroy();
  }

  /** Stops routing to `b` and waits until its in-flight requests finish, or `timeoutMs` passes. */
  async drain(b: Backend, timeoutMs: number): Promise<void> {
    b.routable = false;
    if (b.inflight === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve) => {
      b.idleWaiters.push(resolve);
      timer = setTimeout(resolve, timeoutMs);
    });
    clearTimeout(timer);
  }

  /** Stops accepting and drops every client and backend connection. */
  close(): Promise<void> {
    return new Promise((resolve) => {
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
      for (const b of this.backends) b.agent.destroy();
    });
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const url = req.url ?? '/';
    if (url.startsWith('/_lab/')) {
      this.#controlRequest(req, res, url).catch((e: unknown) => {
        const bad = e instanceof UsageError;
        json(res, bad ? 400 : 500, { error: e instanceof Error ? e.message : String(e) });
      });
      return;
    }
    let target: Backend | undefined;
    let setAffinity = false;
    if (this.mode === 'sticky') {
      const wanted = readCookie(req.headers.cookie, AFFINITY_COOKIE);
      target = wanted ? this.backends.find((b) => b.name === wanted && b.routable) : undefined;
      // No cookie, or its replica is down or gone: re-pin (this is when sticky users lose their session).
      if (!target) {
        target = this.#pick();
        setAffinity = target !== undefined;
      }
    } else {
      target = this.#pick();
    }
    if (!target) {
      req.resume();
      res.writeHead(503, { 'content-type': 'text/plain', 'retry-after': '1' });
      res.end('Service Unavailable: no replica is up');
      return;
    }
    this.#proxy(req, res, target, setAffinity);
  }

  /** Round-robin over routable backends. */
  #pick(): Backend | undefined {
    const list = this.backends;
    const n = list.length;
    for (let k = 0; k < n; k++) {
      const i = (this.#rr + k) % n;
      const b = list[i]!;
      if (b.routable) {
        this.#rr = (i + 1) % n;
        return b;
      }
    }
    return undefined;
  }

  #proxy(req: IncomingMessage, res: ServerResponse, b: Backend, setAffinity: boolean): void {
    const startedAt = this.onAnswer !== null ? performance.now() : 0;
    b.inflight++;
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      if (--b.inflight === 0 && b.idleWaiters.length > 0) for (const w of b.idleWaiters.splice(0)) w();
    };

    const headers: OutgoingHttpHeaders = {};
    for (const k in req.headers) if (!HOP_BY_HOP.has(k)) headers[k] = req.headers[k];
    headers['x-forwarded-for'] = req.socket.remoteAddress;

    const upstream = http.request(
      { agent: b.agent, host: '127.0.0.1', port: b.port, method: req.method, path: req.url, headers },
      (ures) => {
        // Count before forwarding, so a client that has the response can rely on the stats including it.
        b.counts.requests++;
        if (this.onAnswer !== null) this.onAnswer(b.name, req.method ?? '?', req.url ?? '/', ures.statusCode ?? 502, performance.now() - startedAt);
        if (ures.headers[SESSION_MISS_HEADER] === '1') b.counts.sessionMisses++;
        const out: OutgoingHttpHeaders = {};
        for (const k in ures.headers) if (!HOP_BY_HOP.has(k)) out[k] = ures.headers[k];
        if (setAffinity) {
          const cookie = `${AFFINITY_COOKIE}=${b.name}; Path=/; HttpOnly`;
          const prev = out['set-cookie'];
          out['set-cookie'] = prev === undefined ? [cookie] : [...(Array.isArray(prev) ? prev : [String(prev)]), cookie];
        }
        res.writeHead(ures.statusCode ?? 502, ures.statusMessage, out);
        ures.pipe(res);
        // Replica died mid-body: cut the client connection so it sees a truncated response, not a hang.
        ures.on('error', () => res.destroy());
        ures.on('close', () => {
          if (!ures.complete) res.destroy();
          release();
        });
      },
    );
    upstream.on('error', () => {
      release();
      if (!res.headersSent) {
        res.writeHead(502, { 'content-type': 'text/plain', connection: 'close' });
        res.end('Bad Gateway: replica did not answer');
      } else res.destroy();
    });
    res.on('close', () => {
      if (!res.writableFinished) upstream.destroy();
      release();
    });
    req.pipe(upstream);
  }

  async #controlRequest(req: IncomingMessage, res: ServerResponse, url: string): Promise<void> {
    req.resume();
    const path = url.split('?')[0]!;
    const method = req.method ?? 'GET';
    const m = /^\/_lab\/(restart|scale)\/([^/]*)$/.exec(path);
    if (m) {
      if (method !== 'POST') return json(res, 405, { error: `Use POST ${path}` });
      const n = parseIndex(m[2]!);
      if (m[1] === 'restart') {
        await this.#control.restart(n);
        return json(res, 200, { ok: true, restarted: `replica-${n}`, stats: this.#control.stats() });
      }
      await this.#control.scale(n);
      return json(res, 200, { ok: true, replicas: n, stats: this.#control.stats() });
    }
    if (path === '/_lab/stats') {
      if (method !== 'GET' && method !== 'HEAD') return json(res, 405, { error: 'Use GET /_lab/stats' });
      return json(res, 200, this.#control.stats());
    }
    if (path === '/_lab/reset-stats') {
      if (method !== 'POST') return json(res, 405, { error: 'Use POST /_lab/reset-stats' });
      this.#control.resetStats();
      return json(res, 200, { ok: true });
    }
    json(res, 404, { error: `Unknown lab endpoint ${path}` });
  }
}

function parseIndex(s: string): number {
  if (!/^\d{1,6}$/.test(s)) throw new UsageError(`Expected a positive integer, got '${decodeURIComponentSafe(s)}'.`);
  return Number(s);
}

function decodeURIComponentSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

function json(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) return void res.destroy();
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** `replica-12` -> 12 (sort key). */
export function replicaNumber(name: string): number {
  const n = Number(name.slice(name.lastIndexOf('-') + 1));
  return Number.isFinite(n) ? n : Number.MAX_SAFE_INTEGER;
}
