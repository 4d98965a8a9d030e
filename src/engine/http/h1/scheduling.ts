/**
 * What every connection of a thread shares with the event loop: one interval timer for all request
 * timeouts (a request never creates a timer) and one `setImmediate` for all the reused sockets that
 * wait for their poll turn. Module-level by design: there is one event loop per thread.
 */

/** Something with timeouts (a built-in connection, an exchange carried by undici). */
export interface TimeoutWatched {
  /** Fails what has timed out at `now` (performance.now() ms). */
  checkTimeouts(now: number): void;
}

/** A connection whose reused socket waits for its poll turn. */
export interface Validated {
  /** The socket had its poll turn (see {@link scheduleValidation}). */
  validated(): void;
}

const live = new Set<TimeoutWatched>();
let sweepTimer: NodeJS.Timeout | null = null;
let sweepEveryMs = 0;
/** Watched things that nothing else keeps the event loop alive for (see watchTimeouts). */
let holding = 0;
function sweep(): void {
  const now = performance.now();
  for (const c of live) c.checkTimeouts(now);
}

/**
 * Starts timeout checks for `c`, whose shortest timeout is `timeoutMs`. `holdLoop`: nothing else may keep
 * the event loop alive until `c` is done (a request that undici holds without a socket), so the timer does.
 */
export function watchTimeouts(c: TimeoutWatched, timeoutMs: number, holdLoop = false): void {
  live.add(c);
  if (holdLoop) holding++;
  // Checks often enough that a timeout fires within a quarter of its length (undici's own timers are
  // about as coarse for timeouts of a second or more).
  const every = Math.max(5, Math.min(250, Math.floor(timeoutMs / 4)));
  if (sweepTimer === null || every < sweepEveryMs) {
    if (sweepTimer !== null) clearInterval(sweepTimer);
    sweepEveryMs = every;
    sweepTimer = setInterval(sweep, every);
    if (holding === 0) sweepTimer.unref();
  } else if (holdLoop && holding === 1) sweepTimer.ref();
}

/** Stops timeout checks for `c` (its socket is gone); the timer goes when nothing is watched. */
export function unwatchTimeouts(c: TimeoutWatched, holdLoop = false): void {
  live.delete(c);
  if (holdLoop && --holding === 0) sweepTimer?.unref();
  if (live.size === 0 && sweepTimer !== null) {
    clearInterval(sweepTimer);
    sweepTimer = null;
  }
}

/**
 * Connections whose socket was just used: like undici, a used socket is written again only after one
 * turn of the event loop's poll phase, so that a FIN, a reset or stray bytes already received on it are
 * seen first (and the request goes on a new connection instead of failing). One setImmediate serves
 * every connection.
 */
let validating: Validated[] = [];
let validatingNext: Validated[] = [];
let validationScheduled = false;

/** Calls `c.validated()` after the next poll phase. */
export function scheduleValidation(c: Validated): void {
  validating.push(c);
  if (!validationScheduled) {
    validationScheduled = true;
    setImmediate(flushValidation);
  }
}
function flushValidation(): void {
  validationScheduled = false;
  const list = validating;
  validating = validatingNext;
  for (let i = 0; i < list.length; i++) list[i]!.validated();
  list.length = 0;
  validatingNext = list;
}
