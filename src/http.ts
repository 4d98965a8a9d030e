/**
 * One HTTP exchange. A virtual user owns one {@link Exchange} and reuses it for every request (a VU has one
 * request in flight at a time). Two ways to send:
 *
 * - The VU's own keep-alive connection to an `http:` origin (`per-vu` mode, the default) uses the built-in
 *   HTTP/1.1 client below ({@link H1Connection}): it writes a request the VU cached (a steady request
 *   builds no string and no header array), parses the response in place from one read buffer shared by
 *   every socket (no buffer per read; a body that is kept is decoded straight from it), and reports
 *   through a callback rather than a promise. It speaks to the server as undici's `Client` with
 *   pipelining 1 does: same request bytes, keep-alive rules, idle-socket check before reuse, timeouts,
 *   and the same errors for the same malformed responses (test/integration/http-client.test.ts runs
 *   both side by side).
 * - Everything else (`shared` and `new` modes, `https:`, HEAD, bodies on GET/DELETE, headers undici
 *   treats specially) goes through undici's low-level `dispatch` API, loaded on first use.
 *
 * Either way headers stay raw bytes except the few this tool reads, and bodies are kept only when a step
 * needs them.
 */
import { createRequire } from 'node:module';
import { connect as netConnect, type Socket } from 'node:net';
import type { Agent, Client, Dispatcher } from 'undici';
import type { ErrorKind } from './result.js';

export type ConnectionMode = 'per-vu' | 'shared' | 'new';

export interface TransportOptions {
  mode: ConnectionMode;
  timeoutMs: number;
  /** Accept any TLS certificate (self-signed test environments). */
  insecure: boolean;
  /** Upper bound of connections per origin for the shared pool. */
  concurrency: number;
}

// undici costs ~0.2 s of CPU to load; a quick-mode run against an http: target never needs it.
const requireCjs = createRequire(import.meta.url);
let undiciModule: typeof import('undici') | null = null;
const undici = (): typeof import('undici') => (undiciModule ??= requireCjs('undici') as typeof import('undici'));

/**
 * Where a VU's requests go. `per-vu`: the VU's own keep-alive connection per origin (a browser);
 * `shared`: one pool for all VUs; `new`: a fresh connection per request (ab without -k).
 */
export class Transport {
  /** undici clients per origin (per-vu mode, for requests the built-in client does not take); lazily. */
  private clients: Map<string, Client> | null = null;
  /** Built-in connections: the first origin in a field (the common case), others in a map. */
  private conn: H1Connection | null = null;
  private moreConns: Map<string, H1Connection> | null = null;
  private readonly shared: Agent | null;
  readonly reset: boolean;

  constructor(
    private readonly options: TransportOptions,
    sharedAgent: Agent | null,
  ) {
    this.shared = options.mode === 'per-vu' ? null : sharedAgent;
    this.reset = options.mode === 'new';
  }

  /** The dispatcher for an origin (`http://host:port`). */
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
        connect: this.options.insecure ? { rejectUnauthorized: false } : {},
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
    if (this.options.mode !== 'per-vu') return null;
    const c = this.conn;
    if (c !== null && c.origin === origin) return c;
    if (!origin.startsWith('http://')) return null;
    if (c === null) return (this.conn = new H1Connection(origin, this.options.timeoutMs));
    this.moreConns ??= new Map();
    let m = this.moreConns.get(origin);
    if (m === undefined) {
      m = new H1Connection(origin, this.options.timeoutMs);
      this.moreConns.set(origin, m);
    }
    return m;
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

/** The shared agent for `shared` and `new` modes. */
export function createSharedAgent(o: TransportOptions): Agent | null {
  if (o.mode === 'per-vu') return null;
  return new (undici().Agent)({
    connections: o.mode === 'shared' ? o.concurrency : null,
    pipelining: 1,
    connectTimeout: o.timeoutMs,
    headersTimeout: o.timeoutMs,
    bodyTimeout: o.timeoutMs,
    connect: o.insecure ? { rejectUnauthorized: false } : {},
  });
}

/** Bodies kept for inspection are cut here; load tests rarely need more to find a token or a form. */
const MAX_KEPT_BODY_BYTES = 1 << 20;

/** Case-insensitive compare of a raw header name against a lower-case name, without allocating. */
function headerNameIs(raw: Buffer | string, lower: string): boolean {
  if (raw.length !== lower.length) return false;
  if (typeof raw === 'string') return raw.toLowerCase() === lower;
  for (let i = 0; i < raw.length; i++) {
    const b = raw[i]!;
    const c = lower.charCodeAt(i);
    if (b !== c && !(c >= 97 && c <= 122 && (b | 0x20) === c)) return false;
  }
  return true;
}

/** The same compare on bytes `[start, end)` of a buffer. */
function bytesAre(buf: Buffer, start: number, end: number, lower: string): boolean {
  if (end - start !== lower.length) return false;
  for (let i = 0; i < lower.length; i++) {
    const b = buf[start + i]!;
    const c = lower.charCodeAt(i);
    if (b !== c && !(c >= 97 && c <= 122 && (b | 0x20) === c)) return false;
  }
  return true;
}

const asString = (v: Buffer | string): string => (typeof v === 'string' ? v : v.toString('latin1'));

/** Maps an undici / Node network error to a reported kind. */
export function classifyError(err: unknown): ErrorKind {
  const code = String((err as { code?: unknown })?.code ?? '');
  if (code === 'ECONNREFUSED') return 'refused';
  if (code === 'ECONNRESET' || code === 'EPIPE' || code === 'UND_ERR_SOCKET' || code === 'ECONNABORTED' || code === 'UND_ERR_CLOSED')
    return 'reset';
  if (code.endsWith('TIMEOUT') || code === 'ETIMEDOUT') return 'timeout';
  if (code.startsWith('ERR_TLS') || code.startsWith('ERR_SSL') || code.includes('CERT') || code === 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' || code === 'EPROTO')
    return 'tls';
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return 'dns';
  if (code.startsWith('HPE_') || code.startsWith('UND_ERR_RES') || code === 'UND_ERR_INFO' || code === 'UND_ERR_NOT_SUPPORTED')
    return 'invalid';
  return 'other';
}

/** What one request needs besides the dispatch options. */
export interface ExchangeRequest {
  /** Keep the body as text (for extraction or session checks). */
  keepBody: boolean;
  /** Lower-case name of the header naming the backend, or null. */
  servedByHeader: string | null;
  /** Lower-case names of other headers to capture (extraction); empty most of the time. */
  captureHeaders: readonly string[];
}

const NO_CAPTURES: (string | null)[] = [];
/** Header kinds the built-in parser tells the exchange. */
const H_OTHER = 0;
const H_SET_COOKIE = 1;
const H_LOCATION = 2;

/**
 * A reusable response handler (undici's dispatch handler protocol, and the built-in client's). Fields
 * describe the last response; `send()`, `sendH1()` and `startH1()` reset them. Not re-entrant: one
 * request at a time.
 */
export class Exchange implements Dispatcher.DispatchHandler {
  status = 0;
  location: string | null = null;
  setCookies: string[] | null = null;
  servedBy: string | null = null;
  captured: (string | null)[] = NO_CAPTURES;
  body: string | null = null;
  bytes = 0;
  error: unknown = null;
  /** performance.now() at dispatch and at completion. */
  startMs = 0;
  endMs = 0;

  private chunks: Buffer[] | null = null;
  private keptBytes = 0;
  /** A kept body piece still in the built-in client's read buffer (see h1Data). */
  private sliceBuf: Buffer | null = null;
  private sliceStart = 0;
  private sliceEnd = 0;
  /** The request being answered (read by the built-in client's parser). */
  req: ExchangeRequest | null = null;
  private resolve: (() => void) | null = null;
  private onDone: (() => void) | null = null;
  private abortFn: ((err?: Error) => void) | null = null;
  /** The built-in connection carrying the request in flight, if any. */
  private conn: H1Connection | null = null;
  private readonly settle = (resolve: () => void): void => {
    this.resolve = resolve;
  };

  private reset(req: ExchangeRequest): void {
    this.status = 0;
    this.location = null;
    this.setCookies = null;
    this.servedBy = null;
    if (req.captureHeaders.length > 0) this.captured = req.captureHeaders.map(() => null);
    this.body = null;
    this.bytes = 0;
    this.error = null;
    this.chunks = req.keepBody ? [] : null;
    this.keptBytes = 0;
    this.sliceBuf = null;
    this.req = req;
    this.abortFn = null;
  }

  /** Sends a request through undici and resolves when the response ended or failed (never rejects). */
  send(dispatcher: Dispatcher, opts: Dispatcher.DispatchOptions, req: ExchangeRequest): Promise<void> {
    this.reset(req);
    this.conn = null;
    const done = new Promise<void>(this.settle);
    this.startMs = performance.now();
    try {
      dispatcher.dispatch(opts, this);
    } catch (err) {
      this.failLater(err as Error);
    }
    return done;
  }

  /**
   * Sends a request on a built-in connection: `head` is the whole request (head and body) as built by
   * {@link buildRequestHead}. Resolves when the response ended or failed (never rejects).
   */
  sendH1(conn: H1Connection, head: RequestHead, req: ExchangeRequest, timeoutMs: number): Promise<void> {
    this.reset(req);
    this.conn = conn;
    const done = new Promise<void>(this.settle);
    this.startMs = performance.now();
    conn.request(this, head, timeoutMs);
    return done;
  }

  /**
   * {@link sendH1} without a promise: `onDone` is called (synchronously, from the socket's read or
   * error callback) when the response ended or failed. The VU's request loop uses this form.
   */
  startH1(conn: H1Connection, head: RequestHead, req: ExchangeRequest, timeoutMs: number, onDone: () => void): void {
    this.reset(req);
    this.conn = conn;
    this.onDone = onDone;
    this.startMs = performance.now();
    conn.request(this, head, timeoutMs);
  }

  /** Fails a request that was never sent (what undici rejects before sending); see {@link failLater}. */
  startFailedH1(req: ExchangeRequest, err: Error, onDone: () => void): void {
    this.reset(req);
    this.conn = null;
    this.onDone = onDone;
    this.startMs = performance.now();
    this.failLater(err);
  }

  /**
   * Reports a request that failed before anything was sent on a later turn of the event loop, as if it
   * had failed on the wire. A VU whose every request is refused that way (a bad header value, a path
   * undici rejects) would otherwise loop without ever yielding: the run's end timer and Ctrl-C would
   * never fire.
   */
  failLater(err: Error): void {
    this.pendingError = err;
    setImmediate(this.failPending);
  }
  private pendingError: Error | null = null;
  private readonly failPending = (): void => {
    const err = this.pendingError;
    this.pendingError = null;
    if (err !== null) this.onError(err);
  };

  /** Aborts the request in flight, if any (used when a run is interrupted). */
  abort(): void {
    const err = new Error('aborted by session-bench');
    if (this.conn !== null) this.conn.abortExchange(this, err);
    else this.abortFn?.(err);
  }

  onConnect(abort: (err?: Error) => void): void {
    this.abortFn = abort;
  }

  onHeaders(statusCode: number, rawHeaders: (Buffer | string)[]): boolean {
    this.status = statusCode;
    const req = this.req!;
    let bytes = 0;
    for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
      const name = rawHeaders[i]!;
      const value = rawHeaders[i + 1]!;
      bytes += name.length + value.length + 4;
      const len = name.length;
      if (len === 10 && headerNameIs(name, 'set-cookie')) {
        (this.setCookies ??= []).push(asString(value));
      } else if (len === 8 && headerNameIs(name, 'location')) {
        this.location = asString(value);
      } else if (req.servedByHeader !== null && headerNameIs(name, req.servedByHeader)) {
        this.servedBy = asString(value);
      }
      const cap = req.captureHeaders;
      for (let j = 0; j < cap.length; j++) if (headerNameIs(name, cap[j]!)) this.captured[j] = asString(value);
    }
    this.bytes += bytes;
    return true;
  }

  /**
   * One response header from the built-in parser: name `[ns, ne)`, value `[vs, ve)` of `buf` (leading
   * white space skipped, as llhttp does), `kind` from the parser (Set-Cookie, Location or other). Same
   * effect as one pair of {@link onHeaders}.
   */
  h1Header(buf: Buffer, ns: number, ne: number, vs: number, ve: number, kind: number): void {
    const req = this.req!;
    this.bytes += ne - ns + (ve - vs) + 4;
    if (kind === H_SET_COOKIE) {
      (this.setCookies ??= []).push(buf.toString('latin1', vs, ve));
    } else if (kind === H_LOCATION) {
      this.location = buf.toString('latin1', vs, ve);
    } else if (req.servedByHeader !== null && bytesAre(buf, ns, ne, req.servedByHeader)) {
      this.servedBy = buf.toString('latin1', vs, ve);
    }
    const cap = req.captureHeaders;
    for (let j = 0; j < cap.length; j++) if (bytesAre(buf, ns, ne, cap[j]!)) this.captured[j] = buf.toString('latin1', vs, ve);
  }

  onData(chunk: Buffer): boolean {
    this.bytes += chunk.length;
    if (this.chunks !== null && this.keptBytes < MAX_KEPT_BODY_BYTES) {
      this.chunks.push(chunk);
      this.keptBytes += chunk.length;
    }
    return true;
  }

  /**
   * Body bytes `[start, end)` of `buf` from the built-in parser. `buf` is the shared read buffer: a kept
   * piece stays a slice of it until the read is over ({@link h1Flush} copies it then), so a body that
   * arrives in one read is decoded straight from it, without a copy.
   */
  h1Data(buf: Buffer, start: number, end: number): void {
    this.bytes += end - start;
    const chunks = this.chunks;
    if (chunks === null || this.keptBytes >= MAX_KEPT_BODY_BYTES) return;
    if (this.sliceBuf !== null) this.h1Flush();
    if (chunks.length === 0) {
      this.sliceBuf = buf;
      this.sliceStart = start;
      this.sliceEnd = end;
    } else chunks.push(Buffer.copyBytesFrom(buf, start, end - start));
    this.keptBytes += end - start;
  }

  /** Copies a kept slice out of the read buffer (before the buffer is reused). */
  h1Flush(): void {
    const b = this.sliceBuf;
    if (b === null) return;
    this.sliceBuf = null;
    this.chunks?.push(Buffer.copyBytesFrom(b, this.sliceStart, this.sliceEnd - this.sliceStart));
  }

  onComplete(): void {
    this.endMs = performance.now();
    const chunks = this.chunks;
    if (chunks !== null) {
      const b = this.sliceBuf;
      if (b !== null && chunks.length === 0) this.body = b.toString('utf8', this.sliceStart, this.sliceEnd);
      else {
        this.h1Flush();
        this.body = chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8');
      }
      this.chunks = null;
    }
    this.sliceBuf = null;
    this.finish();
  }

  onError(err: Error): void {
    this.endMs = performance.now();
    this.error = err;
    this.chunks = null;
    this.sliceBuf = null;
    this.finish();
  }

  private finish(): void {
    const r = this.resolve;
    const d = this.onDone;
    this.resolve = null;
    this.onDone = null;
    this.abortFn = null;
    this.conn = null;
    if (d !== null) d();
    else r?.();
  }
}

// =====================================================================================================
// The built-in HTTP/1.1 client (per-VU keep-alive connections to http: origins)

/** An error shaped like undici's (same name, code and message), so results read the same. */
class HttpError extends Error {
  constructor(
    name: string,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = name;
  }
}
const socketError = (message: string): HttpError => new HttpError('SocketError', 'UND_ERR_SOCKET', message);
/** undici's HTTPParserError for an llhttp failure: the reason in the message, and (in undici 7) no code. */
class HttpParserError extends Error {
  readonly code = undefined;
  constructor(reason: string) {
    super(`Response does not match the HTTP/1.1 protocol (${reason})`);
    this.name = 'HTTPParserError';
  }
}
const parserError = (reason: string): Error => new HttpParserError(reason);
const contentLengthMismatch = (): HttpError =>
  new HttpError('ResponseContentLengthMismatchError', 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH', 'Response body length does not match content-length header');
const headersOverflow = (): HttpError => new HttpError('HeadersOverflowError', 'UND_ERR_HEADERS_OVERFLOW', 'Headers Overflow Error');
const invalidArgument = (message: string): HttpError => new HttpError('InvalidArgumentError', 'UND_ERR_INVALID_ARG', message);

/**
 * Response header size limit: undici's default (Node's `--max-http-header-size`, 16 KiB), counted as
 * undici does (names and values); an incomplete head is given up at twice that.
 */
const MAX_HEADER_BYTES = 16 * 1024;
/** undici's keep-alive defaults: idle sockets are dropped after 4 s, or 2 s before the server's hint. */
const KEEP_ALIVE_DEFAULT_MS = 4e3;
const KEEP_ALIVE_MAX_MS = 600e3;
const KEEP_ALIVE_THRESHOLD_MS = 2e3;
/** TCP keep-alive probes after this idle time (undici's connector does the same). */
const TCP_KEEPALIVE_DELAY_MS = 60e3;

/** One read buffer for every socket: each read is parsed synchronously before the next one lands. */
let readBuffer: Buffer | null = null;
const CRLFCRLF = Buffer.from('\r\n\r\n', 'latin1');

/** RFC 9110 token characters (header names). */
const TCHAR = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") TCHAR[c.charCodeAt(0)] = 1;
/** Characters undici accepts in a header value: HTAB, SP..~, 0x80-0xff. */
const INVALID_HEADER_VALUE = /[^\t\x20-\x7e\x80-\xff]/;
/** undici's request-path check. */
const INVALID_PATH = /[^\u0021-\u00ff]/;
/** Header names undici handles specially (or rejects); steps with them go through undici. */
export const SPECIAL_REQUEST_HEADERS: ReadonlySet<string> = new Set(['host', 'content-length', 'connection', 'expect', 'transfer-encoding', 'keep-alive', 'upgrade']);

/** A request ready to write: a latin1 string (no body), or bytes (head and body). */
export type RequestHead = string | Buffer;

/**
 * The whole request as undici writes it for a Client with pipelining 1: request line, `host`,
 * `connection: keep-alive`, the given headers in order, `content-length` when there is a body (or a
 * payload method without one), then the body. Returns an error for what undici would reject.
 */
export function buildRequestHead(conn: H1Connection, method: string, path: string, headers: readonly string[], body: string | null): RequestHead | Error {
  if (path[0] !== '/') return invalidArgument('path must be an absolute URL or start with a slash');
  if (INVALID_PATH.test(path)) return invalidArgument('invalid request path');
  let head = `${method} ${path} HTTP/1.1\r\n${conn.hostHeader}connection: keep-alive\r\n`;
  for (let i = 0; i + 1 < headers.length; i += 2) {
    const k = headers[i]!;
    const v = headers[i + 1]!;
    if (INVALID_HEADER_VALUE.test(v)) return invalidArgument(`invalid ${k} header`);
    for (let j = 0; j < k.length; j++) if (TCHAR[k.charCodeAt(j)] !== 1) return invalidArgument('invalid header key');
    head += `${k}: ${v}\r\n`;
  }
  const payloadMethod = method === 'POST' || method === 'PUT' || method === 'PATCH';
  if (body === null || body.length === 0) return payloadMethod ? `${head}content-length: 0\r\n\r\n` : `${head}\r\n`;
  // Every character of the head is below 0x100 (checked above), so its latin1 length is its byte length.
  const bodyLength = Buffer.byteLength(body, 'utf8');
  head += `content-length: ${bodyLength}\r\n\r\n`;
  const out = Buffer.allocUnsafe(head.length + bodyLength);
  out.write(head, 0, 'latin1');
  out.write(body, head.length, 'utf8');
  return out;
}

/** Header offsets of the head being parsed (name start/end, value start/end, kind); shared, parsing is synchronous. */
let headerFields = new Int32Array(5 * 64);
/** Lower-case name hash, as computed while parsing (a hash match is confirmed byte by byte). */
function nameHash(lower: string): number {
  let h = 0;
  for (let i = 0; i < lower.length; i++) h = (Math.imul(h, 31) + (lower.charCodeAt(i) | 0x20)) | 0;
  return h;
}
const HASH_CONTENT_LENGTH = nameHash('content-length');
const HASH_TRANSFER_ENCODING = nameHash('transfer-encoding');
const HASH_CONNECTION = nameHash('connection');
const HASH_KEEP_ALIVE = nameHash('keep-alive');
const HASH_SET_COOKIE = nameHash('set-cookie');
const HASH_LOCATION = nameHash('location');

// Parser states.
const enum P {
  /** No request in flight. */
  Idle,
  /** Waiting for (the rest of) a response head. */
  Head,
  /** Content-Length body; `remaining` bytes to go. */
  Body,
  ChunkSize,
  ChunkData,
  ChunkEnd,
  Trailers,
  /** Body delimited by the connection closing. */
  UntilEof,
}

/** Timeout checks: one timer for every connection (requests never create timers). */
const live = new Set<H1Connection>();
let sweepTimer: NodeJS.Timeout | null = null;
let sweepEveryMs = 0;
function sweep(): void {
  const now = performance.now();
  for (const c of live) c.checkTimeouts(now);
}
function register(c: H1Connection, timeoutMs: number): void {
  live.add(c);
  // Checks often enough that a timeout fires within a quarter of its length (undici's own timers are
  // about as coarse for timeouts of a second or more).
  const every = Math.max(5, Math.min(250, Math.floor(timeoutMs / 4)));
  if (sweepTimer === null || every < sweepEveryMs) {
    if (sweepTimer !== null) clearInterval(sweepTimer);
    sweepEveryMs = every;
    sweepTimer = setInterval(sweep, every);
    sweepTimer.unref();
  }
}
function unregister(c: H1Connection): void {
  live.delete(c);
  if (live.size === 0 && sweepTimer !== null) {
    clearInterval(sweepTimer);
    sweepTimer = null;
  }
}

/**
 * Connections whose socket was just used: like undici, a used socket is written again only after one
 * turn of the event loop's poll phase, so that a FIN, a reset or stray bytes already received on it are
 * seen first (and the request goes on a new connection instead of failing). One setImmediate serves
 * every connection.
 */
let validating: H1Connection[] = [];
let validatingNext: H1Connection[] = [];
let validationScheduled = false;
function scheduleValidation(c: H1Connection): void {
  validating.push(c);
  if (!validationScheduled) {
    validationScheduled = true;
    setImmediate(flushValidation);
  }
}
function flushValidation(): void {
  validationScheduled = false;
  const list = validating;
  validating = validatingNext;
  for (let i = 0; i < list.length; i++) list[i]!.validated();
  list.length = 0;
  validatingNext = list;
}

const kConn = Symbol('session-bench.h1');
type OwnedSocket = Socket & { [kConn]: H1Connection };

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

interface OriginInfo {
  readonly hostHeader: string;
  readonly hostname: string;
  readonly port: number;
}
/** Parsed once per origin and shared by every connection to it (10,000 VUs, one origin). */
const origins = new Map<string, OriginInfo>();
function originInfo(origin: string): OriginInfo {
  let o = origins.get(origin);
  if (o === undefined) {
    const u = new URL(origin);
    o = {
      hostHeader: `host: ${u.hostname}${u.port ? `:${u.port}` : ''}\r\n`,
      hostname: u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname,
      port: u.port ? Number(u.port) : 80,
    };
    if (origins.size < 1000) origins.set(origin, o);
  }
  return o;
}

/**
 * A VU's keep-alive HTTP/1.1 connection to one `http:` origin (pipelining 1, reconnects as needed).
 * Behaves as undici's `Client` with `pipelining: 1` does; costs one socket and a few fields.
 */
export class H1Connection {
  /** `host: name[:port]\r\n`, as undici writes it. */
  readonly hostHeader: string;
  private readonly hostname: string;
  private readonly port: number;
  private socket: OwnedSocket | null = null;
  private ex: Exchange | null = null;
  /** Request waiting for the used socket's check (see scheduleValidation). */
  private queued: RequestHead | null = null;
  private inValidation = false;
  private used = false;
  private unrefed = false;
  private connecting = false;
  private closed = false;
  private state = P.Idle;
  private remaining = 0;
  /** Bytes of an incomplete head or line, waiting for the next read. */
  private pending: Buffer | null = null;
  // Response framing, from the head.
  private keepAlive = true;
  private closeAfter = false;
  /** The response's Content-Length, or -1. */
  private contentLength = -1;
  private keepAliveMs = KEEP_ALIVE_DEFAULT_MS;
  // Timeouts (performance.now() ms).
  private timeoutMs: number;
  private connectStartMs = 0;
  private sentMs = 0;
  private bodySinceMs = -1;
  private bodyActive = false;
  private idleSinceMs = 0;

  constructor(
    readonly origin: string,
    private readonly connectTimeoutMs: number,
  ) {
    const o = originInfo(origin);
    this.hostHeader = o.hostHeader;
    this.hostname = o.hostname;
    this.port = o.port;
    this.timeoutMs = connectTimeoutMs;
  }

  /** Sends a request for `ex` (called by {@link Exchange.startH1} and {@link Exchange.sendH1}). */
  request(ex: Exchange, head: RequestHead, timeoutMs: number): void {
    if (this.closed) {
      ex.failLater(new HttpError('ClientDestroyedError', 'UND_ERR_DESTROYED', 'The client is destroyed'));
      return;
    }
    this.ex = ex;
    this.timeoutMs = timeoutMs;
    this.state = P.Head;
    this.pending = null;
    if (this.socket === null) this.open(head, ex.startMs);
    else if (!this.used) this.write(head, ex.startMs);
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
    else this.write(head, now);
  }

  private write(head: RequestHead, now: number): void {
    const s = this.socket!;
    if (this.unrefed) {
      s.ref();
      this.unrefed = false;
    }
    this.sentMs = now;
    s.write(head, 'latin1');
  }

  private open(head: RequestHead, now: number): void {
    readBuffer ??= Buffer.allocUnsafe(64 * 1024);
    const s = netConnect({ host: this.hostname, port: this.port, onread: { buffer: readBuffer, callback: onSocketRead as (n: number, b: Buffer) => boolean } }) as OwnedSocket;
    s[kConn] = this;
    s.setNoDelay(true);
    s.setKeepAlive(true, TCP_KEEPALIVE_DELAY_MS);
    s.once('connect', onSocketConnect);
    s.on('end', onSocketEnd);
    s.on('error', onSocketError);
    s.on('close', onSocketClose);
    this.socket = s;
    this.used = false;
    this.unrefed = false;
    this.connecting = true;
    this.connectStartMs = now;
    this.keepAliveMs = KEEP_ALIVE_DEFAULT_MS;
    register(this, Math.min(this.connectTimeoutMs, this.timeoutMs));
    // Written once connected (net buffers it); the headers timeout starts then.
    s.write(head, 'latin1');
  }

  onConnect(s: OwnedSocket): void {
    if (s !== this.socket) return;
    this.connecting = false;
    this.sentMs = performance.now();
  }

  /** Drops a socket without failing anything (idle, or the response is complete). */
  private drop(s: OwnedSocket): void {
    if (this.socket === s) {
      this.socket = null;
      this.connecting = false;
      unregister(this);
    }
    s.destroy();
  }

  /** Fails the request in flight (if any) and drops the socket. */
  private fail(s: OwnedSocket, err: Error): void {
    const ex = this.ex;
    this.ex = null;
    this.state = P.Idle;
    this.pending = null;
    this.queued = null;
    this.drop(s);
    ex?.onError(err);
  }

  abortExchange(ex: Exchange, err: Error): void {
    if (this.ex !== ex) return;
    if (this.socket !== null) this.fail(this.socket, err);
    else {
      this.ex = null;
      this.queued = null;
      ex.onError(err);
    }
  }

  close(force: boolean): void {
    this.closed = true;
    const s = this.socket;
    if (s === null) return;
    if (this.ex !== null) {
      if (force) this.fail(s, new HttpError('ClientDestroyedError', 'UND_ERR_DESTROYED', 'The client is destroyed'));
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
    if (this.ex === null || this.queued !== null) return;
    if (this.state === P.Head) {
      if (now - this.sentMs >= this.timeoutMs) this.fail(s, new HttpError('HeadersTimeoutError', 'UND_ERR_HEADERS_TIMEOUT', 'Headers Timeout Error'));
    } else if (this.state !== P.Idle) {
      // Body timeout: time without a byte of body (undici refreshes its timer on every chunk).
      if (this.bodySinceMs < 0 || this.bodyActive) {
        this.bodySinceMs = now;
        this.bodyActive = false;
      } else if (now - this.bodySinceMs >= this.timeoutMs) {
        this.fail(s, new HttpError('BodyTimeoutError', 'UND_ERR_BODY_TIMEOUT', 'Body Timeout Error'));
      }
    }
  }

  onEnd(s: OwnedSocket): void {
    if (s !== this.socket) return;
    if (this.ex !== null && this.queued === null && this.state !== P.Head) {
      if (this.state === P.UntilEof) {
        this.complete(s);
        return;
      }
      if (!this.keepAlive) {
        // undici's parser.finish(): llhttp's EOF error, reported as a length mismatch when there was one.
        this.fail(s, this.contentLength >= 0 ? contentLengthMismatch() : parserError('Invalid EOF state'));
        return;
      }
    }
    if (this.ex !== null && this.queued === null) this.fail(s, socketError('other side closed'));
    else this.drop(s); // idle (or a request still waiting for the check): it goes on a new socket
  }

  onSocketError(s: OwnedSocket, err: Error): void {
    if (s !== this.socket) return;
    if ((err as NodeJS.ErrnoException).code === 'ECONNRESET' && this.ex !== null && this.state !== P.Head && !this.keepAlive) {
      // The server closed the connection after a body delimited by closing it.
      this.onEnd(s);
      return;
    }
    if (this.ex !== null && this.queued === null) this.fail(s, err);
    else this.drop(s);
  }

  onClose(s: OwnedSocket): void {
    if (s !== this.socket) return;
    if (this.ex !== null && this.queued === null) this.fail(s, socketError('closed'));
    else this.drop(s);
  }

  /** Everything the socket read: parses as much of the response as it holds. */
  onRead(s: OwnedSocket, nread: number, buf: Buffer): void {
    if (s !== this.socket) return;
    this.parse(s, nread, buf);
    // The read buffer is reused by the next read: a response still in progress copies what it keeps.
    this.ex?.h1Flush();
  }

  private parse(s: OwnedSocket, nread: number, buf: Buffer): void {
    let data = buf;
    let end = nread;
    if (this.pending !== null) {
      data = Buffer.concat([this.pending, buf.subarray(0, nread)]);
      end = data.length;
      this.pending = null;
    }
    let pos = 0;
    while (pos < end) {
      const ex = this.ex;
      switch (this.state) {
        case P.Idle:
          // Bytes nobody asked for: undici drops such a connection; so do we (nothing to fail).
          this.drop(s);
          return;
        case P.Head: {
          if (ex === null || this.queued !== null) {
            this.drop(s);
            return;
          }
          const at = data.indexOf(CRLFCRLF, pos);
          if (at < 0 || at + 4 > end) {
            // A line ended by a bare LF never completes a head: llhttp rejects it at once.
            const lf = data.indexOf(10, pos);
            if (lf >= 0 && lf < end && (lf === pos || data[lf - 1] !== 13)) return this.fail(s, parserError('Missing expected CR after response line'));
            if (end - pos > 2 * MAX_HEADER_BYTES) return this.fail(s, headersOverflow());
            this.pending = Buffer.copyBytesFrom(data, pos, end - pos);
            return;
          }
          const err = this.parseHead(ex, data, pos, at);
          if (err !== null) return this.fail(s, err);
          pos = at + 4;
          const next = this.state as P;
          if (next === P.Idle) {
            // No body: complete now; anything after it is unsolicited.
            return this.completeAt(s, pos, end);
          }
          // A body (P.Body, chunks, or until close) is read by the next turn of the loop.
          break;
        }
        case P.Body:
          pos = this.takeBody(ex!, data, pos, end);
          if (this.remaining === 0) return this.completeAt(s, pos, end);
          break;
        case P.ChunkSize: {
          const lf = data.indexOf(10, pos);
          if (lf < 0 || lf >= end) return this.stash(s, data, pos, end);
          if (lf === pos || data[lf - 1] !== 13) return this.fail(s, parserError('Missing expected CR after chunk size'));
          let size = 0;
          let i = pos;
          for (; i < lf - 1; i++) {
            const c = data[i]!;
            const d = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : -1;
            if (d < 0) break;
            size = size * 16 + d;
            if (size > Number.MAX_SAFE_INTEGER / 16) return this.fail(s, parserError('Chunk size overflow'));
          }
          // Chunk extensions (`;name=value`) are allowed and ignored; anything else is not.
          if (i === pos || (i < lf - 1 && data[i] !== 59)) return this.fail(s, parserError('Invalid character in chunk size'));
          pos = lf + 1;
          this.bodyActive = true;
          if (size === 0) this.state = P.Trailers;
          else {
            this.remaining = size;
            this.state = P.ChunkData;
          }
          break;
        }
        case P.ChunkData:
          pos = this.takeBody(ex!, data, pos, end);
          if (this.remaining === 0) this.state = P.ChunkEnd;
          break;
        case P.ChunkEnd: {
          if (end - pos < 2) return this.stash(s, data, pos, end);
          if (data[pos] !== 13 || data[pos + 1] !== 10) return this.fail(s, parserError('Expected LF after chunk data'));
          pos += 2;
          this.state = P.ChunkSize;
          break;
        }
        case P.Trailers: {
          const lf = data.indexOf(10, pos);
          if (lf < 0 || lf >= end) return this.stash(s, data, pos, end);
          const empty = lf === pos + 1 && data[pos] === 13;
          pos = lf + 1;
          if (empty) return this.completeAt(s, pos, end);
          break;
        }
        case P.UntilEof:
          ex!.h1Data(data, pos, end);
          this.bodyActive = true;
          pos = end;
          break;
      }
    }
  }

  /** Hands up to `remaining` body bytes from `pos` to the exchange; returns the position after them. */
  private takeBody(ex: Exchange, data: Buffer, pos: number, end: number): number {
    const n = Math.min(this.remaining, end - pos);
    ex.h1Data(data, pos, pos + n);
    this.remaining -= n;
    this.bodyActive = true;
    return pos + n;
  }

  /** The response ended at `pos`: complete it; bytes after it are unsolicited and drop the socket. */
  private completeAt(s: OwnedSocket, pos: number, end: number): void {
    this.complete(s);
    if (pos < end && this.socket === s) this.drop(s);
  }

  private stash(s: OwnedSocket, data: Buffer, pos: number, end: number): void {
    if (end - pos > MAX_HEADER_BYTES) return this.fail(s, headersOverflow());
    this.pending = Buffer.copyBytesFrom(data, pos, end - pos);
  }

  /**
   * Parses the head in `[start, at)` (`at` = the blank line's CR), hands the headers to the exchange and
   * sets the body framing. Returns the parse error, if any. A 1xx head leaves the state at Head.
   * Follows what undici (llhttp plus its own checks) accepts and rejects, with the same errors.
   */
  private parseHead(ex: Exchange, d: Buffer, start: number, at: number): Error | null {
    // Status line: HTTP/M.m SSS[ reason]
    if (at - start < 12 || d[start] !== 72 || d[start + 1] !== 84 || d[start + 2] !== 84 || d[start + 3] !== 80 || d[start + 4] !== 47) {
      return parserError('Expected HTTP/');
    }
    const major = d[start + 5]! - 48;
    const minor = d[start + 7]! - 48;
    if (major < 0 || major > 9 || d[start + 6] !== 46 || minor < 0 || minor > 9) return parserError('Invalid HTTP version');
    const s0 = d[start + 9]! - 48;
    const s1 = d[start + 10]! - 48;
    const s2 = d[start + 11]! - 48;
    if (d[start + 8] !== 32 || s0 < 0 || s0 > 9 || s1 < 0 || s1 > 9 || s2 < 0 || s2 > 9) return parserError('Invalid status code');
    const status = s0 * 100 + s1 * 10 + s2;
    let p = d.indexOf(13, start);
    if (p > at) p = at;
    if (p !== start + 12 && d[start + 12] !== 32) return parserError('Invalid status code');
    if (d[p + 1] !== 10) return parserError('Missing expected LF after response line');
    if (status === 100) return socketError('bad response');
    if (status === 101) return socketError('bad upgrade');

    // Content-Length as undici keeps it: every value appended (a repeated header makes it invalid).
    let clHeaders = 0;
    let clValue = 0;
    let clValid = true;
    let chunked = false;
    let hasTransferEncoding = false;
    let connClose = false;
    let connKeepAlive = false;
    let keepAliveHintMs = -1;
    let headersSize = 0;
    // Offsets of each header (name start, name end, value start, value end): the exchange sees the
    // headers only once the whole head is known to be valid, as with undici.
    let fields = headerFields;
    let nFields = 0;
    p += 2;
    while (p < at + 2) {
      // One pass per line (the head ends with a CR at `at`, so every scan stops): the name's token
      // characters, hashed in lower case to spot the few headers read here; then the value's bytes.
      let b = d[p]!;
      if (b === 32 || b === 9) return parserError('Unexpected whitespace after header value');
      let c = p;
      let h = 0;
      while (TCHAR[b] === 1) {
        h = (Math.imul(h, 31) + (b | 0x20)) | 0;
        b = d[++c]!;
      }
      if (c === p || b !== 58) return parserError('Invalid header token');
      let vs = c + 1;
      while (d[vs] === 32 || d[vs] === 9) vs++;
      // llhttp keeps trailing white space in the value; it rejects control characters.
      let e = vs;
      for (;;) {
        const v = d[e]!;
        if (v === 13) break;
        if ((v < 32 && v !== 9) || v === 127) return parserError(v === 10 ? 'Missing expected CR after header value' : 'Invalid header value char');
        e++;
      }
      if (d[e + 1] !== 10) return parserError('Missing expected LF after header value');
      const ve = e;
      const nameLen = c - p;
      headersSize += nameLen + (ve - vs);
      if (headersSize >= MAX_HEADER_BYTES) return headersOverflow();
      // Framing headers (read here, and passed on to the exchange like every header).
      let kind = H_OTHER;
      if (nameLen === 14 && h === HASH_CONTENT_LENGTH && bytesAre(d, p, c, 'content-length')) {
        clHeaders++;
        let i = vs;
        let n = 0;
        while (i < ve && d[i]! >= 48 && d[i]! <= 57) n = n * 10 + (d[i++]! - 48);
        let t = i;
        while (t < ve && (d[t] === 32 || d[t] === 9)) t++;
        if (i === vs || t !== ve) clValid = false;
        clValue = n;
      } else if (nameLen === 17 && h === HASH_TRANSFER_ENCODING && bytesAre(d, p, c, 'transfer-encoding')) {
        hasTransferEncoding = true;
        // Chunked when the last coding is chunked.
        let a = ve;
        while (a > vs && (d[a - 1] === 32 || d[a - 1] === 9)) a--;
        let t = a;
        while (t > vs && d[t - 1] !== 44) t--;
        while (t < a && (d[t] === 32 || d[t] === 9)) t++;
        chunked = bytesAre(d, t, a, 'chunked');
      } else if (nameLen === 10) {
        if (h === HASH_CONNECTION && bytesAre(d, p, c, 'connection')) {
          let t = vs;
          while (t < ve) {
            let u = t;
            while (u < ve && d[u] !== 44) u++;
            let x = t;
            let y = u;
            while (x < y && (d[x] === 32 || d[x] === 9)) x++;
            while (y > x && (d[y - 1] === 32 || d[y - 1] === 9)) y--;
            if (bytesAre(d, x, y, 'close')) connClose = true;
            else if (bytesAre(d, x, y, 'keep-alive')) connKeepAlive = true;
            t = u + 1;
          }
        } else if (h === HASH_KEEP_ALIVE && bytesAre(d, p, c, 'keep-alive')) {
          keepAliveHintMs = keepAliveTimeoutMs(d, vs, ve);
        } else if (h === HASH_SET_COOKIE && bytesAre(d, p, c, 'set-cookie')) kind = H_SET_COOKIE;
      } else if (nameLen === 8 && h === HASH_LOCATION && bytesAre(d, p, c, 'location')) kind = H_LOCATION;
      if (nFields + 5 > fields.length) {
        const grown = new Int32Array(fields.length * 2);
        grown.set(fields);
        fields = headerFields = grown;
      }
      fields[nFields] = p;
      fields[nFields + 1] = c;
      fields[nFields + 2] = vs;
      fields[nFields + 3] = ve;
      fields[nFields + 4] = kind;
      nFields += 5;
      p = e + 2;
    }
    const framingError = status >= 200 && (clHeaders > 1 || (clHeaders === 1 && (!clValid || hasTransferEncoding)));
    // A repeated or malformed Content-Length, or one next to Transfer-Encoding: llhttp refuses the head,
    // and undici reports it as a length mismatch.
    if (framingError) return contentLengthMismatch();
    ex.status = status;
    for (let i = 0; i < nFields; i += 5) ex.h1Header(d, fields[i]!, fields[i + 1]!, fields[i + 2]!, fields[i + 3]!, fields[i + 4]!);

    if (status < 200) {
      // 1xx (not 100/101): undici hands it to the handler and waits for the final response.
      this.state = P.Head;
      return null;
    }
    this.contentLength = clHeaders === 1 ? clValue : -1;
    let needsEof = false;
    if (status === 204 || status === 304) this.state = P.Idle;
    else if (chunked) this.state = P.ChunkSize;
    else if (hasTransferEncoding) {
      this.state = P.UntilEof;
      needsEof = true;
    } else if (clHeaders === 1) {
      this.remaining = clValue;
      this.state = clValue === 0 ? P.Idle : P.Body;
    } else {
      this.state = P.UntilEof;
      needsEof = true;
    }
    // llhttp_should_keep_alive: HTTP/1.1 and later unless `close`; before that only with `keep-alive`.
    this.keepAlive = !needsEof && (major > 0 && minor > 0 ? !connClose : connKeepAlive);
    if (this.keepAlive) {
      if (keepAliveHintMs < 0) this.keepAliveMs = KEEP_ALIVE_DEFAULT_MS;
      else {
        const ms = Math.min(keepAliveHintMs - KEEP_ALIVE_THRESHOLD_MS, KEEP_ALIVE_MAX_MS);
        if (ms <= 0) this.closeAfter = true;
        else this.keepAliveMs = ms;
      }
    }
    this.bodySinceMs = -1;
    this.bodyActive = false;
    return null;
  }

  /** The response is complete: hand it over, then keep or drop the socket. */
  private complete(s: OwnedSocket): void {
    const ex = this.ex!;
    this.ex = null;
    this.state = P.Idle;
    this.pending = null;
    this.used = true;
    if (!this.keepAlive || this.closeAfter || this.closed) {
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

/**
 * undici's parseKeepAliveTimeout (`/timeout=(\d+)/` on the Keep-Alive header, seconds to ms) on bytes
 * `[start, end)`, without allocating; -1 when absent.
 */
function keepAliveTimeoutMs(d: Buffer, start: number, end: number): number {
  // "timeout=": 74 69 6d 65 6f 75 74 3d
  for (let i = start; i + 8 < end; i++) {
    if (d[i] !== 116 || d[i + 1] !== 105 || d[i + 2] !== 109 || d[i + 3] !== 101 || d[i + 4] !== 111 || d[i + 5] !== 117 || d[i + 6] !== 116 || d[i + 7] !== 61) continue;
    let j = i + 8;
    let n = 0;
    while (j < end && d[j]! >= 48 && d[j]! <= 57) n = n * 10 + (d[j++]! - 48);
    if (j > i + 8) return n * 1000;
  }
  return -1;
}
