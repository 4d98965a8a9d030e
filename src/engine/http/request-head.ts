/**
 * The bytes of a request for the built-in HTTP/1.1 client, written exactly as undici writes them for a
 * `Client` with pipelining 1, and refused where undici refuses them (same errors).
 */
import { invalidArgument } from './errors.js';

/** RFC 9110 token characters (header names). */
export const TCHAR = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") TCHAR[c.charCodeAt(0)] = 1;
/** Characters undici accepts in a header value: HTAB, SP..~, 0x80-0xff. */
const INVALID_HEADER_VALUE = /[^\t\x20-\x7e\x80-\xff]/;
/** True for a header value undici would send (and the built-in client may write). */
export const validHeaderValue = (v: string): boolean => !INVALID_HEADER_VALUE.test(v);
/** undici's request-path check. */
const INVALID_PATH = /[^\u0021-\u00ff]/;
/** Header names undici handles specially (or rejects); steps with them go through undici. */
export const SPECIAL_REQUEST_HEADERS: ReadonlySet<string> = new Set(['host', 'content-length', 'connection', 'expect', 'transfer-encoding', 'keep-alive', 'upgrade']);

/** A request ready to write: a latin1 string (no body), or bytes (head and body). */
export type RequestHead = string | Buffer;

/**
 * The whole request: request line, `hostHeader` (`host: name[:port]\r\n`), `connection: keep-alive` (or
 * `close` for a connection per request), the
 * given headers in order, `content-length` when there is a body (or a payload method without one), then
 * the body. Returns an error for what undici would reject.
 */
export function buildRequestHead(hostHeader: string, method: string, path: string, headers: readonly string[], body: string | null, connection: 'keep-alive' | 'close' = 'keep-alive'): RequestHead | Error {
  if (path[0] !== '/') return invalidArgument('path must be an absolute URL or start with a slash');
  if (INVALID_PATH.test(path)) return invalidArgument('invalid request path');
  let head = `${method} ${path} HTTP/1.1\r\n${hostHeader}connection: ${connection}\r\n`;
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
