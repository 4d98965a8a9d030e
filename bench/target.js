#!/usr/bin/env node
/**
 * The bench target: a minimal node:http app, run in its own process (pinned to its own core by run.js).
 *
 *   GET  /            stateless, 12-byte body ("hello world\n")
 *   GET  /login       login form with a hidden _csrf field (each token is single-use)
 *   POST /login       username=userN & password=passN & _csrf=TOKEN -> Set-Cookie SID, 302 /home
 *   GET  /home        \
 *   GET  /owners       > cookie-session protected: 200 page with a session, 302 /login without one
 *   GET  /vets        /
 *   GET  /logout      drops the session, 302 /login
 *
 * Slow mode: every response is delayed by TARGET_DELAY_MS (env) or by `?delay=MS` on the request.
 * Usage: node bench/target.js [port]   (default 0 = any free port); prints `{"port":N}` on stdout once
 * listening, exits on SIGTERM/SIGINT or when stdin closes (so a crashed bench never leaves it behind).
 */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';

const DELAY_MS = Number(process.env.TARGET_DELAY_MS ?? 0);
const HELLO = Buffer.from('hello world\n'); // 12 bytes

/** SID -> username. */
const sessions = new Map();
/** Issued, not yet used CSRF tokens. */
const csrfTokens = new Set();
let counter = 0;
const token = () => `${randomBytes(8).toString('hex')}${(++counter).toString(36)}`;

const page = (title, body) =>
  `<!doctype html><html><head><title>${title}</title></head><body><h1>${title}</h1>${body}</body></html>\n`;
const OWNERS = page('Owners', '<ul><li>George Franklin</li><li>Betty Davis</li><li>Eduardo Rodriquez</li></ul>');
const VETS = page('Vets', '<ul><li>James Carter</li><li>Helen Leary</li></ul>');

function sidOf(req) {
  const c = req.headers.cookie;
  if (c === undefined) return null;
  for (const part of c.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === 'SID') return part.slice(eq + 1).trim();
  }
  return null;
}

function send(res, status, headers, body) {
  res.writeHead(status, headers);
  res.end(body);
}

function handle(req, res, path) {
  if (path === '/') return send(res, 200, { 'content-type': 'text/plain', 'content-length': 12 }, HELLO);

  if (path === '/login' && req.method === 'GET') {
    const t = token();
    csrfTokens.add(t);
    const html = page(
      'Login',
      `<form method="post" action="/login"><input type="hidden" name="_csrf" value="${t}">` +
        '<input name="username"><input type="password" name="password"><button>Sign in</button></form>',
    );
    return send(res, 200, { 'content-type': 'text/html; charset=utf-8' }, html);
  }

  if (path === '/login' && req.method === 'POST') {
    let body = '';
    req.setEncoding('latin1');
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      const f = new URLSearchParams(body);
      const user = f.get('username') ?? '';
      const ok = csrfTokens.delete(f.get('_csrf') ?? '') && /^user\d+$/.test(user) && f.get('password') === `pass${user.slice(4)}`;
      if (!ok) return send(res, 403, { 'content-type': 'text/plain' }, 'bad login\n');
      const sid = token();
      sessions.set(sid, user);
      send(res, 302, { location: '/home', 'set-cookie': `SID=${sid}; Path=/; HttpOnly`, 'content-length': 0 }, '');
    });
    return undefined;
  }

  if (path === '/logout') {
    const sid = sidOf(req);
    if (sid !== null) sessions.delete(sid);
    return send(res, 302, { location: '/login', 'content-length': 0 }, '');
  }

  if (path === '/home' || path === '/owners' || path === '/vets') {
    const sid = sidOf(req);
    const user = sid === null ? undefined : sessions.get(sid);
    if (user === undefined) return send(res, 302, { location: '/login', 'content-length': 0 }, '');
    const html = path === '/home' ? page('Home', `<p>Welcome, ${user}</p>`) : path === '/owners' ? OWNERS : VETS;
    return send(res, 200, { 'content-type': 'text/html; charset=utf-8' }, html);
  }

  return send(res, 404, { 'content-type': 'text/plain' }, 'not found\n');
}

const server = createServer({ keepAliveTimeout: 120_000, requestTimeout: 0, headersTimeout: 60_000 }, (req, res) => {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  let delay = DELAY_MS;
  if (q >= 0) {
    const d = new URLSearchParams(url.slice(q + 1)).get('delay');
    if (d !== null) delay = Number(d) || 0;
  }
  if (delay > 0) setTimeout(handle, delay, req, res, path);
  else handle(req, res, path);
});
server.maxHeadersCount = 64;
server.keepAliveTimeout = 120_000;

// A large backlog: the 10,000-VU case opens all its connections at once.
server.listen({ port: Number(process.argv[2] ?? 0), host: process.env.TARGET_HOST ?? '127.0.0.1', backlog: 65535 }, () => {
  process.stdout.write(`${JSON.stringify({ port: server.address().port, pid: process.pid })}\n`);
});

const stop = () => {
  server.closeAllConnections?.();
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 500).unref();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.stdin.on('end', stop);
process.stdin.on('error', stop);
process.stdin.resume();
