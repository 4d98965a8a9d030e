/**
 * Decoding a kept response body by its Content-Encoding (gzip, deflate, br), so that login-form detection,
 * extraction and body checks read the page a browser would show. Only bodies a step keeps are decoded;
 * the rest are counted as the bytes that crossed the wire, as ab counts them.
 */
import { brotliDecompressSync, constants, gunzipSync, inflateRawSync, inflateSync } from 'node:zlib';
import { HttpError } from './errors.js';

/** What session-bench asks for, like a browser (`Accept-Encoding`), unless a step sets its own. */
export const ACCEPT_ENCODING = 'gzip, deflate, br';

// A kept body may have been cut at its size limit: decode what there is instead of failing.
const PARTIAL = { finishFlush: constants.Z_SYNC_FLUSH };
const PARTIAL_BR = { finishFlush: constants.BROTLI_OPERATION_FLUSH };

const invalid = (message: string): HttpError => new HttpError('InvalidResponseError', 'SB_INVALID_RESPONSE', message);

/** The body as text, decoded by `encoding` (codings applied in order are undone in reverse); an error when it does not decode. */
export function decodeBody(raw: Buffer, encoding: string): string | Error {
  const codings = encoding
    .split(',')
    .map((c) => c.trim().toLowerCase())
    .filter((c) => c !== '' && c !== 'identity');
  let data = raw;
  try {
    for (let i = codings.length - 1; i >= 0; i--) {
      const c = codings[i]!;
      if (c === 'gzip' || c === 'x-gzip') data = gunzipSync(data, PARTIAL);
      else if (c === 'deflate') {
        // "deflate" is zlib-wrapped by the RFC, raw from some servers: both are read, as browsers do.
        try {
          data = inflateSync(data, PARTIAL);
        } catch {
          data = inflateRawSync(data, PARTIAL);
        }
      } else if (c === 'br') data = brotliDecompressSync(data, PARTIAL_BR);
      else return invalid(`unsupported Content-Encoding "${c}"`);
    }
  } catch (err) {
    return invalid(`the body does not decode as Content-Encoding "${encoding}": ${(err as Error).message}`);
  }
  return data.toString('utf8');
}
