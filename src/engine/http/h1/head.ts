/**
 * The grammar of an HTTP/1.1 response head: status line, header lines, and what they say about the body
 * (its framing) and the connection (keep-alive). Accepts and rejects what llhttp and undici do, with
 * the same errors. Headers are handed over as offsets into the read buffer, never as strings.
 */
import { bytesAre } from '../bytes.js';
import { contentLengthMismatch, headersOverflow, parserError, unexpectedUpgrade } from '../errors.js';
import { TCHAR } from '../request-head.js';

/** Header kinds told to the sink (the headers a response handler reads besides its own list). */
export const H_OTHER = 0;
export const H_SET_COOKIE = 1;
export const H_LOCATION = 2;
export const H_CONTENT_ENCODING = 3;

/** Where a parsed response goes. Called synchronously while the parser runs. */
export interface ResponseSink {
  /** A valid head: its status (a 1xx head is followed by the final one). */
  onResponseHead(status: number): void;
  /**
   * One header of that head: name `[ns, ne)`, value `[vs, ve)` of `buf` (leading white space skipped,
   * as llhttp does), `kind` one of H_OTHER, H_SET_COOKIE, H_LOCATION, H_CONTENT_ENCODING. Valid until
   * the parser returns.
   */
  onResponseHeader(buf: Buffer, ns: number, ne: number, vs: number, ve: number, kind: number): void;
  /** Body bytes `[start, end)` of `buf`, decoded from the framing (no chunk sizes). Valid until the parser returns. */
  onResponseBody(buf: Buffer, start: number, end: number): void;
}

/**
 * Response header size limit: undici's default (Node's `--max-http-header-size`, 16 KiB), counted as
 * undici does (names and values); an incomplete head is given up at twice that.
 */
export const MAX_HEADER_BYTES = 16 * 1024;

/** How the body after a head is delimited. */
export const BODY_NONE = 0;
export const BODY_LENGTH = 1;
export const BODY_CHUNKED = 2;
export const BODY_UNTIL_EOF = 3;
export type BodyFraming = typeof BODY_NONE | typeof BODY_LENGTH | typeof BODY_CHUNKED | typeof BODY_UNTIL_EOF;

/** What a final (non-1xx) head says about the message; written by {@link parseResponseHead}. */
export interface HeadFraming {
  status: number;
  body: BodyFraming;
  /** The Content-Length, or -1. */
  contentLength: number;
  /** The connection may carry another request after this response (llhttp_should_keep_alive). */
  keepAlive: boolean;
  /** The `Keep-Alive: timeout=N` hint in ms, or -1. */
  keepAliveHintMs: number;
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
const HASH_CONTENT_ENCODING = nameHash('content-encoding');

const HTTP_SLASH = Buffer.from('HTTP/', 'latin1');

/**
 * What is wrong with the status line `HTTP/M.m SSS[ reason]` in `[start, cr)` (`cr` = its CR, or the end
 * of the bytes so far when `complete` is false), or null. With an incomplete line only what has arrived
 * is judged, so that bytes that are not HTTP fail at once instead of waiting for a blank line.
 */
export function statusLineProblem(d: Buffer, start: number, cr: number, complete: boolean): string | null {
  const n = cr - start;
  for (let i = 0; i < 5 && i < n; i++) if (d[start + i] !== HTTP_SLASH[i]) return 'Expected HTTP/';
  if (complete && n < 12) return n < 5 ? 'Expected HTTP/' : n < 9 ? 'Invalid HTTP version' : 'Invalid status code';
  if (n >= 8) {
    const major = d[start + 5]! - 48;
    const minor = d[start + 7]! - 48;
    if (major < 0 || major > 9 || d[start + 6] !== 46 || minor < 0 || minor > 9) return 'Invalid HTTP version';
  }
  for (let i = 8; i < 12 && i < n; i++) {
    const c = d[start + i]!;
    if (i === 8 ? c !== 32 : c < 48 || c > 57) return 'Invalid status code';
  }
  if (n > 12 && d[start + 12] !== 32) return 'Invalid status code';
  if (complete) {
    // The reason phrase: HTAB, SP, visible characters and obs-text (RFC 9112 §4); a bare LF ends nothing.
    for (let i = start + 13; i < cr; i++) {
      const c = d[i]!;
      if ((c < 32 && c !== 9) || c === 127) return c === 10 ? 'Missing expected CR after response line' : 'Invalid status line';
    }
  }
  return null;
}

/**
 * Parses the head in `[start, at)` of `d` (`at` = the blank line's CR), hands its status and headers to
 * the sink once the whole head is known to be valid, and writes its framing to `out`. Returns the parse
 * error, if any. For a 1xx head only `out.status` is written.
 */
export function parseResponseHead(sink: ResponseSink, d: Buffer, start: number, at: number, out: HeadFraming): Error | null {
  let p = d.indexOf(13, start);
  if (p > at) p = at;
  const bad = statusLineProblem(d, start, p, true);
  if (bad !== null) return parserError(bad);
  const major = d[start + 5]! - 48;
  const minor = d[start + 7]! - 48;
  const status = (d[start + 9]! - 48) * 100 + (d[start + 10]! - 48) * 10 + (d[start + 11]! - 48);
  if (d[p + 1] !== 10) return parserError('Missing expected LF after response line');
  // An upgrade nobody asked for: the connection would stop speaking HTTP/1.1. (A 100 Continue nobody
  // asked for is skipped like any other 1xx, as browsers do.)
  if (status === 101) return unexpectedUpgrade();

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
    else if (nameLen === 16 && h === HASH_CONTENT_ENCODING && bytesAre(d, p, c, 'content-encoding')) kind = H_CONTENT_ENCODING;
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

  out.status = status;
  // 1xx (not 100/101): undici hands it to the handler and waits for the final response.
  if (status < 200) return null;
  out.contentLength = clHeaders === 1 ? clValue : -1;
  let body: BodyFraming;
  if (status === 204 || status === 304) body = BODY_NONE;
  else if (chunked) body = BODY_CHUNKED;
  else if (hasTransferEncoding) body = BODY_UNTIL_EOF;
  else if (clHeaders === 1) body = clValue === 0 ? BODY_NONE : BODY_LENGTH;
  else body = BODY_UNTIL_EOF;
  out.body = body;
  // llhttp_should_keep_alive: HTTP/1.1 and later unless `close`; before that only with `keep-alive`.
  out.keepAlive = body !== BODY_UNTIL_EOF && (major > 0 && minor > 0 ? !connClose : connKeepAlive);
  out.keepAliveHintMs = keepAliveHintMs;
  return null;
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
