/**
 * Entry point of one lab replica, run as its own OS process so its memory (and its in-memory sessions)
 * is really not shared and really lost on restart. Configured through env by the lab; talks to the lab
 * over the fork IPC channel: sends `{type:'ready', port}` or `{type:'error', message}`, obeys
 * `{type:'shutdown'}`. Log lines go to stdout, batched, and only when `LAB_LOG=1`.
 */
import http from 'node:http';
import { createReplicaApp } from './replica-app.js';
import { REPLICA_ENV, type LabToReplica, type ReplicaToLab } from './protocol.js';
import { MemorySessionStore, RedisSessionStore, type SessionStore } from './session-store.js';

function send(msg: ReplicaToLab): void {
  if (process.send) process.send(msg);
  else if (msg.type === 'ready') process.stdout.write(`LAB_READY ${msg.port}\n`);
  else process.stderr.write(`${msg.message}\n`);
}

/** Batches log lines into one stdout write per event-loop turn: under load, one syscall per line is too many. */
function batchedLogger(): (line: string) => void {
  let pending: string[] = [];
  const flush = (): void => {
    const lines = pending;
    pending = [];
    process.stdout.write(lines.join('\n') + '\n');
  };
  return (line) => {
    if (pending.push(line) === 1) setImmediate(flush);
  };
}

async function main(): Promise<void> {
  const env = process.env;
  const name = env[REPLICA_ENV.name] ?? 'replica-?';
  const secret = env[REPLICA_ENV.secret];
  if (!secret) throw new Error(`${REPLICA_ENV.secret} is not set`);
  const ttl = Number(env[REPLICA_ENV.ttl] ?? 1800);
  const delayMs = Number(env[REPLICA_ENV.delayMs] ?? 0);
  const threads = Number(env[REPLICA_ENV.threads] ?? 0);
  const log = env[REPLICA_ENV.log] === '1' ? batchedLogger() : undefined;

  let store: SessionStore;
  if (env[REPLICA_ENV.store] === 'redis') {
    const url = env[REPLICA_ENV.redisUrl];
    if (!url) throw new Error(`${REPLICA_ENV.redisUrl} is not set`);
    try {
      store = await RedisSessionStore.connect(url, ttl, (e) => log?.(`${name} ERROR Redis: ${e.message}`));
    } catch (e) {
      throw new Error(`cannot connect to Redis at ${url}: ${e instanceof Error ? e.message : String(e)}`);
    }
  } else {
    store = new MemorySessionStore(ttl);
  }

  const app = createReplicaApp({ name, store, csrfSecret: secret, delayMs, threads, ...(log ? { log } : {}) });
  const server = http.createServer(app.handle);
  // Longer than the balancer could keep a socket idle, so the balancer never reuses a socket we just closed.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });

  let stopping = false;
  const shutdown = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    server.close();
    server.closeAllConnections();
    await store.close().catch(() => {});
    process.exit(0);
  };
  process.on('message', (m: LabToReplica) => {
    if (m?.type === 'shutdown') void shutdown();
  });
  // The lab died or closed the channel: never outlive it.
  process.on('disconnect', () => void shutdown());
  process.on('SIGTERM', () => void shutdown());

  const addr = server.address();
  send({ type: 'ready', port: typeof addr === 'object' && addr ? addr.port : 0 });
  if (log) log(`${name} INFO  Started on port ${typeof addr === 'object' && addr ? addr.port : '?'} (pid ${process.pid})`);
}

main().catch((e: unknown) => {
  const message = e instanceof Error ? e.message : String(e);
  // Exit only once the IPC message is flushed, or the lab would see a bare exit code.
  if (process.send) process.send({ type: 'error', message } satisfies ReplicaToLab, () => process.exit(1));
  else {
    process.stderr.write(`${message}\n`);
    process.exit(1);
  }
});
