/**
 * Who answered: a response header that names the backend, or the load balancer's affinity cookie, read
 * from the answers `init` collected. A header counts when its value varies across answers given to
 * fresh clients (a balancer spreads them); a cookie when it is a well-known affinity cookie, a Tomcat
 * jvmRoute suffix, or set on every answer whatever the login, with a value that repeats across fresh
 * clients (a session id never repeats; a backend name does). Pure.
 */
import { cookieNameValue, isAffinityCookie, namesBackend, SESSION_ID_COOKIES, sessionRoute } from '../engine/session.js';
import type { Finding } from './findings.js';

export interface Observed {
  /** Which cookie jar (client) received it; fresh clients each have their own. */
  readonly client: number;
  /** Sent before the login, during it, or with a logged-in session. */
  readonly phase: 'anonymous' | 'login' | 'logged-in';
  readonly headers: Readonly<Record<string, string>>;
  readonly setCookies: readonly string[];
}

/** Header names that name a backend by convention. `server` and `via` only count when they vary. */
const BACKEND_HEADERS = ['x-served-by', 'x-backend', 'x-backend-server', 'x-upstream', 'x-upstream-addr', 'x-server', 'x-server-name', 'x-node', 'x-pod', 'x-pod-name', 'x-instance', 'x-instance-id', 'x-hostname', 'x-host', 'x-replica', 'x-real-server'];
const BACKEND_LIKE = /^x-.*(serv|backend|upstream|node|pod|instance|host|replica)/;
/** Vary per request whatever the backend: never a backend's name. */
const PER_REQUEST = /^(date|expires|last-modified|etag|content-length|age|x-request-id|x-correlation-id|x-amzn-trace-id|traceparent|x-trace-id|x-runtime|x-response-time|server-timing|cf-ray|x-cache|set-cookie)$/;

export interface BackendHeader {
  readonly name: string;
  readonly values: readonly string[];
  readonly finding: Finding;
}

export function findBackendHeader(observed: readonly Observed[]): BackendHeader | null {
  const names = new Set<string>();
  for (const o of observed) for (const n of Object.keys(o.headers)) if (!PER_REQUEST.test(n) && (BACKEND_HEADERS.includes(n) || BACKEND_LIKE.test(n) || n === 'server' || n === 'via')) names.add(n);
  const ranked: { name: string; values: string[]; varies: boolean; known: boolean }[] = [];
  for (const name of names) {
    const seen = observed.map((o) => o.headers[name]).filter((v): v is string => v !== undefined);
    // Present on (nearly) every answer: a header only some pages set is a page's, not the balancer's.
    if (seen.length < Math.max(2, observed.length - 1)) continue;
    const values = [...new Set(seen)];
    ranked.push({ name, values, varies: values.length > 1, known: BACKEND_HEADERS.includes(name) });
  }
  const pick = ranked.find((r) => r.varies && r.known) ?? ranked.find((r) => r.varies) ?? ranked.find((r) => r.known);
  if (pick === undefined) return null;
  const shown = pick.values.slice(0, 4).join(', ') + (pick.values.length > 4 ? ', ...' : '');
  return {
    name: pick.name,
    values: pick.values,
    finding: pick.varies
      ? { item: 'Backend header', value: pick.name, confidence: 'high', why: `its value varied over ${observed.length} answers: ${shown}` }
      : {
          item: 'Backend header',
          value: pick.name,
          confidence: 'medium',
          why: `set on every answer but always "${shown}": only one backend answered (one replica, or a sticky balancer)`,
        },
  };
}

export interface AffinityCookie {
  readonly name: string;
  /** Its value names the backend (so a run can tell backends apart by it). */
  readonly namesBackend: boolean;
  readonly finding: Finding;
}

/** Cookie names that hold a CSRF token or a session: never an affinity cookie. */
const NOT_AFFINITY = /csrf|xsrf|token|sess|sid|auth|remember/i;

export function findAffinityCookie(observed: readonly Observed[], sessionCookies: ReadonlySet<string>): AffinityCookie | null {
  const byName = new Map<string, { values: Map<number, Set<string>>; answers: number }>();
  const perClient = new Map<number, number>();
  for (const o of observed) perClient.set(o.client, (perClient.get(o.client) ?? 0) + 1);
  for (const o of observed) {
    for (const c of o.setCookies) {
      const [name, value] = cookieNameValue(c);
      if (name === '' || value === '') continue;
      const e = byName.get(name) ?? { values: new Map(), answers: 0 };
      byName.set(name, e);
      e.answers++;
      const vs = e.values.get(o.client) ?? new Set<string>();
      e.values.set(o.client, vs);
      vs.add(value);
    }
  }
  // 1. A well-known affinity cookie.
  for (const name of byName.keys()) {
    if (!isAffinityCookie(name, new Set())) continue;
    const identity = namesBackend(name);
    return {
      name,
      namesBackend: identity,
      finding: {
        item: 'Affinity cookie',
        value: name,
        confidence: 'high',
        why: identity
          ? `${name} is a load balancer's affinity cookie whose value names the backend: the backend identity when no header names it`
          : `${name} is a load balancer's affinity cookie (its value is re-encrypted on every answer, so it does not name the backend)`,
      },
    };
  }
  // 2. A cookie set with the same value for each client, on every answer or repeating across clients.
  const clients = perClient.size;
  for (const [name, e] of byName) {
    if (sessionCookies.has(name) || SESSION_ID_COOKIES.has(name) || NOT_AFFINITY.test(name)) continue;
    const stable = [...e.values.values()].every((vs) => vs.size === 1);
    if (!stable) continue;
    const values = [...e.values.values()].map((vs) => [...vs][0]!);
    const distinct = new Set(values).size;
    const onEvery = e.answers === observed.length;
    const repeats = clients >= 3 && e.values.size >= 3 && distinct < e.values.size;
    if (!onEvery && !repeats) continue;
    const why = [
      onEvery ? `set on every one of ${observed.length} answers, before and after the login` : null,
      repeats ? `its value repeats across ${e.values.size} fresh clients (${[...new Set(values)].slice(0, 4).join(', ')}): it names a backend, not a user` : null,
    ].filter((x) => x !== null).join('; ');
    return { name, namesBackend: repeats, finding: { item: 'Affinity cookie', value: name, confidence: repeats && onEvery ? 'high' : 'medium', why } };
  }
  // 3. A Tomcat/Jetty jvmRoute on the session id.
  for (const [name, e] of byName) {
    if (name !== 'JSESSIONID') continue;
    const routes = [...e.values.values()].flatMap((vs) => [...vs]).map(sessionRoute).filter((r) => r !== null);
    if (routes.length > 0) {
      return {
        name,
        namesBackend: true,
        finding: { item: 'Affinity cookie', value: `${name} route suffix`, confidence: 'medium', why: `JSESSIONID values end in a jvmRoute (.${[...new Set(routes)].join(', .')}): the backend identity when no header names it` },
      };
    }
  }
  return null;
}
