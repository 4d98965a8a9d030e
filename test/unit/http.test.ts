import { describe, it, expect } from 'vitest';
import { errors as undiciErrors } from 'undici';
import { classifyError } from '../../src/engine/http/errors.js';
import type { ErrorKind } from '../../src/result/schema.js';

const withCode = (code: string): Error => Object.assign(new Error(`failed: ${code}`), { code });

describe('classifyError', () => {
  it.each<[string, ErrorKind]>([
    ['ECONNREFUSED', 'refused'],
    ['ECONNRESET', 'reset'],
    ['EPIPE', 'reset'],
    ['ECONNABORTED', 'reset'],
    ['UND_ERR_SOCKET', 'reset'],
    ['UND_ERR_CLOSED', 'reset'],
    ['UND_ERR_HEADERS_TIMEOUT', 'timeout'],
    ['UND_ERR_CONNECT_TIMEOUT', 'timeout'],
    ['UND_ERR_BODY_TIMEOUT', 'timeout'],
    ['ETIMEDOUT', 'timeout'],
    ['ERR_TLS_CERT_ALTNAME_INVALID', 'tls'],
    ['DEPTH_ZERO_SELF_SIGNED_CERT', 'tls'],
    ['SELF_SIGNED_CERT_IN_CHAIN', 'tls'],
    ['CERT_HAS_EXPIRED', 'tls'],
    ['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'tls'],
    ['UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'tls'],
    ['ERR_SSL_WRONG_VERSION_NUMBER', 'tls'],
    ['EPROTO', 'tls'],
    ['ENOTFOUND', 'dns'],
    ['EAI_AGAIN', 'dns'],
    ['HPE_INVALID_CONSTANT', 'invalid'],
    ['HPE_INVALID_HEADER_TOKEN', 'invalid'],
    ['UND_ERR_RES_CONTENT_LENGTH_MISMATCH', 'invalid'],
    ['UND_ERR_INFO', 'invalid'],
    ['UND_ERR_NOT_SUPPORTED', 'invalid'],
    ['EHOSTUNREACH', 'other'],
    ['UND_ERR_ABORTED', 'other'],
    ['', 'other'],
  ])('code %j -> %s', (code, kind) => {
    expect(classifyError(withCode(code))).toBe(kind);
  });

  it.each<[string, unknown]>([
    ['an error without a code', new Error('boom')],
    ['a string', 'boom'],
    ['null', null],
    ['undefined', undefined],
    ['a numeric code', { code: 42 }],
  ])('%s -> other', (_name, err) => {
    expect(classifyError(err)).toBe('other');
  });

  it.each<[string, Error, ErrorKind]>([
    ['HeadersTimeoutError', new undiciErrors.HeadersTimeoutError(), 'timeout'],
    ['ConnectTimeoutError', new undiciErrors.ConnectTimeoutError(), 'timeout'],
    ['BodyTimeoutError', new undiciErrors.BodyTimeoutError(), 'timeout'],
    ['SocketError', new undiciErrors.SocketError('other side closed'), 'reset'],
    ['ClientClosedError', new undiciErrors.ClientClosedError(), 'reset'],
    ['InformationalError', new undiciErrors.InformationalError('x'), 'invalid'],
    ['ResponseContentLengthMismatchError', new undiciErrors.ResponseContentLengthMismatchError(), 'invalid'],
  ])('undici %s -> %s', (_name, err, kind) => {
    expect(classifyError(err)).toBe(kind);
  });
});
