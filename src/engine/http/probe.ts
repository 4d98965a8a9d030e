/**
 * Single requests outside a load run, for `init`'s discovery: a handful in all, so clarity beats speed.
 * Through undici (loaded on first use; its request() follows no redirect), the whole body read as text up to a bound.
 */
import { createRequire } from 'node:module';
import type { Agent } from 'undici';
import { classifyError } from './errors.js';

const requireCjs = createRequire(import.meta.url);
const undici = (): typeof import('undici') => requireCjs('undici') as typeof import('undici');

/** Bodies beyond this are cut: discovery reads forms and links, never a download. */
const MAX_BODY_BYTES = 2 * 1024 * 1024;

export interface ProbeRequest {
  readonly method: string;
  readonly url: string;
  /** Lower-case names. */
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string;
}

export interface ProbeResponse {
  readonly url: string;
  readonly status: number;
  /** Lower-case names; repeated headers joined with ", " (Set-Cookie apart). */
  readonly headers: Readonly<Record<string, string>>;
  readonly setCookies: readonly string[];
  readonly body: string;
}

/** A request that got no answer: the error kind a run would count it as, and why. */
export class ProbeFailure extends Error {
  constructor(
    readonly kind: string,
    message: string,
  ) {
    super(message);
  }
}

export interface ProbeClient {
  send(req: ProbeRequest): Promise<ProbeResponse>;
  close(): Promise<void>;
}

/** A client for a few requests; `insecure` accepts any certificate, as `run --insecure` does. */
export function createProbeClient(o: { insecure: boolean; timeoutMs: number }): ProbeClient {
  const agent: Agent = new (undici().Agent)({
    connect: o.insecure ? { rejectUnauthorized: false } : {},
    headersTimeout: o.timeoutMs,
    bodyTimeout: o.timeoutMs,
    connectTimeout: o.timeoutMs,
  });
  return {
    async send(req) {
      try {
        const res = await undici().request(req.url, {
          method: req.method as 'GET',
          headers: { 'user-agent': 'session-bench-init', ...req.headers },
          body: req.body,
          dispatcher: agent,
        });
        const chunks: Buffer[] = [];
        let size = 0;
        for await (const chunk of res.body) {
          const b = chunk as Buffer;
          if (size < MAX_BODY_BYTES) chunks.push(b);
          size += b.length;
        }
        const headers: Record<string, string> = {};
        let setCookies: string[] = [];
        for (const [name, value] of Object.entries(res.headers)) {
          if (value === undefined) continue;
          if (name === 'set-cookie') setCookies = Array.isArray(value) ? value : [value];
          else headers[name] = Array.isArray(value) ? value.join(', ') : value;
        }
        return { url: req.url, status: res.statusCode, headers, setCookies, body: Buffer.concat(chunks).toString('utf8').slice(0, MAX_BODY_BYTES) };
      } catch (err) {
        const e = err as Error;
        throw new ProbeFailure(classifyError(err), e.message || String(err));
      }
    },
    close: () => agent.close(),
  };
}
