/**
 * One HTTP exchange. A virtual user owns one {@link Exchange} and reuses it for every request (a VU has
 * one request in flight at a time): it is the response handler of both clients, undici's (its dispatch
 * handler protocol) and the built-in one's ({@link ResponseSink}), and holds what the last response said.
 * Headers stay raw bytes except the few this tool reads, and the body is kept only when a step needs it.
 */
import type { Dispatcher } from 'undici';
import { asString, bytesAre, headerNameIs } from './bytes.js';
import type { H1Connection } from './h1/connection.js';
import { decodeBody } from './content-encoding.js';
import { H_CONTENT_ENCODING, H_LOCATION, H_SET_COOKIE, type ResponseSink } from './h1/head.js';
import { unwatchTimeouts, watchTimeouts, type TimeoutWatched } from './h1/scheduling.js';
import { headersTimeout, responseTimeout } from './errors.js';
import type { RequestHead } from './request-head.js';
import type { TlsAlerts } from './transport.js';

/** Bodies kept for inspection are cut here; load tests rarely need more to find a token or a form. */
const MAX_KEPT_BODY_BYTES = 1 << 20;

/** What one request needs besides the request itself: which parts of the response to keep. */
export interface ExchangeRequest {
  /** Keep the body as text (for extraction or session checks). */
  keepBody: boolean;
  /** Lower-case name of the header naming the backend, or null. */
  servedByHeader: string | null;
  /** Lower-case names of other headers to capture (extraction); empty most of the time. */
  captureHeaders: readonly string[];
}

const NO_CAPTURES: (string | null)[] = [];

/**
 * A reusable response handler. Fields describe the last response; each `start*` resets them. Not
 * re-entrant: one request at a time. `onDone` is called once per request, when it ended or failed.
 */
export class Exchange implements Dispatcher.DispatchHandler, ResponseSink, TimeoutWatched {
  status = 0;
  location: string | null = null;
  /** The response's Content-Encoding, when it has one (a kept body is decoded by it). */
  contentEncoding: string | null = null;
  setCookies: string[] | null = null;
  servedBy: string | null = null;
  captured: (string | null)[] = NO_CAPTURES;
  body: string | null = null;
  bytes = 0;
  error: unknown = null;
  /** Times the request was sent again on a new connection (the server had closed a reused one). */
  retries = 0;
  /** performance.now() at dispatch and at completion. */
  startMs = 0;
  endMs = 0;

  private chunks: Buffer[] | null = null;
  private keptBytes = 0;
  /** A kept body piece still in the built-in client's read buffer (see onResponseBody). */
  private sliceBuf: Buffer | null = null;
  private sliceStart = 0;
  private sliceEnd = 0;
  /** The request being answered. */
  private req: ExchangeRequest | null = null;
  private onDone: (() => void) | null = null;
  /** undici calls its handler from inside its parser: the answer is handed over a microtask later. */
  private deferDone = false;
  private abortFn: ((err?: Error) => void) | null = null;
  /** The built-in connection carrying the request in flight, if any. */
  private conn: H1Connection | null = null;
  /** The whole-exchange timeout of a request carried by undici (the built-in client keeps its own). */
  private undiciTimeoutMs = 0;
  private headersSeen = false;
  /** The VU's own undici client carrying the request (never the shared pool), for the deadline. */
  private ownClient: Dispatcher | null = null;
  /** Where the TLS alerts of the undici connections carrying this request are kept. */
  private tlsAlerts: TlsAlerts | null = null;

  private begin(req: ExchangeRequest, conn: H1Connection | null, onDone: () => void, deferDone: boolean): void {
    this.status = 0;
    this.location = null;
    this.contentEncoding = null;
    this.setCookies = null;
    this.servedBy = null;
    if (req.captureHeaders.length > 0) this.captured = req.captureHeaders.map(() => null);
    this.body = null;
    this.bytes = 0;
    this.error = null;
    this.retries = 0;
    this.chunks = req.keepBody ? [] : null;
    this.keptBytes = 0;
    this.sliceBuf = null;
    this.req = req;
    this.abortFn = null;
    this.conn = conn;
    this.onDone = onDone;
    this.deferDone = deferDone;
    this.startMs = performance.now();
  }

  /**
   * Sends a request through undici. undici's own timeouts are per phase (a body that trickles in resets
   * its body timer); `timeoutMs` bounds the whole exchange, as the built-in client does.
   */
  startUndici(dispatcher: Dispatcher, opts: Dispatcher.DispatchOptions, req: ExchangeRequest, timeoutMs: number, ownClient: boolean, tlsAlerts: TlsAlerts, onDone: () => void): void {
    this.begin(req, null, onDone, true);
    this.tlsAlerts = tlsAlerts;
    tlsAlerts.alert = null;
    this.undiciTimeoutMs = timeoutMs;
    this.ownClient = ownClient ? dispatcher : null;
    this.headersSeen = false;
    watchTimeouts(this, timeoutMs, true);
    try {
      dispatcher.dispatch(opts, this);
    } catch (err) {
      this.failLater(err as Error);
    }
  }

  /**
   * Sends a request on a built-in connection: `head` is the whole request (head and body) as built by
   * `buildRequestHead`. `onDone` is called synchronously from the socket's read or error callback.
   */
  startH1(conn: H1Connection, head: RequestHead, req: ExchangeRequest, timeoutMs: number, idempotent: boolean, onDone: () => void): void {
    this.begin(req, conn, onDone, false);
    conn.request(this, head, timeoutMs, idempotent);
  }

  /** Fails a request that was never sent (what undici rejects before sending); see {@link failLater}. */
  startFailed(req: ExchangeRequest, err: Error, onDone: () => void): void {
    this.begin(req, null, onDone, false);
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
  abort(err: Error = new Error('aborted by session-bench')): void {
    if (this.conn !== null) this.conn.abortExchange(this, err);
    else this.abortFn?.(err);
  }

  /** The whole-exchange deadline of a request carried by undici (checked by the shared timeout sweep). */
  checkTimeouts(now: number): void {
    if (this.onDone === null || this.conn !== null || now - this.startMs < this.undiciTimeoutMs) return;
    const err = this.headersSeen ? responseTimeout(this.undiciTimeoutMs) : headersTimeout();
    if (this.abortFn !== null) this.abortFn(err);
    // Never handed to a socket: only closing the VU's own client gets the request back from undici.
    else if (this.ownClient !== null) void this.ownClient.destroy(err).catch(() => undefined);
  }

  // --- undici's handler protocol

  onConnect(abort: (err?: Error) => void): void {
    this.abortFn = abort;
  }

  onHeaders(statusCode: number, rawHeaders: (Buffer | string)[]): boolean {
    this.status = statusCode;
    this.headersSeen = true;
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
        // Raw UTF-8 in a Location (it happens) is read as UTF-8, so that URL parsing percent-encodes it.
        this.location = typeof value === 'string' ? value : value.toString('utf8');
      } else if (len === 16 && headerNameIs(name, 'content-encoding')) {
        this.contentEncoding = asString(value);
      } else if (req.servedByHeader !== null && headerNameIs(name, req.servedByHeader)) {
        this.servedBy = asString(value);
      }
      const cap = req.captureHeaders;
      for (let j = 0; j < cap.length; j++) if (headerNameIs(name, cap[j]!)) this.captured[j] = asString(value);
    }
    this.bytes += bytes;
    return true;
  }

  onData(chunk: Buffer): boolean {
    this.bytes += chunk.length;
    if (this.chunks !== null && this.keptBytes < MAX_KEPT_BODY_BYTES) {
      this.chunks.push(chunk);
      this.keptBytes += chunk.length;
    }
    return true;
  }

  // --- the built-in parser's sink (same effect as the undici callbacks above)

  onResponseHead(status: number): void {
    this.status = status;
  }

  onResponseHeader(buf: Buffer, ns: number, ne: number, vs: number, ve: number, kind: number): void {
    const req = this.req!;
    this.bytes += ne - ns + (ve - vs) + 4;
    if (kind === H_SET_COOKIE) {
      (this.setCookies ??= []).push(buf.toString('latin1', vs, ve));
    } else if (kind === H_LOCATION) {
      this.location = buf.toString('utf8', vs, ve);
    } else if (kind === H_CONTENT_ENCODING) {
      this.contentEncoding = buf.toString('latin1', vs, ve);
    } else if (req.servedByHeader !== null && bytesAre(buf, ns, ne, req.servedByHeader)) {
      this.servedBy = buf.toString('latin1', vs, ve);
    }
    const cap = req.captureHeaders;
    for (let j = 0; j < cap.length; j++) if (bytesAre(buf, ns, ne, cap[j]!)) this.captured[j] = buf.toString('latin1', vs, ve);
  }

  /**
   * `buf` is the shared read buffer: a kept piece stays a slice of it until the read is over
   * ({@link h1Flush} copies it then), so a body that arrives in one read is decoded straight from it,
   * without a copy.
   */
  onResponseBody(buf: Buffer, start: number, end: number): void {
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

  // --- the end of an exchange (both clients)

  onComplete(): void {
    this.endMs = performance.now();
    const chunks = this.chunks;
    if (chunks !== null) {
      const b = this.sliceBuf;
      if (this.contentEncoding !== null) {
        this.h1Flush();
        const decoded = decodeBody(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks), this.contentEncoding);
        this.chunks = null;
        this.sliceBuf = null;
        if (decoded instanceof Error) {
          this.error = decoded;
          this.finish();
          return;
        }
        this.body = decoded;
      } else if (b !== null && chunks.length === 0) this.body = b.toString('utf8', this.sliceStart, this.sliceEnd);
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
    // "other side closed" right after a TLS alert: the alert is the reason (e.g. a client certificate required).
    const alert = this.tlsAlerts?.alert ?? null;
    this.error = alert !== null && (err as { code?: string }).code === 'UND_ERR_SOCKET' ? alert : err;
    this.chunks = null;
    this.sliceBuf = null;
    this.finish();
  }

  private finish(): void {
    const d = this.onDone;
    this.onDone = null;
    this.abortFn = null;
    this.conn = null;
    if (this.undiciTimeoutMs > 0) {
      this.undiciTimeoutMs = 0;
      this.ownClient = null;
      this.tlsAlerts = null;
      unwatchTimeouts(this, true);
    }
    if (d === null) return;
    // A failure is handed over on a later turn of the event loop: errors that come back within the
    // same turn (EMFILE from connect, via nextTick) would otherwise chain requests without ever
    // yielding, and the run's end timer and Ctrl-C would never fire. Answers go straight on.
    if (this.error !== null) setImmediate(d);
    else if (this.deferDone) queueMicrotask(d);
    else d();
  }
}
