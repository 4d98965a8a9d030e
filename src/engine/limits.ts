/**
 * What the machine allows the generator: open files (each connection is one) and local ports (each
 * connection to one address:port takes one). Checked before a run, so that a run that cannot fit says
 * how to make it fit instead of failing with EMFILE halfway. Read from Linux's /proc; elsewhere unknown.
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { networkInterfaces } from 'node:os';

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
export function connectionLimitProblem(connections: number, sourceAddresses = 1): string | null {
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
  const perAddress = localPortCount();
  const ports = perAddress === null ? null : perAddress * sourceAddresses;
  if (ports !== null && connections > ports) {
    return (
      `${fmt(connections)} connections to one address need as many local ports, but net.ipv4.ip_local_port_range gives ${fmt(perAddress!)}` +
      `${sourceAddresses > 1 ? ` per source address (${fmt(ports)} over ${sourceAddresses})` : ''}; widen it (sysctl -w net.ipv4.ip_local_port_range="1024 65535"), ` +
      'spread the connections over more local addresses (--source-addresses 127.0.0.1-127.0.0.8), or split the users over several processes'
    );
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

/** Most source addresses a range may expand to (a typo must not make a list of millions). */
const MAX_SOURCE_ADDRESSES = 4096;

const ipv4ToInt = (a: string): number => a.split('.').reduce((n, o) => n * 256 + Number(o), 0);
const intToIpv4 = (n: number): string => [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');

/**
 * `127.0.0.1-127.0.0.8`, `10.0.0.5-9`, `10.0.0.5,10.0.0.6`, `::1`: the local addresses to connect from, in
 * order, or why not. Each must be an address of this machine (a loopback address of 127.0.0.0/8 always is),
 * since a connection cannot come from an address the machine does not have.
 */
export function parseSourceAddresses(text: string, machine: readonly string[] = machineAddresses()): string[] | string {
  const out: string[] = [];
  for (const part of text.split(',').map((p) => p.trim()).filter((p) => p !== '')) {
    const range = /^(\d+\.\d+\.\d+\.\d+)-(\d+(?:\.\d+\.\d+\.\d+)?)$/.exec(part);
    if (range) {
      const first = range[1]!;
      const last = range[2]!.includes('.') ? range[2]! : `${first.split('.').slice(0, 3).join('.')}.${range[2]}`;
      if (isIP(first) !== 4 || isIP(last) !== 4) return `"${part}" is not a range of IPv4 addresses`;
      const a = ipv4ToInt(first);
      const b = ipv4ToInt(last);
      if (b < a) return `"${part}" ends before it starts`;
      if (b - a + 1 + out.length > MAX_SOURCE_ADDRESSES) return `"${part}" has more than ${MAX_SOURCE_ADDRESSES} addresses`;
      for (let n = a; n <= b; n++) out.push(intToIpv4(n));
    } else if (isIP(part) !== 0) out.push(part);
    else return `"${part}" is not an IP address or a range such as 127.0.0.1-127.0.0.8`;
  }
  if (out.length === 0) return 'no address given';
  const mine = new Set(machine);
  const foreign = out.filter((a) => !mine.has(a) && !(isIP(a) === 4 && a.startsWith('127.')));
  if (foreign.length > 0) {
    return `${foreign.slice(0, 3).join(', ')}${foreign.length > 3 ? ` and ${foreign.length - 3} more` : ''} ${foreign.length === 1 ? 'is not an address' : 'are not addresses'} of this machine (it has ${[...mine].join(', ')}); add ${foreign.length === 1 ? 'it' : 'them'} to an interface first (ip addr add ADDR/32 dev lo)`;
  }
  return [...new Set(out)];
}

function machineAddresses(): string[] {
  return Object.values(networkInterfaces()).flatMap((list) => (list ?? []).map((i) => i.address.replace(/%.*$/, '')));
}
