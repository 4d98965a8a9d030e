/**
 * The web app each lab replica runs: a tiny petclinic with a form login, behaving like Spring Security
 * with an HTTP session (redirect to /login when the session is not found). node:http only, no framework,
 * because it runs under load and must stay cheap.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { SessionData, SessionStore } from './session-store.js';

/** Header a replica sets on every response a session was expected but not found for. */
export const SESSION_MISS_HEADER = 'x-lab-session-miss';
/** Header naming the replica that served the response. */
export const SERVED_BY_HEADER = 'x-served-by';
/** Name of the session cookie (Spring Session's default). */
export const SESSION_COOKIE = 'SESSION';

/** What a replica app needs. */
export interface ReplicaAppConfig {
  /** `replica-N`; shown in headers, pages and log lines. */
  name: string;
  store: SessionStore;
  /** Lab-wide secret so a CSRF token issued by one replica is accepted by every replica. */
  csrfSecret: string;
  /** Added server time per request, spent while holding a thread (see `threads`). */
  delayMs?: number;
  /**
   * Requests processed at once, like Tomcat's `maxThreads`; 0 or absent = unlimited. Requests beyond it
   * wait in a FIFO queue and get a thread as one is released (when a response finishes or is aborted).
   */
  threads?: number;
  /** Receives log lines (already prefixed with the replica name); when absent no line is built. */
  log?: (line: string) => void;
}

/** Counters a replica keeps about itself. */
export interface ReplicaCounters {
  requests: number;
  sessionMisses: number;
  logins: number;
  loginFailures: number;
  /** Most requests ever processed at once (never above `threads` when it is set). */
  peakBusy: number;
  /** Requests that had to wait in the queue for a thread. */
  queued: number;
}

/** A request handler plus the replica's own counters. */
export interface ReplicaApp {
  handle(req: IncomingMessage, res: ServerResponse): void;
  readonly counters: Readonly<ReplicaCounters>;
}

const OWNERS = [
  { id: 1, name: 'George Franklin', city: 'Madison', pets: 'Leo (cat)' },
  { id: 2, name: 'Betty Davis', city: 'Sun Prairie', pets: 'Basil (hamster)' },
  { id: 3, name: 'Eduardo Rodriquez', city: 'McFarland', pets: 'Rosy (dog), Jewel (dog)' },
  { id: 4, name: 'Harold Davis', city: 'Windsor', pets: 'Iggy (lizard)' },
  { id: 5, name: 'Peter McTavish', city: 'Madison', pets: 'George (snake)' },
  { id: 6, name: 'Jean Coleman', city: 'Monona', pets: 'Samantha (cat), Max (cat)' },
  { id: 7, name: 'Jeff Black', city: 'Monona', pets: 'Lucky (bird)' },
  { id: 8, name: 'Maria Escobito', city: 'Madison', pets: 'Mulligan (dog)' },
  { id: 9, name: 'David Schroeder', city: 'Madison', pets: 'Freddy (bird)' },
  { id: 10, name: 'Carlos Estaban', city: 'Waunakee', pets: 'Lucky (dog), Sly (cat)' },
];
const VETS = [
  ['James Carter', 'none'],
  ['Helen Leary', 'radiology'],
  ['Linda Douglas', 'dentistry, surgery'],
  ['Rafael Ortega', 'surgery'],
  ['Henry Stevens', 'radiology'],
  ['Sharon Jenkins', 'none'],
] as const;
const OWNER_ROUTE = /^\/owners\/(\d+)$/;
/**
 * Owners 1..MAX_OWNER_ID exist (the ten named ones, then generated ones), so that `/owners/{{vu}}` in
 * scenarios/lab.yaml finds its owner for up to this many virtual users; higher ids are 404.
 */
export const MAX_OWNER_ID = 500;

/** The owner with this id, or undefined (ids 11..MAX_OWNER_ID reuse the named owners' cities and pets). */
export function findOwner(id: number): { id: number; name: string; city: string; pets: string } | undefined {
  if (!Number.isInteger(id) || id < 1 || id > MAX_OWNER_ID) return undefined;
  const named = OWNERS[id - 1];
  if (named) return named;
  const like = OWNERS[(id - 1) % OWNERS.length]!;
  return { id, name: `Owner ${id}`, city: like.city, pets: like.pets };
}
const USER_RE = /^user([1-9]\d{0,5})$/;
const MAX_BODY = 16 * 1024;

/** True for the lab's accounts: `admin`/`admin` and `user<N>`/`pass<N>` for N in 1..100000. */
export function checkCredentials(username: string, password: string): boolean {
  if (username === 'admin') return password === 'admin';
  const m = USER_RE.exec(username);
  return m !== null && Number(m[1]) <= 100_000 && password === `pass${m[1]}`;
}

/** Stateless CSRF token: `<nonce>.<HMAC(secret, nonce)>`, valid on any replica sharing the secret. */
export function issueCsrfToken(secret: string): string {
  const nonce = randomBytes(12).toString('base64url');
  return `${nonce}.${createHmac('sha256', secret).update(nonce).digest('base64url')}`;
}

/** Verifies a token from {@link issueCsrfToken} in constant time. */
export function verifyCsrfToken(secret: string, token: string | null | undefined): boolean {
  if (!token) return false;
  const dot = token.indexOf('.');
  if (dot <= 0) return false;
  const expected = Buffer.from(createHmac('sha256', secret).update(token.slice(0, dot)).digest('base64url'));
  const given = Buffer.from(token.slice(dot + 1));
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** Extracts one cookie's value from a Cookie header without building a map (hot path). */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function page(title: string, replica: string, username: string, body: string): string {
  return (
    `<!doctype html><html><head><meta charset="utf-8"><title>PetClinic :: ${title}</title></head><body>` +
    `<nav><a href="/home">Home</a> | <a href="/owners">Owners</a> | <a href="/vets">Veterinarians</a> | ` +
    `<a href="/logout">Logout</a></nav><p>Signed in as <b>${esc(username)}</b> (served by ${replica})</p>` +
    `<h2>${title}</h2>${body}</body></html>`
  );
}

/** Builds the replica app around a session store. */
export function createReplicaApp(config: ReplicaAppConfig): ReplicaApp {
  const { name, store, csrfSecret, log } = config;
  const delayMs = config.delayMs ?? 0;
  const counters: ReplicaCounters = { requests: 0, sessionMisses: 0, logins: 0, loginFailures: 0, peakBusy: 0, queued: 0 };
  const pool = new ThreadPool(config.threads ?? 0, counters);

  function send(res: ServerResponse, status: number, type: string, body: string): void {
    res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
    res.end(body);
  }
  function redirect(res: ServerResponse, location: string, cookie?: string): void {
    if (cookie) res.setHeader('set-cookie', cookie);
    res.writeHead(302, { location, 'content-length': 0 });
    res.end();
  }

  /** Loads the session or answers the miss (counted, logged, marked) and returns undefined. */
  async function requireSession(req: IncomingMessage, res: ServerResponse, path: string, api: boolean): Promise<SessionData | undefined> {
    const id = readCookie(req.headers.cookie, SESSION_COOKIE);
    const session = id ? await store.get(id) : undefined;
    if (session) return session;
    counters.sessionMisses++;
    res.setHeader(SESSION_MISS_HEADER, '1');
    if (log) {
      log(`${name} WARN  Session not found for request ${req.method} ${path}`);
      if (!api) log(`${name} INFO  Redirecting to login page`);
    }
    if (api) send(res, 401, 'application/json', '{"error":"unauthenticated"}');
    else redirect(res, '/login');
    return undefined;
  }

  function readBody(req: IncomingMessage): Promise<string | undefined> {
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      req.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_BODY) {
          resolve(undefined);
          req.resume();
          return;
        }
        chunks.push(c);
      });
      req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
      req.on('error', reject);
    });
  }

  async function login(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req);
    if (body === undefined) return send(res, 413, 'text/plain', 'Payload Too Large');
    const type = req.headers['content-type'] ?? '';
    const form = new URLSearchParams(type.startsWith('application/x-www-form-urlencoded') ? body : '');
    if (!verifyCsrfToken(csrfSecret, form.get('_csrf'))) {
      if (log) log(`${name} WARN  Invalid CSRF token for POST /login`);
      return send(res, 403, 'text/plain', 'Forbidden: invalid CSRF token');
    }
    const username = form.get('username') ?? '';
    if (!checkCredentials(username, form.get('password') ?? '')) {
      counters.loginFailures++;
      if (log) log(`${name} WARN  Login failed for user '${username.slice(0, 64)}'`);
      return redirect(res, '/login?error');
    }
    const id = randomBytes(16).toString('base64url');
    await store.set(id, { username, createdAt: Date.now() });
    counters.logins++;
    if (log) {
      log(`${name} INFO  User '${username}' logged in successfully`);
      log(`${name} INFO  Session created: ${id.slice(0, 8)}`);
    }
    redirect(res, '/home', `${SESSION_COOKIE}=${id}; Path=/; HttpOnly; SameSite=Lax`);
  }

  function loginForm(res: ServerResponse, error: boolean): void {
    const html =
      `<!doctype html><html><head><meta charset="utf-8"><title>PetClinic :: Login</title></head><body>` +
      `<h2>Please sign in</h2>${error ? '<p class="error">Invalid username and password.</p>' : ''}` +
      `<form method="post" action="/login">` +
      `<input type="hidden" name="_csrf" value="${issueCsrfToken(csrfSecret)}">` +
      `<label>Username <input name="username"></label>` +
      `<label>Password <input type="password" name="password"></label>` +
      `<button type="submit">Sign in</button></form><p><small>${name}</small></p></body></html>`;
    send(res, 200, 'text/html; charset=utf-8', html);
  }

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    const method = req.method ?? 'GET';
    const get = method === 'GET' || method === 'HEAD';

    if (path === '/_lab/replica-stats' && get) {
      return send(res, 200, 'application/json', JSON.stringify({ name, pid: process.pid, ...counters }));
    }
    counters.requests++;
    if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));

    if (path === '/health' && get) return send(res, 200, 'text/plain', 'ok');
    if (path === '/login') {
      if (get) return loginForm(res, q !== -1 && /(?:^|&)error(?:=|&|$)/.test(url.slice(q + 1)));
      if (method === 'POST') return login(req, res);
    }
    if (path === '/logout' && (get || method === 'POST')) {
      const id = readCookie(req.headers.cookie, SESSION_COOKIE);
      if (id) await store.delete(id);
      return redirect(res, '/login', `${SESSION_COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax`);
    }
    if (!get) return send(res, 404, 'text/plain', 'Not Found');

    if (path === '/api/me') {
      const s = await requireSession(req, res, path, true);
      if (s) send(res, 200, 'application/json', JSON.stringify({ username: s.username, replica: name }));
      return;
    }
    const owner = OWNER_ROUTE.exec(path);
    if (path !== '/home' && path !== '/owners' && path !== '/vets' && !owner) return send(res, 404, 'text/plain', 'Not Found');
    const s = await requireSession(req, res, path, false);
    if (!s) return;
    const html = 'text/html; charset=utf-8';
    if (path === '/home') return send(res, 200, html, page('Welcome', name, s.username, '<p>Welcome to the PetClinic.</p>'));
    if (path === '/owners') {
      const rows = OWNERS.map((o) => `<tr><td><a href="/owners/${o.id}">${o.name}</a></td><td>${o.city}</td></tr>`).join('');
      return send(res, 200, html, page('Owners', name, s.username, `<table>${rows}</table>`));
    }
    if (path === '/vets') {
      const rows = VETS.map(([n, sp]) => `<tr><td>${n}</td><td>${sp}</td></tr>`).join('');
      return send(res, 200, html, page('Veterinarians', name, s.username, `<table>${rows}</table>`));
    }
    const o = findOwner(Number(owner![1]));
    if (!o) return send(res, 404, 'text/plain', 'Owner not found');
    send(res, 200, html, page('Owner Information', name, s.username, `<p>${o.name}, ${o.city}</p><p>Pets: ${o.pets}</p>`));
  }

  return {
    counters,
    handle(req, res) {
      res.setHeader(SERVED_BY_HEADER, name);
      const work = (): void => {
        route(req, res).catch((e: unknown) => {
          // A store failure (e.g. Redis down) is a 500, like an app whose session backend is unreachable.
          if (log) log(`${name} ERROR ${req.method} ${req.url}: ${e instanceof Error ? e.message : String(e)}`);
          if (!res.headersSent) send(res, 500, 'text/plain', 'Internal Server Error');
          else res.destroy();
        });
      };
      // The lab's own probe never waits for a thread.
      if (req.url === '/_lab/replica-stats') work();
      else pool.run(res, work);
    },
  };
}

/**
 * A fixed number of "threads" (Tomcat's `maxThreads`) for a single-threaded server: at most `size` requests
 * are processed at once, the rest wait in FIFO order. A thread is held from the start of processing until
 * the response finishes or its connection closes. Size 0 = unlimited (no queue, no bookkeeping).
 */
class ThreadPool {
  readonly #size: number;
  readonly #counters: ReplicaCounters;
  #busy = 0;
  /** Waiting starters; each returns false when its request went away while waiting. */
  #queue: (() => boolean)[] = [];
  #head = 0;

  constructor(size: number, counters: ReplicaCounters) {
    this.#size = size;
    this.#counters = counters;
  }

  /** Runs `work` for the request answered by `res` now, or once a thread is free. */
  run(res: ServerResponse, work: () => void): void {
    if (this.#size <= 0) {
      work();
      return;
    }
    let state: 'waiting' | 'running' | 'done' = 'waiting';
    const start = (): boolean => {
      if (state === 'done') return false; // the client left while it waited
      state = 'running';
      if (this.#busy > this.#counters.peakBusy) this.#counters.peakBusy = this.#busy;
      work();
      return true;
    };
    const finish = (): void => {
      if (state === 'running') {
        state = 'done';
        this.#handOver();
      } else state = 'done';
    };
    res.once('finish', finish);
    res.once('close', finish);
    if (this.#busy < this.#size) {
      this.#busy++;
      start();
    } else {
      this.#counters.queued++;
      this.#queue.push(start);
    }
  }

  /** A thread was released: give it to the next waiting request that is still there, else free it. */
  #handOver(): void {
    while (this.#head < this.#queue.length) {
      const next = this.#queue[this.#head++]!;
      if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
        this.#queue = this.#queue.slice(this.#head);
        this.#head = 0;
      }
      if (next()) return;
    }
    this.#busy--;
  }
}
