/**
 * A VU's HTTP/1.1 connection to one origin, `http:` or `https:` (TLS over node:tls, ALPN http/1.1, SNI,
 * certificates verified unless --insecure, and the TLS session resumed on a reconnect as a browser
 * does): the socket, its timeouts and the
 * keep-alive reuse rules. Bytes go to an {@link H1ResponseParser}; this module decides what a parse
 * outcome, an end of stream or a socket error means for the request in flight. Behaves as undici's
 * `Client` with `pipelining: 1` does; costs one socket and a few fields.
 *
 * One thing it does better than a plain client: a server may close a kept-alive connection right after
 * a response without saying so (nginx at `keepalive_requests`, any app server in a graceful shutdown,
 * an idle timeout equal to the think time). A request written onto that socket fails before a byte of
 * answer arrives. Such a request, when idempotent, is sent again once on a new connection, as browsers
 * do; it is counted as a retry, not as an error of the target.
 */
import { connect as netConnect, isIP, type Socket } from 'node:net';
import { connect as tlsConnect, createSecureContext, type ConnectionOptions, type SecureContext } from 'node:tls';
import { clientDestroyed, contentLengthMismatch, headersTimeout, HttpError, parserError, responseTimeout, socketError, tlsAlertError } from '../errors.js';
import type { Exchange } from '../exchange.js';
import type { RequestHead } from '../request-head.js';
import { H1ResponseParser, PARSE_COMPLETE, PARSE_FAILED } from './parser.js';
import { scheduleValidation, unwatchTimeouts, watchTimeouts, type TimeoutWatched, type Validated } from './scheduling.js';

/** undici's keep-alive defaults: idle sockets are dropped after 4 s, or 2 s before the server's hint. */
const KEEP_ALIVE_DEFAULT_MS = 4e3;
const KEEP_ALIVE_MAX_MS = 600e3;
const KEEP_ALIVE_THRESHOLD_MS = 2e3;
/** TCP keep-alive probes after this idle time (undici's connector does the same). */
const TCP_KEEPALIVE_DELAY_MS = 60e3;

/**
 * One TLS context for every connection: tls.connect() builds a new one (the whole CA store parsed again)
 * for each connection otherwise, which costs more than the handshake itself.
 */
let secureContext: SecureContext | null = null;

/** A socket handed back after its one response (a connection per request) is dropped this long after, if the server has not closed it. */
const RETIRED_SOCKET_MS = 2000;

/** Sockets waiting for the server to close them (see H1Connection.retire), oldest first, with when. */
const retired: { socket: Socket; atMs: number }[] = [];
let retiredSweep: NodeJS.Timeout | null = null;
function retireSocket(socket: Socket): void {
  retired.push({ socket, atMs: performance.now() });
  // One sweep for all of them (not a timer per socket): closed ones are forgotten, late ones destroyed.
  retiredSweep ??= setInterval(() => {
    const now = performance.now();
    let i = 0;
    while (i < retired.length && (retired[i]!.socket.destroyed || now - retired[i]!.atMs >= RETIRED_SOCKET_MS)) retired[i++]!.socket.destroy();
    retired.splice(0, i);
    if (retired.length === 0 && retiredSweep !== null) {
      clearInterval(retiredSweep);
      retiredSweep = null;
    }
  }, 250).unref();
}

/** One read buffer for every socket: each read is parsed synchronously before the next one lands. */
let readBuffer: Buffer | null = null;

const kConn = Symbol('session-bench.h1');
type OwnedSocket = Socket & { [kConn]: H1Connection };

// Socket callbacks shared by every connection (no closure per socket).
function onSocketRead(this: OwnedSocket, nread: number, buf: Buffer): boolean {
  this[kConn].onRead(this, nread, buf);
  return true;
}
function onSocketConnect(this: OwnedSocket): void {
  this[kConn].onConnect(this);
}
function onSocketEnd(this: OwnedSocket): void {
  this[kConn].onEnd(this);
}
function onSocketError(this: OwnedSocket, err: Error): void {
  this[kConn].onSocketError(this, err);
}
function onSocketClose(this: OwnedSocket): void {
  this[kConn].onClose(this);
}
function onTlsSession(this: OwnedSocket, session: Buffer): void {
  this[kConn].onSession(session);
}

interface OriginInfo {
  readonly hostHeader: string;
  readonly hostname: string;
  readonly port: number;
  readonly tls: boolean;
  /** SNI: the host name (never an IP address, RFC 6066 §3). */
  readonly servername: string | undefined;
}

/** How a connection is made, the same for every connection of a run (or of a VU, for the address). */
export interface H1Options {
  /** Accept any certificate (self-signed test environments). */
  readonly insecure?: boolean;
  /** Resume the TLS session on a reconnect (default true; off for handshake-cost tests). */
  readonly tlsResumption?: boolean;
  /** The local address to connect from (--source-addresses). */
  readonly localAddress?: string | undefined;
  /** Keep the connection for the next request (default); false: one request per connection, like ab. */
  readonly persistent?: boolean;
}
/** Parsed once per origin and shared by every connection to it (10,000 VUs, one origin). */
const origins = new Map<string, OriginInfo>();
function originInfo(origin: string): OriginInfo {
  let o = origins.get(origin);
  if (o === undefined) {
    const u = new URL(origin);
    const hostname = u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname;
    const tls = u.protocol === 'https:';
    o = {
      hostHeader: `host: ${u.hostname}${u.port ? `:${u.port}` : ''}\r\n`,
      hostname,
      port: u.port ? Number(u.port) : tls ? 443 : 80,
      tls,
      servername: tls && isIP(hostname) === 0 ? hostname : undefined,
    };
    if (origins.size < 1000) origins.set(origin, o);
  }
  return o;
}

export class H1Connection implements TimeoutWatched, Validated {
  /** `host: name[:port]\r\n`, as undici writes it. */
  readonly hostHeader: string;
  private readonly hostname: string;
  private readonly port: number;
  private readonly tls: boolean;
  private readonly servername: string | undefined;
  private readonly insecure: boolean;
  private readonly tlsResumption: boolean;
  private readonly localAddress: string | undefined;
  /** Keep-alive (true) or one request per connection. */
  readonly persistent: boolean;
  /** The last TLS session the server gave, offered again on the next connection. */
  private tlsSession: Buffer | undefined = undefined;
  private readonly parser = new H1ResponseParser();
  private socket: OwnedSocket | null = null;
  private ex: Exchange | null = null;
  /** Request waiting for the used socket's check (see scheduleValidation). */
  private queued: RequestHead | null = null;
  private inValidation = false;
  private used = false;
  private unrefed = false;
  private connecting = false;
  private closed = false;
  /** Drop the socket when the response in flight completes. */
  private closeAfter = false;
  /** The request in flight: its bytes, whether it may be sent again, and what happened to it so far. */
  private sentHead: RequestHead | null = null;
  private retryable = false;
  /** It was written on a socket that had already carried a response. */
  private onReusedSocket = false;
  /** A byte of its answer arrived. */
  private answered = false;
  private retried = false;
  private keepAliveMs = KEEP_ALIVE_DEFAULT_MS;
  // Timeouts (performance.now() ms).
  private timeoutMs: number;
  private connectStartMs = 0;
  private idleSinceMs = 0;

  constructor(
    readonly origin: string,
    private readonly connectTimeoutMs: number,
    options: H1Options = {},
  ) {
    const o = originInfo(origin);
    this.hostHeader = o.hostHeader;
    this.hostname = o.hostname;
    this.port = o.port;
    this.tls = o.tls;
    this.servername = o.servername;
    this.insecure = options.insecure ?? false;
    this.tlsResumption = options.tlsResumption ?? true;
    this.localAddress = options.localAddress;
    this.persistent = options.persistent ?? true;
    this.timeoutMs = connectTimeoutMs;
  }

  /**
   * Sends a request for `ex` (called by {@link Exchange.startH1}). `retryable`: idempotent, so it may be
   * sent again when a reused socket turns out to have been closed by the server (see the module doc).
   */
  request(ex: Exchange, head: RequestHead, timeoutMs: number, retryable: boolean): void {
    if (this.closed) {
      ex.failLater(clientDestroyed());
      return;
    }
    this.ex = ex;
    this.timeoutMs = timeoutMs;
    this.sentHead = head;
    this.retryable = retryable;
    this.answered = false;
    this.retried = false;
    this.parser.expect(ex);
    if (this.socket === null) this.open(head, ex.startMs);
    else if (!this.used) this.write(head);
    else {
      this.queued = head;
      if (!this.inValidation) {
        this.inValidation = true;
        scheduleValidation(this);
      }
    }
  }

  /** The used socket had its poll turn: write the queued request, on a new socket if that one went. */
  validated(): void {
    this.inValidation = false;
    const head = this.queued;
    const s = this.socket;
    if (head === null) {
      // Idle: like undici, an idle socket does not keep the process alive.
      if (s !== null && this.ex === null && !this.unrefed) {
        s.unref();
        this.unrefed = true;
      }
      return;
    }
    this.queued = null;
    const now = this.ex!.startMs;
    if (s !== null && now - this.idleSinceMs >= this.keepAliveMs) this.drop(s);
    if (this.socket === null) this.open(head, now);
    else this.write(head);
  }

  private write(head: RequestHead): void {
    const s = this.socket!;
    if (this.unrefed) {
      s.ref();
      this.unrefed = false;
    }
    this.onReusedSocket = this.used;
    s.write(head, 'latin1');
  }

  private open(head: RequestHead, now: number): void {
    readBuffer ??= Buffer.allocUnsafe(64 * 1024);
    const onread = { buffer: readBuffer, callback: onSocketRead as (n: number, b: Buffer) => boolean };
    let s: OwnedSocket;
    if (this.tls) {
      // localAddress is a socket.connect() option, which tls.connect() passes on (its type omits it).
      const options: ConnectionOptions & { localAddress?: string | undefined; onread?: typeof onread } = {
        host: this.hostname,
        port: this.port,
        servername: this.servername,
        ALPNProtocols: ['http/1.1'],
        rejectUnauthorized: !this.insecure,
        secureContext: (secureContext ??= createSecureContext()),
        session: this.tlsResumption ? this.tlsSession : undefined,
        localAddress: this.localAddress,
        onread,
      };
      s = tlsConnect(options) as unknown as OwnedSocket;
      // Connected once the handshake is done (it counts within the connect timeout).
      s.once('secureConnect', onSocketConnect);
      if (this.tlsResumption) s.on('session', onTlsSession);
    } else {
      s = netConnect({ host: this.hostname, port: this.port, localAddress: this.localAddress, onread }) as OwnedSocket;
      s.once('connect', onSocketConnect);
    }
    s[kConn] = this;
    // TCP keep-alive probes and Nagle matter for a connection that waits between requests; a connection
    // per request writes its request once and goes (and each setsockopt() is a system call per connection).
    if (this.persistent) {
      s.setNoDelay(true);
      s.setKeepAlive(true, TCP_KEEPALIVE_DELAY_MS);
    }
    s.on('end', onSocketEnd);
    s.on('error', onSocketError);
    s.on('close', onSocketClose);
    this.socket = s;
    this.used = false;
    this.unrefed = false;
    this.connecting = true;
    this.connectStartMs = now;
    this.keepAliveMs = KEEP_ALIVE_DEFAULT_MS;
    this.onReusedSocket = false;
    watchTimeouts(this, Math.min(this.connectTimeoutMs, this.timeoutMs));
    // Written once connected (net buffers it).
    s.write(head, 'latin1');
  }

  onConnect(s: OwnedSocket): void {
    if (s !== this.socket) return;
    this.connecting = false;
  }

  /** The server sent a session ticket (TLS 1.3 may send several: the last one is kept). */
  onSession(session: Buffer): void {
    this.tlsSession = session;
  }

  /** Drops a socket without failing anything (idle, or the response is complete). */
  private drop(s: OwnedSocket): void {
    if (this.socket === s) {
      this.socket = null;
      this.connecting = false;
      unwatchTimeouts(this);
    }
    s.destroy();
  }

  /**
   * A connection per request: the response is complete and the server was asked to close. Let it close
   * first, as ab's server does, so that the TIME_WAIT state stays on its side: a client that closes
   * first keeps thousands of its own ports in TIME_WAIT, and every connect() then searches longer for a
   * free one. A server that does not close is closed after RETIRED_SOCKET_MS.
   */
  private retire(s: OwnedSocket): void {
    if (this.socket === s) {
      this.socket = null;
      this.connecting = false;
      unwatchTimeouts(this);
    }
    retireSocket(s);
  }

  /**
   * The socket went (closed, reset, or ended) with a request in flight: send it again on a new
   * connection when the server closed a reused socket before answering (see the module doc), else fail it.
   */
  private lost(s: OwnedSocket, err: Error): void {
    const ex = this.ex;
    if (ex !== null && this.onReusedSocket && !this.answered && !this.retried && this.retryable && this.parser.awaitingHead) {
      this.retried = true;
      ex.retries++;
      this.drop(s);
      this.open(this.sentHead!, performance.now());
      return;
    }
    this.fail(s, err);
  }

  /** Fails the request in flight (if any) and drops the socket. */
  private fail(s: OwnedSocket, err: Error): void {
    const ex = this.ex;
    this.ex = null;
    this.parser.reset();
    this.queued = null;
    this.drop(s);
    ex?.onError(err);
  }

  /** Aborts `ex`'s request if it is the one in flight here. */
  abortExchange(ex: Exchange, err: Error): void {
    if (this.ex !== ex) return;
    if (this.socket !== null) this.fail(this.socket, err);
    else {
      this.ex = null;
      this.queued = null;
      this.parser.reset();
      ex.onError(err);
    }
  }

  /** No more requests; `force` fails the one in flight, else the socket goes when it completes. */
  close(force: boolean): void {
    this.closed = true;
    const s = this.socket;
    if (s === null) return;
    if (this.ex !== null) {
      if (force) this.fail(s, clientDestroyed());
      else this.closeAfter = true; // dropped when the response completes
      return;
    }
    this.drop(s);
  }

  checkTimeouts(now: number): void {
    const s = this.socket;
    if (s === null) return;
    if (this.connecting) {
      if (now - this.connectStartMs >= this.connectTimeoutMs) {
        this.fail(s, new HttpError('ConnectTimeoutError', 'UND_ERR_CONNECT_TIMEOUT', `Connect Timeout Error (attempted address: ${this.hostname}:${this.port}, timeout: ${this.connectTimeoutMs}ms)`));
      }
      return;
    }
    const ex = this.ex;
    if (ex === null || this.queued !== null) return;
    // The whole exchange must end within the timeout, head and body: a server that trickles a body one
    // byte at a time keeps no request (and no run) alive forever.
    if (now - ex.startMs >= this.timeoutMs) this.fail(s, this.parser.awaitingHead ? headersTimeout() : responseTimeout(this.timeoutMs));
  }

  onEnd(s: OwnedSocket): void {
    if (s !== this.socket) return;
    const p = this.parser;
    if (this.ex !== null && this.queued === null && !p.awaitingHead) {
      if (p.untilEof) {
        p.endOfInput();
        this.complete(s);
        return;
      }
      if (!p.keepAlive) {
        // undici's parser.finish(): llhttp's EOF error, reported as a length mismatch when there was one.
        this.fail(s, p.contentLength >= 0 ? contentLengthMismatch() : parserError('Invalid EOF state'));
        return;
      }
    }
    if (this.ex !== null && this.queued === null) this.lost(s, socketError('other side closed'));
    else this.drop(s); // idle (or a request still waiting for the check): it goes on a new socket
  }

  onSocketError(s: OwnedSocket, err: Error): void {
    if (s !== this.socket) return;
    // A TLS alert is the server's reason for closing: it is the error, not the reset that follows.
    if (this.tls) err = tlsAlertError(err as NodeJS.ErrnoException) ?? err;
    if (this.ex !== null && this.queued === null) this.lost(s, err);
    else this.drop(s);
  }

  onClose(s: OwnedSocket): void {
    if (s !== this.socket) return;
    if (this.ex !== null && this.queued === null) this.lost(s, socketError('closed'));
    else this.drop(s);
  }

  /** Everything the socket read: parses as much of the response as it holds. */
  onRead(s: OwnedSocket, nread: number, buf: Buffer): void {
    if (s !== this.socket) return;
    const ex = this.ex;
    // Bytes nobody asked for: undici drops such a connection; so do we (nothing to fail).
    if (ex === null || this.queued !== null) return this.drop(s);
    this.answered = true;
    const r = this.parser.execute(buf, nread);
    if (r === PARSE_FAILED) this.fail(s, this.parser.error!);
    else if (r === PARSE_COMPLETE) {
      const unsolicited = this.parser.unsolicited;
      this.complete(s);
      if (unsolicited && this.socket === s) this.drop(s);
    } else {
      // The read buffer is reused by the next read: a response still in progress copies what it keeps.
      ex.h1Flush();
    }
  }

  /** The response is complete: hand it over, then keep or drop the socket. */
  private complete(s: OwnedSocket): void {
    const ex = this.ex!;
    const p = this.parser;
    this.ex = null;
    this.used = true;
    if (p.keepAlive) {
      const hint = p.keepAliveHintMs;
      if (hint < 0) this.keepAliveMs = KEEP_ALIVE_DEFAULT_MS;
      else {
        const ms = Math.min(hint - KEEP_ALIVE_THRESHOLD_MS, KEEP_ALIVE_MAX_MS);
        if (ms <= 0) this.closeAfter = true;
        else this.keepAliveMs = ms;
      }
    }
    if (!this.persistent) this.retire(s);
    else if (!p.keepAlive || this.closeAfter || this.closed) {
      this.closeAfter = false;
      this.drop(s);
    }
    ex.onComplete();
    if (this.socket === s) {
      this.idleSinceMs = ex.endMs;
      if (!this.inValidation) {
        this.inValidation = true;
        scheduleValidation(this);
      }
    }
  }
}
