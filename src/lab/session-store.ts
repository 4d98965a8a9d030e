/**
 * Session stores for a lab replica: an in-process Map (Tomcat's default, lost with the process) or Redis
 * (Spring Session's fix, shared by every replica). Both use an absolute TTL from creation, which is enough
 * for the lab: runs are far shorter than the TTL.
 */

/** What a session holds; stored as JSON in Redis. */
export interface SessionData {
  username: string;
  /** Epoch milliseconds. */
  createdAt: number;
}

/** Minimal session store used by the replica app. */
export interface SessionStore {
  get(id: string): Promise<SessionData | undefined>;
  set(id: string, data: SessionData): Promise<void>;
  delete(id: string): Promise<void>;
  close(): Promise<void>;
}

/** In-memory store: a Map with expiry, swept periodically so a long run does not grow without bound. */
export class MemorySessionStore implements SessionStore {
  readonly #ttlMs: number;
  readonly #map = new Map<string, { data: SessionData; expiresAt: number }>();
  readonly #sweeper: NodeJS.Timeout;

  constructor(ttlSeconds: number) {
    this.#ttlMs = ttlSeconds * 1000;
    this.#sweeper = setInterval(() => this.#sweep(), Math.min(60_000, this.#ttlMs)).unref();
  }

  async get(id: string): Promise<SessionData | undefined> {
    const entry = this.#map.get(id);
    if (!entry) return undefined;
    if (entry.expiresAt <= Date.now()) {
      this.#map.delete(id);
      return undefined;
    }
    return entry.data;
  }

  async set(id: string, data: SessionData): Promise<void> {
    this.#map.set(id, { data, expiresAt: Date.now() + this.#ttlMs });
  }

  async delete(id: string): Promise<void> {
    this.#map.delete(id);
  }

  async close(): Promise<void> {
    clearInterval(this.#sweeper);
    this.#map.clear();
  }

  /** Number of live entries (including not yet swept expired ones). */
  get size(): number {
    return this.#map.size;
  }

  #sweep(): void {
    const now = Date.now();
    for (const [id, e] of this.#map) if (e.expiresAt <= now) this.#map.delete(id);
  }
}

/** Key prefix for sessions in Redis. */
export const REDIS_KEY_PREFIX = 'lab:sess:';

/** The few client calls the store uses; node-redis' generic client type is too intricate to pass around. */
interface MiniRedis {
  get(key: string): Promise<string | null>;
  set(key: string, value: string, options: { expiration: { type: 'EX'; value: number } }): Promise<unknown>;
  del(key: string): Promise<unknown>;
  close(): Promise<void>;
  destroy(): void;
}

/** Redis store: `lab:sess:<id>` -> JSON, `EX ttl`. */
export class RedisSessionStore implements SessionStore {
  readonly #client: MiniRedis;
  readonly #ttl: number;

  private constructor(client: MiniRedis, ttlSeconds: number) {
    this.#client = client;
    this.#ttl = ttlSeconds;
  }

  /**
   * Connects to `url`. Gives up after a few attempts at start-up (so a wrong URL fails fast and clearly),
   * but once connected keeps reconnecting forever, like an app would while Redis blips.
   */
  static async connect(url: string, ttlSeconds: number, onError?: (e: Error) => void): Promise<RedisSessionStore> {
    let connected = false;
    // Loaded lazily: the client costs ~200 ms of start-up that memory-store replicas need not pay.
    const { createClient } = await import('redis');
    const client = createClient({
      url,
      // Fail requests fast while Redis is down instead of queueing them unboundedly under load.
      disableOfflineQueue: true,
      socket: {
        connectTimeout: 3000,
        reconnectStrategy: (retries, cause) =>
          !connected && retries >= 5 ? cause : Math.min(50 * 2 ** retries, 1000),
      },
    });
    // Without a listener an 'error' event would crash the replica.
    client.on('error', (e: Error) => onError?.(e));
    await client.connect();
    connected = true;
    return new RedisSessionStore(client, ttlSeconds);
  }

  async get(id: string): Promise<SessionData | undefined> {
    const raw = await this.#client.get(REDIS_KEY_PREFIX + id);
    if (raw === null) return undefined;
    try {
      const v = JSON.parse(raw) as Partial<SessionData>;
      return typeof v.username === 'string' ? { username: v.username, createdAt: Number(v.createdAt) } : undefined;
    } catch {
      return undefined;
    }
  }

  async set(id: string, data: SessionData): Promise<void> {
    await this.#client.set(REDIS_KEY_PREFIX + id, JSON.stringify(data), { expiration: { type: 'EX', value: this.#ttl } });
  }

  async delete(id: string): Promise<void> {
    await this.#client.del(REDIS_KEY_PREFIX + id);
  }

  async close(): Promise<void> {
    try {
      await this.#client.close();
    } catch {
      this.#client.destroy();
    }
  }
}
