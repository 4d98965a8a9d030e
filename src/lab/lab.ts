/**
 * The lab: a local fleet that reproduces the story. N replica processes of a petclinic-like app (sessions
 * in memory or Redis) behind a round-robin or sticky balancer, with pod-like restarts and autoscaler-like
 * scaling, and exact per-replica counts of requests and session misses.
 */
import { randomBytes } from 'node:crypto';
import { UsageError } from '../common/errors.js';
import { Balancer, createBackendAgent, replicaNumber, type Backend, type BalancerMode } from './balancer.js';
import { resolveRedis, type RedisHandle } from './redis.js';
import { locateReplicaEntry, startReplica, stopReplica, type ReplicaProcess } from './replica-launcher.js';

export type { BalancerMode } from './balancer.js';
export { resolveRedis, type RedisHandle, type ResolveRedisOptions } from './redis.js';

/** Where sessions live: each replica's memory (lost on restart, not shared) or a shared Redis. */
export type StoreKind = 'memory' | 'redis';

/** How to start a lab. */
export interface LabOptions {
  /** Number of replicas, >= 1 (named replica-1..replica-N). */
  replicas: number;
  balancer: BalancerMode;
  store: StoreKind;
  /** For store `redis`; else env `REDIS_URL`; else a `redis-server` from PATH on a free port (stopped by `close()`). */
  redisUrl?: string;
  /** Balancer port; default 0 (a free port). */
  port?: number;
  /** Balancer host; default `127.0.0.1`. */
  host?: string;
  /** Added server time per request on replicas; default 0. */
  delayMs?: number;
  /**
   * Requests each replica processes at once, like Tomcat's `maxThreads`; the others wait in a FIFO queue
   * inside the replica, and the delay is spent while holding a thread. Default 0 = unlimited.
   */
  threads?: number;
  /** Session lifetime; default 1800. */
  sessionTtlSeconds?: number;
  /** Receives replica log lines (`replica-2 WARN  Session not found ...`); default: discarded (and never built). */
  log?: (line: string) => void;
  /** Also log one line per proxied request to `log` (`replica-2 GET /owners 200 1.2ms`). */
  logRequests?: boolean;
}

/** Counts for one replica name. */
export interface ReplicaStats {
  name: string;
  /** Currently receiving traffic. */
  up: boolean;
  /** Responses the balancer proxied from this replica. */
  requests: number;
  /** Of those, responses to a protected route whose session was not found. */
  sessionMisses: number;
}

/** Cumulative lab counts, since start or the last `resetStats()`. */
export interface LabStats {
  replicas: ReplicaStats[];
  totals: { requests: number; sessionMisses: number };
  balancer: BalancerMode;
  store: StoreKind;
}

/** A running lab. */
export interface Lab {
  /** Balancer URL, e.g. `http://127.0.0.1:PORT`. */
  readonly url: string;
  /** Options with defaults applied (and `redisUrl` resolved for the redis store). */
  readonly options: Readonly<LabOptions>;
  /** Cumulative counts, including replicas that were restarted or scaled away. */
  stats(): LabStats;
  /** Zeroes the counts and forgets replicas that no longer exist. */
  resetStats(): void;
  /** Restarts replica `i` (1-based) like a pod restart: drain (<= 2 s), SIGKILL, start again, route again. */
  restart(i: number): Promise<void>;
  /** Scales to `n` replicas like an autoscaler: down removes the highest-numbered, up adds replica-(k+1)..n. */
  scale(n: number): Promise<void>;
  /** Stops the balancer, every replica, and a `redis-server` the lab started. Idempotent. */
  close(): Promise<void>;
}

/** Upper bound on replicas, so a typo (`--replicas 1000`) cannot fork-bomb a laptop. */
export const MAX_REPLICAS = 32;
const DRAIN_MS = 2000;

/** Starts a lab and resolves once every replica is ready and the balancer listens. */
export async function startLab(options: LabOptions): Promise<Lab> {
  const opts = validate(options);
  const entry = locateReplicaEntry();
  let redis: RedisHandle | undefined;
  if (opts.store === 'redis') {
    redis = await resolveRedis(opts.redisUrl !== undefined ? { redisUrl: opts.redisUrl } : {});
    opts.redisUrl = redis.url;
  }
  const lab = new LabImpl(opts, entry, redis);
  try {
    await lab.start();
  } catch (e) {
    await lab.close();
    throw e;
  }
  return lab;
}

function validate(o: LabOptions): LabOptions {
  const intIn = (v: unknown, min: number, max: number): boolean => Number.isInteger(v) && (v as number) >= min && (v as number) <= max;
  if (!intIn(o.replicas, 1, MAX_REPLICAS)) throw new UsageError(`replicas must be an integer from 1 to ${MAX_REPLICAS}, got ${o.replicas}.`);
  if (o.balancer !== 'round-robin' && o.balancer !== 'sticky') throw new UsageError(`balancer must be 'round-robin' or 'sticky', got '${o.balancer}'.`);
  if (o.store !== 'memory' && o.store !== 'redis') throw new UsageError(`store must be 'memory' or 'redis', got '${o.store}'.`);
  const port = o.port ?? 0;
  if (!intIn(port, 0, 65535)) throw new UsageError(`port must be an integer from 0 to 65535, got ${o.port}.`);
  const delayMs = o.delayMs ?? 0;
  if (!(Number.isFinite(delayMs) && delayMs >= 0)) throw new UsageError(`delayMs must be >= 0, got ${o.delayMs}.`);
  const threads = o.threads ?? 0;
  if (!intIn(threads, 0, 100_000)) throw new UsageError(`threads must be an integer from 0 (unlimited) to 100000, got ${o.threads}.`);
  const ttl = o.sessionTtlSeconds ?? 1800;
  if (!intIn(ttl, 1, 365 * 86400)) throw new UsageError(`sessionTtlSeconds must be a positive integer, got ${o.sessionTtlSeconds}.`);
  return { ...o, port, host: o.host ?? '127.0.0.1', delayMs, threads, sessionTtlSeconds: ttl };
}

class LabImpl implements Lab {
  readonly options: Readonly<LabOptions>;
  #url = '';
  readonly #entry: string;
  readonly #redis: RedisHandle | undefined;
  readonly #secret = randomBytes(32).toString('base64url');
  readonly #balancer: Balancer;
  readonly #procs = new Map<string, ReplicaProcess>();
  /** Restart/scale/close run one at a time, so they never race over the same replica. */
  #queue: Promise<unknown> = Promise.resolve();
  #closing: Promise<void> | undefined;

  constructor(options: LabOptions, entry: string, redis: RedisHandle | undefined) {
    this.options = Object.freeze({ ...options });
    this.#entry = entry;
    this.#redis = redis;
    this.#balancer = new Balancer(options.balancer, {
      restart: (i) => this.restart(i),
      scale: (n) => this.scale(n),
      stats: () => this.stats(),
      resetStats: () => this.resetStats(),
    });
    const log = options.log;
    if (options.logRequests && log) {
      this.#balancer.onAnswer = (backend, method, url, status, ms) => log(`${backend} INFO  ${method} ${url} ${status} ${ms.toFixed(1)}ms`);
    }
  }

  get url(): string {
    return this.#url;
  }

  async start(): Promise<void> {
    const names = Array.from({ length: this.options.replicas }, (_, k) => `replica-${k + 1}`);
    await this.#spawnAll(names);
    const host = this.options.host!;
    const port = await this.#balancer.listen(this.options.port!, host);
    const shown = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
    this.#url = `http://${shown}:${port}`;
  }

  stats(): LabStats {
    const up = new Set(this.#balancer.backends.filter((b) => b.routable).map((b) => b.name));
    const replicas: ReplicaStats[] = [];
    let requests = 0;
    let sessionMisses = 0;
    for (const [name, c] of this.#balancer.allCounts()) {
      replicas.push({ name, up: up.has(name), requests: c.requests, sessionMisses: c.sessionMisses });
      requests += c.requests;
      sessionMisses += c.sessionMisses;
    }
    replicas.sort((a, b) => replicaNumber(a.name) - replicaNumber(b.name));
    return { replicas, totals: { requests, sessionMisses }, balancer: this.options.balancer, store: this.options.store };
  }

  resetStats(): void {
    this.#balancer.resetCounts();
  }

  async restart(i: number): Promise<void> {
    this.#checkIndex(i);
    return this.#serial(async () => {
      this.#checkIndex(i);
      const b = this.#balancer.backends[i - 1]!;
      this.options.log?.(`lab       INFO  Restarting ${b.name}: draining it, then killing it (its memory sessions are lost)`);
      await this.#balancer.drain(b, DRAIN_MS);
      const old = this.#procs.get(b.name);
      if (old) await stopReplica(old, 'kill');
      // Requests still holding the old agent have already failed (502); a fresh agent holds no dead sockets.
      b.agent.destroy();
      const p = await this.#spawn(b.name);
      b.port = p.port;
      b.agent = createBackendAgent();
      b.routable = true;
    });
  }

  async scale(n: number): Promise<void> {
    if (this.#closing) throw new Error('The lab is closed.');
    if (!Number.isInteger(n) || n < 1 || n > MAX_REPLICAS) throw new UsageError(`replica count must be an integer from 1 to ${MAX_REPLICAS}, got ${n}.`);
    return this.#serial(async () => {
      const backends = this.#balancer.backends;
      if (n !== backends.length) this.options.log?.(`lab       INFO  Scaling from ${backends.length} to ${n} replica${n === 1 ? '' : 's'}`);
      if (n < backends.length) {
        const gone = backends.slice(n);
        await Promise.all(
          gone.map(async (b) => {
            await this.#balancer.drain(b, DRAIN_MS);
            const p = this.#procs.get(b.name);
            // Scale-down is a SIGTERM'd pod: graceful, but its memory goes with it.
            if (p) await stopReplica(p, 'graceful');
            this.#procs.delete(b.name);
            this.#balancer.removeBackend(b);
          }),
        );
      } else if (n > backends.length) {
        const last = backends.length === 0 ? 0 : replicaNumber(backends[backends.length - 1]!.name);
        await this.#spawnAll(Array.from({ length: n - backends.length }, (_, k) => `replica-${last + k + 1}`));
      }
    });
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      // Let a running restart/scale finish (they are bounded), then tear everything down.
      await this.#queue.catch(() => {});
      await this.#balancer.close();
      await Promise.all([...this.#procs.values()].map((p) => stopReplica(p, 'graceful')));
      this.#procs.clear();
      await this.#redis?.close();
    })();
    return this.#closing;
  }

  #checkIndex(i: number): void {
    if (this.#closing) throw new Error('The lab is closed.');
    const n = this.#balancer.backends.length;
    if (!Number.isInteger(i) || i < 1 || i > n) throw new UsageError(`replica index must be an integer from 1 to ${n}, got ${i}.`);
  }

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#closing) return Promise.reject(new Error('The lab is closed.'));
    const run = this.#queue.then(fn, fn);
    this.#queue = run.catch(() => {});
    return run;
  }

  /** Starts replicas in parallel; all or nothing, so a failed scale-up leaves no half-named fleet. */
  async #spawnAll(names: string[]): Promise<void> {
    const results = await Promise.allSettled(names.map((name) => this.#spawn(name)));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) {
      await Promise.all(
        results.map(async (r) => {
          if (r.status === 'fulfilled') {
            await stopReplica(r.value, 'kill');
            this.#procs.delete(r.value.name);
          }
        }),
      );
      throw failed.reason;
    }
    for (const r of results) if (r.status === 'fulfilled') this.#balancer.addBackend(r.value.name, r.value.port);
  }

  async #spawn(name: string): Promise<ReplicaProcess> {
    const o = this.options;
    const p = await startReplica({
      entry: this.#entry,
      name,
      csrfSecret: this.#secret,
      store: o.store,
      ...(o.redisUrl !== undefined ? { redisUrl: o.redisUrl } : {}),
      delayMs: o.delayMs!,
      threads: o.threads!,
      sessionTtlSeconds: o.sessionTtlSeconds!,
      ...(o.log ? { log: o.log } : {}),
    });
    this.#procs.set(name, p);
    p.child.once('exit', (code, signal) => {
      if (p.stopping) return;
      // A crash: stop routing there, like a failed health check; the replica stays down until restart().
      const b: Backend | undefined = this.#balancer.backends.find((x) => x.name === name);
      if (b && this.#procs.get(name) === p) b.routable = false;
      o.log?.(`${name} ERROR exited unexpectedly (${signal ?? `code ${code}`})`);
    });
    return p;
  }
}
