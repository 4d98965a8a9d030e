/**
 * What the machine allows the generator: open files (each connection is one) and local ports (each
 * connection to one address:port takes one). Checked before a run, so that a run that cannot fit says
 * how to make it fit instead of failing with EMFILE halfway. Read from Linux's /proc; elsewhere unknown.
 */
import { readFileSync } from 'node:fs';

/** File descriptors Node and the tool use besides connections (stdio, epoll, workers, files). */
const RESERVED_FDS = 32;

/** The open-files limits of this process, or null where they cannot be read. */
export function openFileLimits(): { soft: number; hard: number } | null {
  try {
    const m = /^Max open files\s+(\d+|unlimited)\s+(\d+|unlimited)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    if (!m) return null;
    const n = (s: string): number => (s === 'unlimited' ? Number.POSITIVE_INFINITY : Number(s));
    return { soft: n(m[1]!), hard: n(m[2]!) };
  } catch {
    return null;
  }
}

/** How many local ports one destination can use (net.ipv4.ip_local_port_range), or null. */
export function localPortCount(): number | null {
  try {
    const [lo, hi] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    return lo !== undefined && hi !== undefined && hi >= lo ? hi - lo + 1 : null;
  } catch {
    return null;
  }
}

const fmt = (n: number): string => n.toLocaleString('en-US');

/** Why `connections` open at once cannot fit on this machine, with how to fix it; or null. */
export function connectionLimitProblem(connections: number): string | null {
  const files = openFileLimits();
  const needed = connections + RESERVED_FDS;
  // Node raises its soft limit to the hard one at start-up, so what is read here is what can be had.
  if (files !== null && needed > files.soft) {
    return (
      `${fmt(connections)} connections need about ${fmt(needed)} open files, but this process may open ${fmt(files.soft)} ` +
      `(ulimit -n; the hard limit is ${fmt(files.hard)}). Raise it before the run (as root: ulimit -n ${needed}; for a ` +
      `service LimitNOFILE=${needed}; in a container --ulimit nofile=${needed}), or split the users over several session-bench processes`
    );
  }
  const ports = localPortCount();
  if (ports !== null && connections > ports) {
    return `${fmt(connections)} connections to one address need as many local ports, but net.ipv4.ip_local_port_range gives ${fmt(ports)}; widen it (sysctl -w net.ipv4.ip_local_port_range="1024 65535") or split the users over several processes`;
  }
  return null;
}

/** The most connections this process can hold at once (open files and local ports), or null when unknown. */
export function maxConnections(): number | null {
  const files = openFileLimits();
  const ports = localPortCount();
  const byFiles = files === null ? Number.POSITIVE_INFINITY : files.soft - RESERVED_FDS;
  const n = Math.min(byFiles, ports ?? Number.POSITIVE_INFINITY);
  return Number.isFinite(n) ? Math.max(1, n) : null;
}
