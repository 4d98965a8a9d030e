/**
 * Finds a Redis for the lab's `redis` store: a URL the user gave, `REDIS_URL`, or a throwaway
 * `redis-server` started from PATH (no persistence, loopback only) and stopped again by `close()`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { ErrorCode, UsageError } from '../common/errors.js';

/** A Redis the lab can use; `close()` stops it only if the lab started it. */
export interface RedisHandle {
  /** `redis://` URL replicas connect to. */
  readonly url: string;
  /** True when this handle spawned `redis-server` (and `close()` will stop it). */
  readonly started: boolean;
  /** Stops the `redis-server` this handle started; a no-op for a URL that was given. Idempotent. */
  close(): Promise<void>;
}

/** Where to look for Redis; every field is optional. */
export interface ResolveRedisOptions {
  /** Used as is when set (like `--redis-url`). */
  redisUrl?: string;
  /** Environment to read `REDIS_URL` and `PATH` from; defaults to `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** How long a spawned `redis-server` may take to answer PING; default 10 s. */
  startTimeoutMs?: number;
}

/** The message of the UsageError (code ErrorCode.redisNotFound) when no Redis can be found. */
const NO_REDIS_MESSAGE =
  'The redis store needs Redis, but no redis-server was found on PATH. ' +
  'Install one (e.g. `apt-get install redis-server`), or point to a running Redis with --redis-url or REDIS_URL.';

/**
 * Resolves Redis in this order: `options.redisUrl`, `REDIS_URL`, else spawns
 * `redis-server --port <free> --save '' --appendonly no --bind 127.0.0.1` from PATH and waits until it
 * answers PING.
 * @throws UsageError when no URL is given and no `redis-server` is on PATH.
 */
export async function resolveRedis(options: ResolveRedisOptions = {}): Promise<RedisHandle> {
  const env = options.env ?? process.env;
  const given = options.redisUrl ?? (env['REDIS_URL'] || undefined);
  if (given) return { url: given, started: false, close: async () => {} };
  const bin = findOnPath('redis-server', env['PATH']);
  if (!bin) throw new UsageError(NO_REDIS_MESSAGE, undefined, ErrorCode.redisNotFound);
  return startRedisServer(bin, options.startTimeoutMs ?? 10_000);
}

/** Returns the absolute path of an executable found on `pathVar`, or undefined. */
export function findOnPath(name: string, pathVar: string | undefined = process.env['PATH']): string | undefined {
  for (const dir of (pathVar ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here; keep looking
    }
  }
  return undefined;
}

/** Asks the OS for a free loopback port. Another process may take it before we use it; callers retry. */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

/** Sends one inline PING over a raw socket; resolves true on `+PONG`. Avoids a client for a health probe. */
export function pingRedis(port: number, host = '127.0.0.1', timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ port, host });
    let buf = '';
    const done = (ok: boolean): void => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(timeoutMs, () => done(false));
    sock.once('error', () => done(false));
    sock.once('connect', () => sock.write('PING\r\n'));
    sock.on('data', (d) => {
      buf += d.toString('latin1');
      if (buf.includes('\r\n')) done(buf.startsWith('+PONG'));
    });
  });
}

async function startRedisServer(bin: string, timeoutMs: number): Promise<RedisHandle> {
  let lastError = '';
  // A free port can be taken between probing and binding; a few attempts make that race harmless.
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const child = spawnWithWatchdog(bin, ['--port', String(port), '--save', '', '--appendonly', 'no', '--bind', '127.0.0.1']);
    let output = '';
    const keep = (d: Buffer): void => {
      output = (output + d.toString()).slice(-2000);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    let exited = false;
    const exitedP = new Promise<void>((r) => {
      child.once('exit', () => {
        exited = true;
        r();
      });
      // A spawn failure may emit 'error' without 'exit'.
      child.once('error', (e) => {
        exited = true;
        output += String(e);
        r();
      });
    });

    const deadline = Date.now() + timeoutMs;
    while (!exited && Date.now() < deadline) {
      if (await pingRedis(port)) {
        // Output is only needed for start-up errors; stop buffering it.
        child.stdout?.removeListener('data', keep).resume();
        child.stderr?.removeListener('data', keep).resume();
        return { url: `redis://127.0.0.1:${port}`, started: true, close: () => stopChild(child, exitedP) };
      }
      await sleep(50);
    }
    await stopChild(child, exitedP);
    lastError = exited ? `redis-server exited: ${output.trim()}` : `redis-server did not answer PING within ${timeoutMs} ms`;
  }
  throw new Error(`Could not start ${bin}: ${lastError}`);
}

/**
 * Spawns `bin` so it cannot outlive us: in its own process group (stopped as a group), under a shell that
 * kills it when our end of its stdin closes, which also happens when this process dies without cleanup
 * (a crash, or `kill <pid>` that skips `close()`). Terminal Ctrl-C is not needed for that.
 */
function spawnWithWatchdog(bin: string, args: string[]): ChildProcess {
  if (process.platform === 'win32') return spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  // Background jobs get stdin from /dev/null in a non-interactive shell, so the watchdog reads a dup (fd 3).
  // The shell waits for both children, so none is left as a zombie once it exits.
  const script = [
    'exec 3<&0',
    '"$0" "$@" 3<&- & pid=$!',
    '(read _ignored <&3; kill $pid 2>/dev/null) & wd=$!',
    'wait $pid; st=$?',
    'kill $wd 2>/dev/null; wait $wd 2>/dev/null',
    'exit $st',
  ].join('\n');
  return spawn('/bin/sh', ['-c', script, bin, ...args], { stdio: ['pipe', 'pipe', 'pipe'], detached: true });
}

function signal(child: ChildProcess, sig: NodeJS.Signals): void {
  try {
    // Negative pid: the whole group (shell, redis-server, watchdog).
    if (process.platform !== 'win32' && child.pid !== undefined) process.kill(-child.pid, sig);
    else child.kill(sig);
  } catch {
    // already gone
  }
}

/** Closing stdin makes the watchdog stop redis-server (SIGTERM) and the shell exit; SIGKILL is the fallback. */
async function stopChild(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return exited;
  if (child.stdin) child.stdin.end();
  else signal(child, 'SIGTERM');
  const timer = setTimeout(() => signal(child, 'SIGKILL'), 3000);
  await exited;
  clearTimeout(timer);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
