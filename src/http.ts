/**
 * One HTTP exchange on undici's low-level `dispatch` API. A virtual user owns one {@link Exchange} and
 * reuses it for every request (a VU has one request in flight at a time), so the hot path allocates the
 * dispatch options, a promise and the response strings it actually needs, and nothing else: headers stay
 * raw buffers except the few this tool reads, and bodies are kept only when a step needs them.
 */
import { Agent, Client, type Dispatcher } from 'undici';
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

/**
 * Where a VU's requests go. `per-vu`: the VU's own keep-alive connection per origin (a browser);
 * `shared`: one pool for all VUs; `new`: a fresh connection per request (ab without -k).
 */
export class Transport {
  private readonly clients = new Map<string, Client>();
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
    let c = this.clients.get(origin);
    if (c === undefined) {
      c = new Client(origin, {
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

  /** Closes this VU's own connections (the shared agent is closed by its owner). */
  async close(force: boolean): Promise<void> {
    const all = [...this.clients.values()];
    this.clients.clear();
    await Promise.all(all.map((c) => (force ? c.destroy() : c.close()).catch(() => undefined)));
  }
}

/** The shared agent for `shared` and `new` modes. */
export function createSharedAgent(o: TransportOptions): Agent | null {
  if (o.mode === 'per-vu') return null;
  return new Agent({
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

/**
 * A reusable response handler (undici's dispatch handler protocol). Fields describe the last response;
 * `send()` resets them. Not re-entrant: one request at a time.
 */
export class Exchange implements Dispatcher.DispatchHandler {
  status = 0;
  location: string | null = null;
  setCookies: string[] | null = null;
  servedBy: string | null = null;
  captured: (string | null)[] = [];
  body: string | null = null;
  bytes = 0;
  error: unknown = null;
  /** performance.now() at dispatch and at completion. */
  startMs = 0;
  endMs = 0;

  private chunks: Buffer[] | null = null;
  private keptBytes = 0;
  private req: ExchangeRequest | null = null;
  private resolve: (() => void) | null = null;
  private abortFn: ((err?: Error) => void) | null = null;
  private readonly settle = (resolve: () => void): void => {
    this.resolve = resolve;
  };

  /** Sends a request and resolves when the response ended or failed (never rejects). */
  send(dispatcher: Dispatcher, opts: Dispatcher.DispatchOptions, req: ExchangeRequest): Promise<void> {
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
    this.req = req;
    this.abortFn = null;
    const done = new Promise<void>(this.settle);
    this.startMs = performance.now();
    try {
      dispatcher.dispatch(opts, this);
    } catch (err) {
      this.onError(err as Error);
    }
    return done;
  }

  /** Aborts the request in flight, if any (used when a run is interrupted). */
  abort(): void {
    this.abortFn?.(new Error('aborted by session-bench'));
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

  onData(chunk: Buffer): boolean {
    this.bytes += chunk.length;
    if (this.chunks !== null && this.keptBytes < MAX_KEPT_BODY_BYTES) {
      this.chunks.push(chunk);
      this.keptBytes += chunk.length;
    }
    return true;
  }

  onComplete(): void {
    this.endMs = performance.now();
    if (this.chunks !== null) {
      this.body = this.chunks.length === 1 ? this.chunks[0]!.toString('utf8') : Buffer.concat(this.chunks).toString('utf8');
      this.chunks = null;
    }
    this.finish();
  }

  onError(err: Error): void {
    this.endMs = performance.now();
    this.error = err;
    this.chunks = null;
    this.finish();
  }

  private finish(): void {
    const r = this.resolve;
    this.resolve = null;
    this.abortFn = null;
    r?.();
  }
}
