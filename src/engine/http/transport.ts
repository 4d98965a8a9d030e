/**
 * Where a VU's requests go, and which client carries each one. Two clients:
 *
 * - The VU's own connection to an `http:` or `https:` origin (`per-vu` mode, the default, and `new`: a
 *   connection per request) uses the built-in HTTP/1.1 client ({@link H1Connection}): it writes a request the VU cached (a steady request builds no
 *   string and no header array), parses the response in place from one read buffer shared by every
 *   socket, and reports through a callback rather than a promise. It speaks to the server as undici's
 *   `Client` with pipelining 1 does (test/integration/http-client.test.ts runs both side by side).
 * - Everything else (the `shared` pool, HEAD, bodies on GET/DELETE, headers undici treats specially, and
 *   `--http-client undici`) goes through undici's low-level `dispatch` API, loaded on first use.
 */
import { createRequire } from 'node:module';
import type { Agent, Client, Dispatcher } from 'undici';
import type { Exchange, ExchangeRequest } from './exchange.js';
import { tlsAlertError } from './errors.js';
import { H1Connection } from './h1/connection.js';
import type { RequestHead } from './request-head.js';

export type ConnectionMode = 'per-vu' | 'shared' | 'new';
/** The client of the VUs' own connections: the built-in HTTP/1.1 client, or undici (the escape hatch). */
export type HttpClientChoice = 'builtin' | 'undici';

export interface TransportOptions {
  mode: ConnectionMode;
  /** Connect, headers and body timeout of every request. */
  timeoutMs: number;
  /** Accept any TLS certificate (self-signed test environments). */
  insecure: boolean;
  /** Upper bound of connections per origin for the shared pool. */
  concurrency: number;
  client: HttpClientChoice;
  /** Resume TLS sessions on reconnects (a browser does; off for handshake-cost tests). Default true. */
  tlsResumption?: boolean;
  /** The local address this transport's connections come from (--source-addresses). */
  localAddress?: string | undefined;
}

/**
 * One request as the sender describes it, built lazily for the client that carries it. Implemented by
 * an object the VU reuses, so that describing a request allocates nothing.
 */
export interface OutgoingRequest {
  readonly origin: string;
  /** The built-in client can carry it (its method, headers and body allow it). */
  readonly builtInCapable: boolean;
  /** Its method is idempotent (RFC 9110 §9.2.2): it may be sent again if a reused connection was closed under it. */
  readonly idempotent: boolean;
  /** The request's bytes for a built-in connection (the sender caches them where it can). */
  h1Head(conn: H1Connection): RequestHead | Error;
  /** The request for undici's dispatch, without `reset` and timeouts (the transport sets them). */
  dispatchOptions(): Dispatcher.DispatchOptions;
}

/**
 * The last TLS alert a server sent on a connection of a client (or pool). A server that requires a client
 * certificate accepts the handshake, then sends an alert and closes: undici reports that as "other side
 * closed" (a reset), while the socket itself had said why. The exchange reads the alert from here.
 */
export interface TlsAlerts {
  alert: Error | null;
}

/** undici's connector, with a listener that keeps each socket's TLS alert in `alerts`. */
function connectorKeepingTlsAlerts(insecure: boolean, alerts: TlsAlerts): import('undici').buildConnector.connector {
  const connect = undici().buildConnector(insecure ? { rejectUnauthorized: false } : {});
  return (opts, callback) =>
    connect(opts, (err, socket) => {
      socket?.on('error', (e: NodeJS.ErrnoException) => {
        const alert = tlsAlertError(e);
        if (alert !== null) alerts.alert = alert;
      });
      // undici's callback type is a union of (err, null) and (null, socket).
      (callback as (e: Error | null, s: typeof socket) => void)(err, socket);
    });
}

const agentAlerts = new WeakMap<Agent, TlsAlerts>();

// undici costs ~0.2 s of CPU to load; a quick-mode run against an http: target never needs it.
const requireCjs = createRequire(import.meta.url);
let undiciModule: typeof import('undici') | null = null;
const undici = (): typeof import('undici') => (undiciModule ??= requireCjs('undici') as typeof import('undici'));

/**
 * A VU's transport. `per-vu`: the VU's own keep-alive connection per origin (a browser); `shared`: one
 * pool for all VUs; `new`: a fresh connection per request (ab without -k).
 */
export class Transport {
  /** undici clients per origin (per-vu mode, for requests the built-in client does not take); lazily. */
  private clients: Map<string, Client> | null = null;
  /** Built-in connections: the first origin in a field (the common case), others in a map. */
  private conn: H1Connection | null = null;
  private moreConns: Map<string, H1Connection> | null = null;
  private readonly shared: Agent | null;
  private readonly reset: boolean;
  /** TLS alerts of this VU's own undici clients (or of the shared pool). */
  private readonly alerts: TlsAlerts;


  constructor(
    private readonly options: TransportOptions,
    sharedAgent: Agent | null,
  ) {
    this.shared = options.mode === 'per-vu' ? null : sharedAgent;
    this.reset = options.mode === 'new';
    this.alerts = (this.shared !== null ? agentAlerts.get(this.shared) : undefined) ?? { alert: null };
  }

  /** Sends `req` on the client that can carry it; `ex` holds the answer when `onDone` is called. */
  send(ex: Exchange, req: OutgoingRequest, spec: ExchangeRequest, onDone: () => void): void {
    const conn = req.builtInCapable ? this.connectionFor(req.origin) : null;
    if (conn !== null) {
      const head = req.h1Head(conn);
      if (head instanceof Error) ex.startFailed(spec, head, onDone);
      else ex.startH1(conn, head, spec, this.options.timeoutMs, req.idempotent, onDone);
      return;
    }
    const opts = req.dispatchOptions();
    opts.reset = this.reset;
    opts.headersTimeout = this.options.timeoutMs;
    opts.bodyTimeout = this.options.timeoutMs;
    ex.startUndici(this.dispatcherFor(req.origin), opts, spec, this.options.timeoutMs, this.shared === null, this.alerts, onDone);
  }

  /** The undici dispatcher for an origin (`http://host:port`). */
  dispatcherFor(origin: string): Dispatcher {
    if (this.shared) return this.shared;
    this.clients ??= new Map();
    let c = this.clients.get(origin);
    if (c === undefined) {
      c = new (undici().Client)(origin, {
        pipelining: 1,
        connectTimeout: this.options.timeoutMs,
        headersTimeout: this.options.timeoutMs,
        bodyTimeout: this.options.timeoutMs,
        connect: connectorKeepingTlsAlerts(this.options.insecure, this.alerts),
        // undici passes its own localAddress to the connector, so it is a client option.
        ...(this.options.localAddress !== undefined ? { localAddress: this.options.localAddress } : {}),
      });
      // After a failed TLS host check undici keeps the next request queued for a retry that never comes
      // (the run would hang): a client whose connection failed is replaced by a new one.
      const client = c;
      client.on('connectionError', () => {
        if (this.clients?.get(origin) === client) this.clients.delete(origin);
        void client.destroy().catch(() => undefined);
      });
      this.clients.set(origin, c);
    }
    return c;
  }

  /**
   * This VU's own built-in HTTP/1.1 connection to `origin`, or null when requests to it must go through
   * {@link dispatcherFor} (a shared pool, a connection per request, or not plain `http:`).
   */
  connectionFor(origin: string): H1Connection | null {
    if (this.options.mode === 'shared' || this.options.client === 'undici') return null;
    const c = this.conn;
    if (c !== null && c.origin === origin) return c;
    if (!origin.startsWith('http://') && !origin.startsWith('https://')) return null;
    if (c === null) return (this.conn = this.newConnection(origin));
    this.moreConns ??= new Map();
    let m = this.moreConns.get(origin);
    if (m === undefined) {
      m = this.newConnection(origin);
      this.moreConns.set(origin, m);
    }
    return m;
  }

  private newConnection(origin: string): H1Connection {
    const o = this.options;
    return new H1Connection(origin, o.timeoutMs, { insecure: o.insecure, tlsResumption: o.tlsResumption ?? true, localAddress: o.localAddress, persistent: o.mode !== 'new' });
  }

  /** Closes this VU's own connections (the shared agent is closed by its owner). */
  async close(force: boolean): Promise<void> {
    const own = this.conn === null ? [] : [this.conn, ...(this.moreConns?.values() ?? [])];
    this.conn = null;
    this.moreConns = null;
    for (const c of own) c.close(force);
    const all = this.clients === null ? [] : [...this.clients.values()];
    this.clients = null;
    await Promise.all(all.map((c) => (force ? c.destroy() : c.close()).catch(() => undefined)));
  }
}

/** The shared agent of `shared` mode (and of the requests `new` mode leaves to undici). */
export function createSharedAgent(o: TransportOptions): Agent | null {
  if (o.mode === 'per-vu') return null;
  const alerts: TlsAlerts = { alert: null };
  const agent = new (undici().Agent)({
    connections: o.mode === 'shared' ? o.concurrency : null,
    pipelining: 1,
    connectTimeout: o.timeoutMs,
    headersTimeout: o.timeoutMs,
    bodyTimeout: o.timeoutMs,
    connect: connectorKeepingTlsAlerts(o.insecure, alerts),
    ...(o.localAddress !== undefined ? { localAddress: o.localAddress } : {}),
  });
  agentAlerts.set(agent, alerts);
  return agent;
}
