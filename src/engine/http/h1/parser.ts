/**
 * The HTTP/1.1 response parser of the built-in client, pure: bytes in, events out (to a
 * {@link ResponseSink}), no socket and no timer, so it can be tested on its own. It accepts and rejects
 * what undici (llhttp plus undici's own checks) accepts and rejects, with the same errors
 * (test/integration/http-client.test.ts runs both side by side).
 *
 * Called once per socket read; a response split over reads keeps its state (and an incomplete head or
 * line) here. Headers are handed over as offsets into the read buffer, never as strings.
 */
import { bytesAre } from '../bytes.js';
import { contentLengthMismatch, headersOverflow, parserError, socketError } from '../errors.js';
import { TCHAR } from '../request-head.js';

/** Header kinds the parser tells its sink (the headers a response handler reads besides its own list). */
export const H_OTHER = 0;
export const H_SET_COOKIE = 1;
export const H_LOCATION = 2;

/** Where parsed responses go. Called synchronously from {@link H1ResponseParser.execute}. */
export interface ResponseSink {
  /** A valid head: its status (a 1xx head is followed by the final one). */
  onResponseHead(status: number): void;
  /**
   * One header of that head: name `[ns, ne)`, value `[vs, ve)` of `buf` (leading white space skipped,
   * as llhttp does), `kind` one of H_OTHER, H_SET_COOKIE, H_LOCATION. Valid until execute returns.
   */
  onResponseHeader(buf: Buffer, ns: number, ne: number, vs: number, ve: number, kind: number): void;
  /** Body bytes `[start, end)` of `buf`, decoded from the framing (no chunk sizes). Valid until execute returns. */
  onResponseBody(buf: Buffer, start: number, end: number): void;
}

/** {@link H1ResponseParser.execute}: the response needs more bytes. */
export const PARSE_NEED_MORE = 0;
/** The response is complete (see `unsolicited`). */
export const PARSE_COMPLETE = 1;
/** The response is invalid (see `error`). */
export const PARSE_FAILED = 2;
export type ParseResult = typeof PARSE_NEED_MORE | typeof PARSE_COMPLETE | typeof PARSE_FAILED;

/**
 * Response header size limit: undici's default (Node's `--max-http-header-size`, 16 KiB), counted as
 * undici does (names and values); an incomplete head is given up at twice that.
 */
export const MAX_HEADER_BYTES = 16 * 1024;

const CRLFCRLF = Buffer.from('\r\n\r\n', 'latin1');

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
  /** Set when body bytes arrive; the reader clears it (the connection's body timeout). */
  bodyActive = false;
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
            if (end - pos > 2 * MAX_HEADER_BYTES) return this.fail(headersOverflow());
            this.pending = Buffer.copyBytesFrom(data, pos, end - pos);
            return PARSE_NEED_MORE;
          }
          const err = this.parseHead(sink, data, pos, at);
          if (err !== null) return this.fail(err);
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
          this.bodyActive = true;
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
          this.bodyActive = true;
          pos = end;
          break;
      }
    }
    return PARSE_NEED_MORE;
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
    this.bodyActive = true;
    return pos + n;
  }

  private stash(data: Buffer, pos: number, end: number): ParseResult {
    if (end - pos > MAX_HEADER_BYTES) return this.fail(headersOverflow());
    this.pending = Buffer.copyBytesFrom(data, pos, end - pos);
    return PARSE_NEED_MORE;
  }

  /**
   * Parses the head in `[start, at)` (`at` = the blank line's CR), hands the headers to the sink and
   * sets the body framing. Returns the parse error, if any. A 1xx head leaves the state at Head.
   */
  private parseHead(sink: ResponseSink, d: Buffer, start: number, at: number): Error | null {
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
    // Offsets of each header (name start, name end, value start, value end): the sink sees the
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
      // Framing headers (read here, and passed on to the sink like every header).
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
    sink.onResponseHead(status);
    for (let i = 0; i < nFields; i += 5) sink.onResponseHeader(d, fields[i]!, fields[i + 1]!, fields[i + 2]!, fields[i + 3]!, fields[i + 4]!);

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
    this.keepAliveHintMs = keepAliveHintMs;
    this.bodyActive = false;
    return null;
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
