/**
 * The HTTP/1.1 response parser of the built-in client, pure: bytes in, events out (to a
 * {@link ResponseSink}), no socket and no timer, so it can be tested on its own. It accepts and rejects
 * what undici (llhttp plus undici's own checks) accepts and rejects, with the same errors
 * (test/integration/http-client.test.ts runs both side by side).
 *
 * Called once per socket read; a response split over reads keeps its state (and an incomplete head or
 * line) here. This module owns the message's framing (length, chunks, until close); the grammar of the
 * head is in head.ts.
 */
import { headersOverflow, parserError, socketError } from '../errors.js';
import { BODY_CHUNKED, BODY_LENGTH, BODY_NONE, MAX_HEADER_BYTES, parseResponseHead, statusLineProblem, type HeadFraming, type ResponseSink } from './head.js';

/** {@link H1ResponseParser.execute}: the response needs more bytes. */
export const PARSE_NEED_MORE = 0;
/** The response is complete (see `unsolicited`). */
export const PARSE_COMPLETE = 1;
/** The response is invalid (see `error`). */
export const PARSE_FAILED = 2;
export type ParseResult = typeof PARSE_NEED_MORE | typeof PARSE_COMPLETE | typeof PARSE_FAILED;

const CRLFCRLF = Buffer.from('\r\n\r\n', 'latin1');
/** The framing of the head being parsed: one for every parser (parsing is synchronous; no object per connection). */
const scratchHead: HeadFraming = { status: 0, body: BODY_NONE, contentLength: -1, keepAlive: true, keepAliveHintMs: -1 };

// Parser states.
const enum P {
  /** No response expected. */
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

/** One connection's response parser (pipelining 1: one response expected at a time). */
export class H1ResponseParser {
  private state = P.Idle;
  private remaining = 0;
  /** Bytes of an incomplete head or line, waiting for the next read. */
  private pending: Buffer | null = null;
  private sink: ResponseSink | null = null;

  // Framing of the current response, from its head (kept until the next head).
  /** The connection may carry another request after this response (llhttp_should_keep_alive). */
  keepAlive = true;
  /** The response's Content-Length, or -1. */
  contentLength = -1;
  /** The `Keep-Alive: timeout=N` hint in ms, or -1. */
  keepAliveHintMs = -1;
  /** After PARSE_COMPLETE: bytes followed the response in the same read (nobody asked for them). */
  unsolicited = false;
  /** After PARSE_FAILED: why. */
  error: Error | null = null;

  /** A request was sent: the next bytes are its response, for `sink`. */
  expect(sink: ResponseSink): void {
    this.sink = sink;
    this.state = P.Head;
    this.pending = null;
    this.error = null;
  }

  /** Nothing expected any more (the request failed or was aborted). */
  reset(): void {
    this.sink = null;
    this.state = P.Idle;
    this.pending = null;
  }

  /** Still waiting for the head (headers timeout applies). */
  get awaitingHead(): boolean {
    return this.state === P.Head;
  }

  /** Reading a body (body timeout applies). */
  get readingBody(): boolean {
    return this.state !== P.Idle && this.state !== P.Head;
  }

  /** Reading a body that ends when the connection closes. */
  get untilEof(): boolean {
    return this.state === P.UntilEof;
  }

  /** Marks a close-delimited body complete (the connection closed). */
  endOfInput(): void {
    this.state = P.Idle;
    this.pending = null;
    this.sink = null;
  }

  /**
   * Parses bytes `[0, nread)` of `buf` (a read buffer the caller reuses after this returns): as much of
   * the response as they hold. Must only be called while a response is expected.
   */
  execute(buf: Buffer, nread: number): ParseResult {
    let data = buf;
    let end = nread;
    if (this.pending !== null) {
      data = Buffer.concat([this.pending, buf.subarray(0, nread)]);
      end = data.length;
      this.pending = null;
    }
    const sink = this.sink!;
    let pos = 0;
    while (pos < end) {
      switch (this.state) {
        case P.Idle:
          // Bytes when no response is expected (the caller drops such a connection before this).
          return this.fail(socketError('unexpected data'));
        case P.Head: {
          const at = data.indexOf(CRLFCRLF, pos);
          if (at < 0 || at + 4 > end) {
            // A line ended by a bare LF never completes a head: llhttp rejects it at once.
            const lf = data.indexOf(10, pos);
            if (lf >= 0 && lf < end && (lf === pos || data[lf - 1] !== 13)) return this.fail(parserError('Missing expected CR after response line'));
            // Judge the status line as far as it has arrived: bytes that are not HTTP fail now.
            const cr = data.indexOf(13, pos);
            const lineDone = cr >= 0 && cr < end;
            const bad = statusLineProblem(data, pos, lineDone ? cr : end, lineDone);
            if (bad !== null) return this.fail(parserError(bad));
            if (end - pos > 2 * MAX_HEADER_BYTES) return this.fail(headersOverflow());
            this.pending = Buffer.copyBytesFrom(data, pos, end - pos);
            return PARSE_NEED_MORE;
          }
          const err = parseResponseHead(sink, data, pos, at, scratchHead);
          if (err !== null) return this.fail(err);
          this.frame(scratchHead);
          pos = at + 4;
          // No body: complete now; anything after it is unsolicited.
          if ((this.state as P) === P.Idle) return this.complete(pos, end);
          // A body (P.Body, chunks, or until close) is read by the next turn of the loop.
          break;
        }
        case P.Body:
          pos = this.takeBody(sink, data, pos, end);
          if (this.remaining === 0) return this.complete(pos, end);
          break;
        case P.ChunkSize: {
          const lf = data.indexOf(10, pos);
          if (lf < 0 || lf >= end) return this.stash(data, pos, end);
          if (lf === pos || data[lf - 1] !== 13) return this.fail(parserError('Missing expected CR after chunk size'));
          let size = 0;
          let i = pos;
          for (; i < lf - 1; i++) {
            const c = data[i]!;
            const d = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : -1;
            if (d < 0) break;
            size = size * 16 + d;
            if (size > Number.MAX_SAFE_INTEGER / 16) return this.fail(parserError('Chunk size overflow'));
          }
          // Chunk extensions (`;name=value`) are allowed and ignored; anything else is not.
          if (i === pos || (i < lf - 1 && data[i] !== 59)) return this.fail(parserError('Invalid character in chunk size'));
          pos = lf + 1;
          if (size === 0) this.state = P.Trailers;
          else {
            this.remaining = size;
            this.state = P.ChunkData;
          }
          break;
        }
        case P.ChunkData:
          pos = this.takeBody(sink, data, pos, end);
          if (this.remaining === 0) this.state = P.ChunkEnd;
          break;
        case P.ChunkEnd: {
          if (end - pos < 2) return this.stash(data, pos, end);
          if (data[pos] !== 13 || data[pos + 1] !== 10) return this.fail(parserError('Expected LF after chunk data'));
          pos += 2;
          this.state = P.ChunkSize;
          break;
        }
        case P.Trailers: {
          const lf = data.indexOf(10, pos);
          if (lf < 0 || lf >= end) return this.stash(data, pos, end);
          const empty = lf === pos + 1 && data[pos] === 13;
          pos = lf + 1;
          if (empty) return this.complete(pos, end);
          break;
        }
        case P.UntilEof:
          sink.onResponseBody(data, pos, end);
          pos = end;
          break;
      }
    }
    return PARSE_NEED_MORE;
  }

  /** Sets the state for the message after a head (a 1xx head: the next head). */
  private frame(h: HeadFraming): void {
    if (h.status < 200) return; // state stays at Head
    this.contentLength = h.contentLength;
    this.keepAlive = h.keepAlive;
    this.keepAliveHintMs = h.keepAliveHintMs;
    if (h.body === BODY_NONE) this.state = P.Idle;
    else if (h.body === BODY_LENGTH) {
      this.remaining = h.contentLength;
      this.state = P.Body;
    } else this.state = h.body === BODY_CHUNKED ? P.ChunkSize : P.UntilEof;
  }

  private fail(err: Error): ParseResult {
    this.error = err;
    this.reset();
    return PARSE_FAILED;
  }

  /** The response ended at `pos`; bytes after it (up to `end`) are unsolicited. */
  private complete(pos: number, end: number): ParseResult {
    this.unsolicited = pos < end;
    this.reset();
    return PARSE_COMPLETE;
  }

  /** Hands up to `remaining` body bytes from `pos` to the sink; returns the position after them. */
  private takeBody(sink: ResponseSink, data: Buffer, pos: number, end: number): number {
    const n = Math.min(this.remaining, end - pos);
    sink.onResponseBody(data, pos, pos + n);
    this.remaining -= n;
    return pos + n;
  }

  private stash(data: Buffer, pos: number, end: number): ParseResult {
    if (end - pos > MAX_HEADER_BYTES) return this.fail(headersOverflow());
    this.pending = Buffer.copyBytesFrom(data, pos, end - pos);
    return PARSE_NEED_MORE;
  }
}
