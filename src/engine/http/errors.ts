/**
 * Errors of the HTTP layer, shaped like undici's (same name, code and message) so that results read the
 * same whichever client carried a request, and the map from an error to the kind a result counts it as.
 */
import type { ErrorKind } from '../../result/constants.js';

/** An error shaped like undici's: `name`, stable `code`, message. */
export class HttpError extends Error {
  constructor(
    name: string,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = name;
  }
}

/** undici's HTTPParserError for an llhttp failure: the reason in the message, and (in undici 7) no code. */
export class HttpParserError extends Error {
  readonly code = undefined;
  constructor(reason: string) {
    super(`Response does not match the HTTP/1.1 protocol (${reason})`);
    this.name = 'HTTPParserError';
  }
}

export const socketError = (message: string): HttpError => new HttpError('SocketError', 'UND_ERR_SOCKET', message);
export const parserError = (reason: string): Error => new HttpParserError(reason);
export const contentLengthMismatch = (): HttpError =>
  new HttpError('ResponseContentLengthMismatchError', 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH', 'Response body length does not match content-length header');
export const headersOverflow = (): HttpError => new HttpError('HeadersOverflowError', 'UND_ERR_HEADERS_OVERFLOW', 'Headers Overflow Error');
export const invalidArgument = (message: string): HttpError => new HttpError('InvalidArgumentError', 'UND_ERR_INVALID_ARG', message);
export const headersTimeout = (): HttpError => new HttpError('HeadersTimeoutError', 'UND_ERR_HEADERS_TIMEOUT', 'Headers Timeout Error');
/** The head arrived but the body did not end within the request timeout. */
export const responseTimeout = (ms: number): HttpError => new HttpError('ResponseTimeoutError', 'SB_RESPONSE_TIMEOUT', `Response not complete within the ${ms} ms timeout (the body was still arriving)`);

/** A 101 Switching Protocols nobody asked for. */
export const unexpectedUpgrade = (): HttpError => new HttpError('InvalidResponseError', 'SB_INVALID_RESPONSE', 'Unexpected 101 Switching Protocols (no upgrade was asked for)');
/**
 * A TLS alert the server sent (OpenSSL's "...:tlsv13 alert certificate required:..."), said in a few
 * words; null for any other error. A server that requires a client certificate accepts the handshake,
 * then alerts and closes: without this the request would read as a reset.
 */
export function tlsAlertError(e: NodeJS.ErrnoException): HttpError | null {
  if (!e.code?.startsWith('ERR_SSL')) return null;
  const what = /alert ([a-z ]+?)(?::|$)/m.exec(e.message)?.[1] ?? e.message.split('\n')[0];
  return new HttpError('TlsAlertError', e.code, `the server ended the TLS connection with an alert: ${what}`);
}
export const clientDestroyed = (): HttpError => new HttpError('ClientDestroyedError', 'UND_ERR_DESTROYED', 'The client is destroyed');

/** The generator itself ran out of something (file descriptors, local ports, buffers): not the target's fault. */
const LOCAL_CODES: ReadonlySet<string> = new Set(['EMFILE', 'ENFILE', 'EADDRNOTAVAIL', 'ENOBUFS', 'ENOMEM']);

/** Maps an undici / Node network error to a reported kind. */
export function classifyError(err: unknown): ErrorKind {
  const code = String((err as { code?: unknown })?.code ?? '');
  if (code === 'ECONNREFUSED') return 'refused';
  if (LOCAL_CODES.has(code)) return 'local';
  // An answer that is not HTTP/1.1 (undici's llhttp errors carry no code, only this name).
  if ((err as { name?: unknown })?.name === 'HTTPParserError' || code === 'UND_ERR_HEADERS_OVERFLOW' || code === 'SB_INVALID_RESPONSE') return 'invalid';
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
