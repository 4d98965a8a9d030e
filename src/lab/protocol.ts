/**
 * What the lab and a replica process agree on: the environment a replica is configured with and the IPC
 * messages they exchange. Kept apart from `replica-process.ts`, which starts a server when imported.
 */

/** Messages a replica process sends to the lab. */
export type ReplicaToLab = { type: 'ready'; port: number } | { type: 'error'; message: string };
/** Messages the lab sends to a replica process. */
export type LabToReplica = { type: 'shutdown' };

/** Environment variables the lab sets for a replica. */
export const REPLICA_ENV = {
  name: 'LAB_REPLICA_NAME',
  secret: 'LAB_CSRF_SECRET',
  store: 'LAB_STORE',
  redisUrl: 'LAB_REDIS_URL',
  delayMs: 'LAB_DELAY_MS',
  threads: 'LAB_THREADS',
  ttl: 'LAB_SESSION_TTL',
  log: 'LAB_LOG',
} as const;
