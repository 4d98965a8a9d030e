/**
 * The built-in client's HTTP/1.1 response parser on its own: bytes in, events out, no socket. The same
 * responses must give the same events whether they arrive in one read or split at every byte.
 */
import { describe, expect, it } from 'vitest';
import { H_LOCATION, H_OTHER, H_SET_COOKIE, type ResponseSink } from '../../src/engine/http/h1/head.js';
import { H1ResponseParser, PARSE_COMPLETE, PARSE_FAILED, PARSE_NEED_MORE, type ParseResult } from '../../src/engine/http/h1/parser.js';

/** Records what the parser tells its sink, as strings. */
class RecordingSink implements ResponseSink {
  events: string[] = [];
  body = '';
  onResponseHead(status: number): void {
    this.events.push(`head ${status}`);
  }
  onResponseHeader(buf: Buffer, ns: number, ne: number, vs: number, ve: number, kind: number): void {
    const k = kind === H_SET_COOKIE ? 'cookie' : kind === H_LOCATION ? 'location' : kind === H_OTHER ? 'other' : `kind${kind}`;
    this.events.push(`${k} ${buf.toString('latin1', ns, ne)}=${buf.toString('latin1', vs, ve)}`);
  }
  onResponseBody(buf: Buffer, start: number, end: number): void {
    this.body += buf.toString('latin1', start, end);
  }
}

interface Parsed {
  result: ParseResult;
  events: string[];
  body: string;
  error: string | null;
  keepAlive: boolean;
  unsolicited: boolean;
}

/** Feeds `raw` in pieces of `step` bytes (each piece in a reused read buffer, as the socket does). */
function parse(raw: string, step = raw.length): Parsed {
  const parser = new H1ResponseParser();
  const sink = new RecordingSink();
  parser.expect(sink);
  const bytes = Buffer.from(raw, 'latin1');
  const readBuffer = Buffer.alloc(64 * 1024);
  let result: ParseResult = PARSE_NEED_MORE;
  for (let pos = 0; pos < bytes.length && result === PARSE_NEED_MORE; pos += step) {
    const n = bytes.copy(readBuffer, 0, pos, Math.min(bytes.length, pos + step));
    result = parser.execute(readBuffer, n);
    readBuffer.fill(0x58); // the caller reuses the buffer: nothing may still point into it
  }
  return { result, events: sink.events, body: sink.body, error: parser.error?.message ?? null, keepAlive: parser.keepAlive, unsolicited: parser.unsolicited };
}

const CASES: [string, string, Partial<Parsed>][] = [
  [
    'content-length body',
    'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nSet-Cookie: a=1\r\nLocation: /x\r\nX-Served-By: r1\r\n\r\nhello',
    { result: PARSE_COMPLETE, events: ['head 200', 'other Content-Length=5', 'cookie Set-Cookie=a=1', 'location Location=/x', 'other X-Served-By=r1'], body: 'hello', keepAlive: true },
  ],
  [
    'chunked body with an extension and a trailer',
    'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n2\r\nde\r\n0\r\nX-T: 1\r\n\r\n',
    { result: PARSE_COMPLETE, body: 'abcde', keepAlive: true },
  ],
  ['no body on 204', 'HTTP/1.1 204 No Content\r\n\r\n', { result: PARSE_COMPLETE, body: '', keepAlive: true }],
  ['a 1xx head, then the final one', 'HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok', { result: PARSE_COMPLETE, events: ['head 103', 'other Link=</a>', 'head 200', 'other Content-Length=2'], body: 'ok' }],
  ['Connection: close', 'HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n', { result: PARSE_COMPLETE, keepAlive: false }],
  ['HTTP/1.0 without keep-alive', 'HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n', { result: PARSE_COMPLETE, keepAlive: false }],
  ['a body until close never completes by itself', 'HTTP/1.1 200 OK\r\n\r\nsome bytes', { result: PARSE_NEED_MORE, body: 'some bytes', keepAlive: false }],
  ['bytes after the response', 'HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nxEXTRA', { result: PARSE_COMPLETE, body: 'x', unsolicited: true }],
  ['not HTTP', 'SSH-2.0-OpenSSH_9.6\r\n\r\n', { result: PARSE_FAILED, error: 'Response does not match the HTTP/1.1 protocol (Expected HTTP/)' }],
  ['a bad chunk size', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n', { result: PARSE_FAILED, error: 'Response does not match the HTTP/1.1 protocol (Invalid character in chunk size)' }],
  ['two Content-Lengths', 'HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nx', { result: PARSE_FAILED, error: 'Response body length does not match content-length header' }],
  ['an obs-folded header', 'HTTP/1.1 200 OK\r\nX-A: 1\r\n  2\r\nContent-Length: 0\r\n\r\n', { result: PARSE_FAILED, error: 'Response does not match the HTTP/1.1 protocol (Unexpected whitespace after header value)' }],
];

describe('H1ResponseParser (pure: bytes in, events out)', () => {
  it.each(CASES)('%s', (_name, raw, expected) => {
    const whole = parse(raw);
    expect(whole).toMatchObject(expected);
    // The same events whatever the reads: split at every byte. (Bytes after the response are
    // `unsolicited` only in the read that completes it; in a later read they are the connection's to drop.)
    const { unsolicited: _u, ...events } = whole;
    expect(parse(raw, 1)).toMatchObject(events);
    expect(parse(raw, 7)).toMatchObject(events);
  });

  it('gives up on a head that never ends, at twice the header limit', () => {
    const r = parse(`HTTP/1.1 200 OK\r\nX-Big: ${'a'.repeat(40_000)}`, 1000);
    expect(r.result).toBe(PARSE_FAILED);
    expect(r.error).toBe('Headers Overflow Error');
  });

  it('is reusable: a second response after the first completes', () => {
    const parser = new H1ResponseParser();
    const sink = new RecordingSink();
    for (const body of ['one', 'three']) {
      parser.expect(sink);
      const raw = Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n${body}`, 'latin1');
      expect(parser.execute(raw, raw.length)).toBe(PARSE_COMPLETE);
    }
    expect(sink.body).toBe('onethree');
    expect(parser.readingBody).toBe(false);
  });
});
