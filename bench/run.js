#!/usr/bin/env node
/**
 * `npm run bench`: session-bench side by side with autocannon and wrk, against a local target in its own
 * process, on its own core. See bench/README.md for what each case means and how figures are measured.
 *
 *   node bench/run.js [--rounds 5] [--c-rounds 3] [--d-rounds 3] [--duration 5] [--cases a,b,c,d,e,f,g] [--vus 10000]
 *                     [--ab-requests 10000] [--rate 1000] [--c-ramp-up SECONDS] [--cases i --big-vus 100000 --big-procs 6]
 *                     [--slow-ms 1000] [--c-duration 10] [--out bench/results/latest.json]
 *                     [--sb path/to/bin/session-bench.js]
 *
 * Every generator run is measured from outside: `bash -c 'ulimit -n N; exec taskset -c 0 /usr/bin/time
 * -f ... -o FILE TOOL ...'`, so the CPU time (user+sys) and the peak RSS are those of the generator
 * process only (GNU time reads them from wait4() on that process). Without GNU time, bash's `times`
 * builtin gives the CPU and VmHWM polled from /proc gives the peak RSS. /proc is polled in both cases
 * and used as a cross-check (it can only under-read: its last sample is taken just before exit).
 */
import { spawn, spawnSync } from 'node:child_process';
import { connect as netConnect, createServer as createNetServer } from 'node:net';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
let SB = join(ROOT, 'bin/session-bench.js');
const AUTOCANNON = join(ROOT, 'node_modules/autocannon/autocannon.js');
const TARGET = join(ROOT, 'bench/target.js');
const SCENARIO = join(ROOT, 'bench/login-flow.yaml');

// ------------------------------------------------------------------------------------------------
// Options

function parseArgs(argv) {
  const o = { rounds: 5, cRounds: 3, dRounds: 3, duration: 5, cases: 'a,b,c,d,e,f,g', vus: 10_000, slowMs: 1000, cDuration: 10, out: join(ROOT, 'bench/results/latest.json'), concurrency: 50, abRequests: 10_000, abConcurrency: 100, rate: 1000, cRampUp: 0, bigVus: 100_000, bigProcs: 6, bigDelayMs: 30_000, bigDuration: 100, bigRampUp: 30, bigTimeout: 60 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--rounds') o.rounds = Number(next());
    else if (a === '--c-rounds') o.cRounds = Number(next());
    else if (a === '--d-rounds') o.dRounds = Number(next());
    else if (a === '--duration') o.duration = Number(next());
    else if (a === '--cases') o.cases = next();
    else if (a === '--vus') o.vus = Number(next());
    else if (a === '--slow-ms') o.slowMs = Number(next());
    else if (a === '--c-duration') o.cDuration = Number(next());
    else if (a === '--concurrency' || a === '-c') o.concurrency = Number(next());
    else if (a === '--ab-requests') o.abRequests = Number(next());
    else if (a === '--rate') o.rate = Number(next());
    else if (a === '--c-ramp-up') o.cRampUp = Number(next());
    else if (a === '--big-vus') o.bigVus = Number(next());
    else if (a === '--big-procs') o.bigProcs = Number(next());
    else if (a === '--big-delay-ms') o.bigDelayMs = Number(next());
    else if (a === '--big-duration') o.bigDuration = Number(next());
    else if (a === '--big-ramp-up') o.bigRampUp = Number(next());
    else if (a === '--big-timeout') o.bigTimeout = Number(next());
    else if (a === '--out') o.out = next();
    else if (a === '--sb') SB = next(); // another build of session-bench (before/after comparisons)
    else if (a === '--help' || a === '-h') {
      process.stdout.write(readFileSync(fileURLToPath(import.meta.url), 'utf8').split('*/')[0]);
      process.exit(0);
    } else throw new Error(`unknown option ${a}`);
  }
  o.cases = new Set(o.cases.split(',').map((s) => s.trim()));
  return o;
}

// ------------------------------------------------------------------------------------------------
// Environment

const has = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).status === 0;
const gnuTime = (() => {
  if (process.env.BENCH_NO_GNU_TIME === '1' || !existsSync('/usr/bin/time')) return false;
  const r = spawnSync('/usr/bin/time', ['--version'], { encoding: 'utf8' });
  return /GNU/.test(`${r.stdout}${r.stderr}`);
})();
const taskset = has('taskset') && os.cpus().length >= 2;
const wrk = process.env.BENCH_NO_WRK !== '1' && has('wrk');
const autocannon = existsSync(AUTOCANNON);
const NGINX = process.env.BENCH_NO_NGINX === '1' ? null : ['nginx', '/usr/sbin/nginx'].find((c) => (c.includes('/') ? existsSync(c) : has(c))) ?? null;
const ab = has('ab');
/** Peers with cookie jars for the login flow (case j): Artillery from npm (BENCH_ARTILLERY=path/to/bin/artillery), Locust from Debian's python3-locust. */
const ARTILLERY = process.env.BENCH_ARTILLERY && existsSync(process.env.BENCH_ARTILLERY) ? process.env.BENCH_ARTILLERY : null;
const locust = has('locust');
const PEERS = join(ROOT, 'bench/peers');
const openssl = has('openssl');

const q = (s) => `'${String(s).replace(/'/g, `'\\''`)}'`;
/** Raises the open-file limit as far as allowed (the 10,000-VU case needs 10k sockets per side). */
const ULIMIT = 'ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null; ';
const GENERATOR_CPU = '0';
const TARGET_CPU = '1';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const median = (xs) => {
  const v = xs.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const m = v.length >> 1;
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
};
const round = (x, d = 3) => (x === null || x === undefined ? null : Math.round(x * 10 ** d) / 10 ** d);

// ------------------------------------------------------------------------------------------------
// /proc helpers (Linux)

function procStat(pid) {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    const tck = 100; // USER_HZ; Linux reports 100 on every mainstream architecture
    return { cpuS: (Number(f[11]) + Number(f[12])) / tck };
  } catch {
    return null;
  }
}
function procHwmKb(pid) {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}
function childrenOf(pid) {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

// ------------------------------------------------------------------------------------------------
// Running one measured generator process

const tmp = mkdtempSync(join(os.tmpdir(), 'sb-bench-'));
let seq = 0;

/**
 * Runs `argv` pinned to the generator core with a raised fd limit and returns its stdout, stderr, exit
 * code, CPU seconds (user+sys), peak RSS (KB) and wall time, measured on that process only.
 */
async function measure(argv, { env, pinned = true } = {}) {
  const timeFile = join(tmp, `time-${++seq}.txt`);
  const pin = taskset && pinned ? `taskset -c ${GENERATOR_CPU} ` : '';
  const cmd = argv.map(q).join(' ');
  const script = gnuTime
    ? `${ULIMIT}exec ${pin}/usr/bin/time -f '%U %S %M %e' -o ${q(timeFile)} ${cmd}`
    : `${ULIMIT}${pin}${cmd}; rc=$?; times > ${q(timeFile)}; exit $rc`;
  const t0 = performance.now();
  const child = spawn('bash', ['-c', script], { cwd: ROOT, env: { ...process.env, NO_COLOR: '1', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
  // The generator is the only child of the wrapper (GNU time forks it; bash forks it in the fallback).
  let genPid = null;
  let pollHwm = null;
  let pollCpu = null;
  const poll = setInterval(() => {
    genPid ??= childrenOf(child.pid)[0] ?? null;
    if (genPid === null) return;
    const h = procHwmKb(genPid);
    const s = procStat(genPid);
    if (h !== null) pollHwm = Math.max(pollHwm ?? 0, h);
    if (s !== null) pollCpu = s.cpuS;
  }, 50);
  const code = await new Promise((resolve) => child.on('close', (c) => resolve(c ?? 1)));
  clearInterval(poll);
  const wallS = (performance.now() - t0) / 1000;
  let cpuS = null;
  let maxRssKb = pollHwm;
  const raw = existsSync(timeFile) ? readFileSync(timeFile, 'utf8') : '';
  if (gnuTime) {
    const line = raw.trim().split('\n').pop() ?? '';
    const [u, s, m] = line.split(/\s+/).map(Number);
    if (Number.isFinite(u) && Number.isFinite(s)) cpuS = u + s;
    if (Number.isFinite(m)) maxRssKb = m;
  } else {
    // `times`: line 1 = the shell, line 2 = its children: "0m1.234s 0m0.567s".
    const sec = (t) => {
      const m = /(\d+)m([\d.]+)s/.exec(t);
      return m ? Number(m[1]) * 60 + Number(m[2]) : NaN;
    };
    const [u, s] = (raw.trim().split('\n')[1] ?? '').split(/\s+/).map(sec);
    if (Number.isFinite(u) && Number.isFinite(s)) cpuS = u + s;
  }
  return { code, stdout, stderr, cpuS, maxRssKb, wallS, check: { procCpuS: pollCpu, procHwmKb: pollHwm } };
}

// ------------------------------------------------------------------------------------------------
// Targets

async function startTarget(env, { pinned = true } = {}) {
  const pin = taskset && pinned ? `taskset -c ${TARGET_CPU} ` : '';
  const child = spawn('bash', ['-c', `${ULIMIT}exec ${pin}node ${q(TARGET)} 0`], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'inherit'] });
  const info = await new Promise((resolve, reject) => {
    let buf = '';
    child.stdout.setEncoding('utf8').on('data', (d) => {
      buf += d;
      const nl = buf.indexOf('\n');
      if (nl >= 0) resolve(JSON.parse(buf.slice(0, nl)));
    });
    child.on('exit', (c) => reject(new Error(`target exited with ${c}`)));
  });
  return {
    url: `http://${env.TARGET_HOST ?? '127.0.0.1'}:${info.port}`,
    pid: info.pid,
    cpuS: () => procStat(info.pid)?.cpuS ?? null,
    stop: async () => {
      child.stdin.end();
      child.kill('SIGTERM');
      await new Promise((r) => (child.exitCode !== null ? r() : child.on('exit', r)));
    },
  };
}

/**
 * Case (d)'s target: nginx answering `GET /` with the same 12-byte body from its config (one process,
 * `master_process off`, so the process started is the one that serves and is measured). It costs a few
 * µs per request, so the generator, not the target, sets the pace.
 */
async function startNginx({ tls = false, proxyTo = null } = {}) {
  const port = await new Promise((resolve, reject) => {
    const srv = createNetServer().listen(0, '127.0.0.1', () => {
      const p = srv.address().port;
      srv.close(() => resolve(p));
    });
    srv.on('error', reject);
  });
  const dir = join(tmp, `nginx-${++seq}`);
  mkdirSync(join(dir, 'logs'), { recursive: true });
  const conf = join(dir, 'nginx.conf');
  writeFileSync(
    conf,
    [
      'daemon off;',
      'master_process off;',
      'worker_processes 1;',
      `pid ${dir}/nginx.pid;`,
      `error_log ${dir}/logs/error.log warn;`,
      'events { worker_connections 4096; }',
      'http {',
      '  access_log off;',
      // nginx closes a keep-alive connection after 1000 requests by default; the node target never does.
      '  keepalive_requests 1000000000;',
      '  keepalive_timeout 60s;',
      `  client_body_temp_path ${dir}/tmp; proxy_temp_path ${dir}/tmp; fastcgi_temp_path ${dir}/tmp; uwsgi_temp_path ${dir}/tmp; scgi_temp_path ${dir}/tmp;`,
      ...(proxyTo ? [`  upstream app { server ${proxyTo.replace(/^http:\/\//, '')}; keepalive 64; }`] : []),
      `  server { listen 127.0.0.1:${port}${tls ? ' ssl' : ''};`,
      ...(tls ? [`    ssl_certificate ${tlsFiles().cert}; ssl_certificate_key ${tlsFiles().key}; ssl_protocols TLSv1.2 TLSv1.3; ssl_session_tickets on;`] : []),
      proxyTo
        ? '    location / { proxy_pass http://app; proxy_http_version 1.1; proxy_set_header Connection ""; proxy_set_header Host $host; }'
        : '    location / { default_type text/plain; return 200 "hello world\\n"; }',
      '  }',
      '}',
      '',
    ].join('\n'),
  );
  const pin = taskset ? `taskset -c ${TARGET_CPU} ` : '';
  const child = spawn('bash', ['-c', `${ULIMIT}exec ${pin}${NGINX} -c ${q(conf)} -p ${q(dir)}`], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
  // Ready when it accepts a connection.
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`nginx exited with ${child.exitCode}: ${stderr.slice(-500)}`);
    const ok = await new Promise((resolve) => {
      const c = netConnect(port, '127.0.0.1', () => {
        c.destroy();
        resolve(true);
      });
      c.on('error', () => resolve(false));
    });
    if (ok) break;
    if (Date.now() > deadline) throw new Error(`nginx did not listen on ${port}: ${stderr.slice(-500)}`);
    await sleep(50);
  }
  return {
    url: `${tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    pid: child.pid,
    cpuS: () => procStat(child.pid)?.cpuS ?? null,
    stop: async () => {
      child.kill('SIGTERM');
      await new Promise((r) => (child.exitCode !== null ? r() : child.on('exit', r)));
    },
  };
}

// ------------------------------------------------------------------------------------------------
// Tools

function sessionBench(url, { concurrency, duration, scenario = null, label, extra = [], requests = null }) {
  const json = join(tmp, `sb-${++seq}.json`);
  const length = requests === null ? ['-d', `${duration}s`] : ['-n', String(requests)];
  const argv = scenario
    ? ['node', SB, 'run', scenario, '--target', url, '-c', String(concurrency), ...length, '--json', json, '-q', ...extra]
    : ['node', SB, 'run', `${url}/`, '-c', String(concurrency), ...length, '--json', json, '-q', ...extra];
  return {
    tool: 'session-bench',
    label,
    argv,
    parse(m) {
      if (!existsSync(json)) throw new Error(`session-bench wrote no result (exit ${m.code}): ${m.stderr.slice(-500)}`);
      const r = JSON.parse(readFileSync(json, 'utf8'));
      return {
        rps: r.throughput.rps,
        requests: r.requests.total,
        failed: r.requests.failed,
        durationS: r.durationMs / 1000,
        logins: r.session?.logins ?? null,
        losses: r.session?.losses ?? null,
        retention: r.session?.retention ?? null,
        p50Ms: r.latency.p50,
        p99Ms: r.latency.p99,
      };
    },
  };
}

function autocannonTool(url, { concurrency, duration }) {
  return {
    tool: 'autocannon',
    argv: ['node', AUTOCANNON, '-c', String(concurrency), '-d', String(duration), '-j', `${url}/`],
    parse(m) {
      const j = JSON.parse(m.stdout);
      return {
        rps: j.requests.average,
        requests: j.requests.total,
        failed: j.errors + j.non2xx + j.timeouts,
        durationS: j.duration,
        p50Ms: j.latency.p50,
        p99Ms: j.latency.p99,
      };
    },
  };
}

function wrkTool(url, { concurrency, duration, closeEach = false }) {
  return {
    tool: 'wrk',
    // `Connection: close` makes wrk open a new connection for every request.
    argv: ['wrk', '-t1', `-c${concurrency}`, `-d${duration}s`, '--latency', ...(closeEach ? ['-H', 'Connection: close'] : []), `${url}/`],
    parse(m) {
      const out = m.stdout;
      const n = /(\d+) requests in ([\d.]+)(\w+)/.exec(out);
      const rps = /Requests\/sec:\s+([\d.]+)/.exec(out);
      const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(out);
      const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
      const lat = (p) => {
        const mm = new RegExp(`\\s${p}%\\s+([\\d.]+)(us|ms|s)`).exec(out);
        if (!mm) return null;
        return Number(mm[1]) * (mm[2] === 'us' ? 0.001 : mm[2] === 's' ? 1000 : 1);
      };
      if (!n || !rps) throw new Error(`cannot read wrk output: ${out.slice(0, 300)}`);
      return {
        rps: Number(rps[1]),
        requests: Number(n[1]),
        failed: (non2xx ? Number(non2xx[1]) : 0) + (sock ? sock.slice(1).reduce((a, b) => a + Number(b), 0) : 0),
        durationS: Number(n[2]) * (n[3] === 'ms' ? 0.001 : n[3] === 'm' ? 60 : 1),
        p50Ms: lat(50),
        p99Ms: lat(99),
      };
    },
  };
}

/** ApacheBench without -k: a new connection per request, as the story's own measurement. */
function abTool(url, { requests, concurrency }) {
  return {
    tool: 'ab',
    argv: ['ab', '-q', '-n', String(requests), '-c', String(concurrency), `${url}/`],
    parse(m) {
      const out = m.stdout;
      const num = (re) => Number(re.exec(out)?.[1] ?? NaN);
      const rps = num(/Requests per second:\s+([\d.]+)/);
      if (!Number.isFinite(rps)) throw new Error(`cannot read ab output: ${out.slice(0, 300)}`);
      const pct = (p) => num(new RegExp(`\\s${p}%\\s+(\\d+)`));
      return { rps, requests: num(/Complete requests:\s+(\d+)/), failed: num(/Failed requests:\s+(\d+)/) + (num(/Non-2xx responses:\s+(\d+)/) || 0), durationS: num(/Time taken for tests:\s+([\d.]+)/), p50Ms: pct(50), p99Ms: pct(99) };
    },
  };
}

/** The floor of a Node.js client (bench/peers/node-floor.js): node:net / node:tls alone, no HTTP stack. */
function floorTool(url, { mode, concurrency, duration = null, requests = null }) {
  return {
    tool: 'node floor',
    argv: ['node', join(ROOT, 'bench', 'peers', 'node-floor.js'), `${url}/`, mode, String(concurrency), String(mode === 'new' ? requests : duration)],
    parse(m) {
      const j = JSON.parse(m.stdout.trim().split('\n').pop() ?? '{}');
      return { rps: j.requests / j.durationS, requests: j.requests, failed: 0, durationS: j.durationS, p50Ms: null, p99Ms: null };
    },
  };
}

/** autocannon's open model: -R requests per second whatever the answers. */
function autocannonRate(url, { concurrency, duration, rate }) {
  const t = autocannonTool(url, { concurrency, duration });
  t.argv.splice(t.argv.length - 1, 0, '-R', String(rate));
  return t;
}

/** Artillery 2 running the login flow (50 VUs, `loops` times the three pages each), its telemetry stubbed. */
function artilleryTool(url, { loops }) {
  const file = join(tmp, `artillery-${++seq}.yaml`);
  writeFileSync(file, readFileSync(join(PEERS, 'artillery-flow.yaml'), 'utf8').replace('http://127.0.0.1:8080', url));
  return {
    tool: 'artillery',
    argv: ['node', ARTILLERY, 'run', file],
    env: { LOOPS: String(loops), ARTILLERY_DISABLE_TELEMETRY: '1', NODE_OPTIONS: `--require ${join(PEERS, 'no-telemetry.cjs')}` },
    parse(m) {
      const num = (k) => Number(new RegExp(`${k.replace(/\./g, '\\.')}: \\.+ (\\d+)`).exec(m.stdout.split('Summary report')[1] ?? m.stdout)?.[1] ?? NaN);
      const requests = num('http.requests');
      const ok = num('http.codes.200') + num('http.codes.302');
      return { rps: requests / m.wallS, requests, failed: requests - ok, durationS: m.wallS, p50Ms: null, p99Ms: null };
    },
  };
}

/** Locust running the same flow (50 users, 5 s). */
function locustTool(url, { concurrency, duration }) {
  return {
    tool: 'locust',
    argv: ['locust', '-f', join(PEERS, 'locustfile.py'), '--headless', '-u', String(concurrency), '-r', String(concurrency), '-t', `${duration}s`, '--host', url, '--only-summary'],
    parse(m) {
      const line = `${m.stdout}\n${m.stderr}`.split('\n').find((l) => /^\s+Aggregated\s+\d+/.test(l)) ?? '';
      const mm = /Aggregated\s+(\d+)\s+(\d+)/.exec(line);
      if (!mm) throw new Error(`cannot read locust output: ${m.stderr.slice(-300)}`);
      return { rps: Number(mm[1]) / duration, requests: Number(mm[1]), failed: Number(mm[2]), durationS: duration, p50Ms: null, p99Ms: null };
    },
  };
}

/** Every inet connect() of a command, from strace: where Artillery's packets go (its telemetry must not leave 127.0.0.1). */
function connectDestinations(argv, env) {
  if (!has('strace')) return null;
  const log = join(tmp, `strace-${++seq}.txt`);
  spawnSync('strace', ['-f', '-e', 'trace=connect,sendto,sendmsg', '-o', log, ...argv], { cwd: ROOT, env: { ...process.env, ...env }, stdio: 'ignore' });
  const text = existsSync(log) ? readFileSync(log, 'utf8') : '';
  const addrs = [...text.matchAll(/sin6?_addr=inet_(?:addr|pton)\((?:AF_INET6, )?"([^"]+)"/g)].map((x) => x[1]);
  const dns = [...text.matchAll(/htons\(53\)/g)].length;
  return { inetCalls: addrs.length, nonLoopback: [...new Set(addrs.filter((a) => !a.startsWith('127.') && a !== '::1'))], dnsCalls: dns };
}

/** A self-signed certificate for the TLS cases (made once, with openssl). */
let tlsMade = null;
function tlsFiles() {
  if (tlsMade) return tlsMade;
  const key = join(tmp, 'tls.key');
  const cert = join(tmp, 'tls.crt');
  spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
  return (tlsMade = { key, cert });
}

async function runTool(t, target) {
  const before = target?.cpuS() ?? null;
  const m = await measure(t.argv, { env: t.env });
  const after = target?.cpuS() ?? null;
  const figures = t.parse(m);
  if (m.code !== 0) throw new Error(`${t.tool} exited with ${m.code}: ${m.stderr.slice(-800)}`);
  const cpuPer1k = m.cpuS !== null && figures.requests > 0 ? (m.cpuS / figures.requests) * 1000 : null;
  const checkDiff = m.cpuS !== null && m.check.procCpuS !== null ? m.cpuS - m.check.procCpuS : null;
  return {
    ...figures,
    cpuS: round(m.cpuS),
    cpuSPer1kRequests: round(cpuPer1k, 4),
    cpuUsPerRequest: round(cpuPer1k === null ? null : cpuPer1k * 1000, 2),
    peakRssMb: round(m.maxRssKb === null ? null : m.maxRssKb / 1024, 1),
    wallS: round(m.wallS),
    targetCpuS: before !== null && after !== null ? round(after - before) : null,
    // Cross-check of the measurement: /proc sampled every 50 ms until just before exit.
    check: { procCpuS: round(m.check.procCpuS), procHwmMb: round(m.check.procHwmKb === null ? null : m.check.procHwmKb / 1024, 1), cpuDiffS: round(checkDiff) },
  };
}

// ------------------------------------------------------------------------------------------------
// Report

function pad(s, n, right = false) {
  const t = s === null || s === undefined ? '-' : String(s);
  return right ? t.padStart(n) : t.padEnd(n);
}
const fmt = (x, d) => (x === null || x === undefined ? '-' : x.toFixed(d));

function table(rows, cols) {
  const widths = cols.map((c) => Math.max(c.h.length, ...rows.map((r) => String(c.f(r) ?? '-').length)));
  const line = (cells) => cells.map((s, i) => pad(s, widths[i], cols[i].right)).join('  ');
  return [line(cols.map((c) => c.h)), line(widths.map((w) => '-'.repeat(w))), ...rows.map((r) => line(cols.map((c) => c.f(r))))].join('\n');
}

// ------------------------------------------------------------------------------------------------
// Main

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const notes = [];
  if (!taskset) notes.push('taskset not found (or fewer than 2 CPUs): generator and target are not pinned to separate cores');
  if (!gnuTime) notes.push('GNU time not found: CPU from bash `times`, peak RSS from /proc VmHWM polling');
  if (!wrk) notes.push('wrk not installed: skipped (install it, e.g. apt-get install wrk, to compare against it)');
  if (!autocannon) notes.push('autocannon not installed (npm install): skipped');
  for (const n of notes) process.stderr.write(`note: ${n}\n`);
  if (!existsSync(join(ROOT, 'dist/cli/program.js'))) throw new Error('dist/ is missing: run `npm run build` (npm run bench does it)');

  const startedAt = new Date();
  const results = { a: {}, b: {}, c: null, d: {}, e: {}, f: {}, g: {}, h: {}, j: {} };
  const rounds = [];
  const startup = {};
  const log = (s) => process.stderr.write(`${s}\n`);
  const common = { concurrency: o.concurrency, duration: o.duration };
  /** Runs every [case, make tool] `n` times against `target`, the order rotated each round so that no tool always runs first or last. */
  const runRounds = async (tools, target, n, roundInfo) => {
    for (let r = 0; r < n; r++) {
      const order = tools.map((_, i) => tools[(i + r) % tools.length]);
      const round = { round: r + 1, ...roundInfo, runs: [] };
      for (const [c, make] of order) {
        const t = make();
        log(`round ${r + 1}/${n}  case (${c})  ${t.tool}`);
        const fig = await runTool(t, target);
        round.runs.push({ case: c, tool: t.tool, command: t.argv.join(' '), ...fig });
        (results[c][t.tool] ??= []).push(fig);
        await sleep(300);
      }
      rounds.push(round);
    }
  };

  if (o.cases.has('a') || o.cases.has('b')) {
    const target = await startTarget({});
    try {
      // Warm the target's JIT on every route the cases use.
      log(`target ${target.url} (pid ${target.pid}); warming up`);
      await measure(sessionBench(target.url, { ...common, duration: 1 }).argv);
      if (o.cases.has('b')) await measure(sessionBench(target.url, { ...common, duration: 1, scenario: SCENARIO }).argv);
      // Fixed cost of each tool (start, one request, report, exit), measured once: it is part of every
      // run's CPU and is reported separately so that the per-request cost can also be read without it.
      if (o.cases.has('a')) {
        const one = [
          ['session-bench', ['node', SB, 'run', `${target.url}/`, '-n', '1', '-c', '1', '-q']],
          ...(autocannon ? [['autocannon', ['node', AUTOCANNON, '-c', '1', '-a', '1', `${target.url}/`]]] : []),
        ];
        for (const [tool, argv] of one) {
          const cpu = [];
          for (let i = 0; i < 3; i++) cpu.push((await measure(argv)).cpuS);
          startup[tool] = { cpuS: round(median(cpu)), command: argv.join(' ') };
        }
        if (wrk) startup.wrk = { cpuS: 0, command: 'native binary: start-up cost negligible (not measured)' };
        log(`start-up CPU: ${Object.entries(startup).map(([k, v]) => `${k} ${v.cpuS}s`).join(', ')}`);
      }
      const tools = [];
      if (o.cases.has('a')) {
        tools.push(['a', () => sessionBench(target.url, common)]);
        if (autocannon) tools.push(['a', () => autocannonTool(target.url, common)]);
        if (wrk) tools.push(['a', () => wrkTool(target.url, common)]);
      }
      if (o.cases.has('b')) tools.push(['b', () => sessionBench(target.url, { ...common, scenario: SCENARIO })]);
      await runRounds(tools, target, o.rounds, {});
    } finally {
      await target.stop();
    }
  }

  if (o.cases.has('d')) {
    if (NGINX === null) notes.push('nginx not installed: case (d) skipped (e.g. apt-get install nginx-light)');
    else {
      const target = await startNginx();
      try {
        log(`nginx target ${target.url} (pid ${target.pid}); warming up`);
        await measure(sessionBench(target.url, { ...common, duration: 1 }).argv);
        const tools = [['d', () => sessionBench(target.url, common)]];
        if (autocannon) tools.push(['d', () => autocannonTool(target.url, common)]);
        if (wrk) tools.push(['d', () => wrkTool(target.url, common)]);
        await runRounds(tools, target, o.dRounds, { target: 'nginx' });
      } finally {
        await target.stop();
      }
    }
  }

  // (e) HTTPS: GET on nginx over TLS, against the same nginx over http; (f) the login flow through an
  // nginx proxy (http and https) to the node target; (g) a new connection per request, against ab
  // (http) and against wrk with `Connection: close` (https: a handshake per request).
  const insecureEnv = { NODE_TLS_REJECT_UNAUTHORIZED: '0' };
  const named = (t, tool) => Object.assign(t, { tool });
  if ((o.cases.has('e') || o.cases.has('f') || o.cases.has('g')) && (NGINX === null || !openssl)) notes.push('nginx or openssl not installed: cases (e), (f), (g) skipped');
  else if (o.cases.has('e') || o.cases.has('f') || o.cases.has('g')) {
    const node = await startTarget({});
    const plain = await startNginx();
    const secure = await startNginx({ tls: true });
    const proxyHttp = await startNginx({ proxyTo: node.url });
    const proxyHttps = await startNginx({ tls: true, proxyTo: node.url });
    try {
      log(`nginx http ${plain.url}, https ${secure.url}; proxies to ${node.url}: ${proxyHttp.url}, ${proxyHttps.url}; warming up`);
      await measure(sessionBench(secure.url, { ...common, duration: 1, extra: ['--insecure'] }).argv);
      await measure(sessionBench(proxyHttps.url, { ...common, duration: 1, scenario: SCENARIO, extra: ['--insecure'] }).argv);
      if (o.cases.has('e')) {
        const tools = [
          ['e', () => named(sessionBench(plain.url, common), 'session-bench http')],
          ['e', () => named(sessionBench(secure.url, { ...common, extra: ['--insecure'] }), 'session-bench https')],
        ];
        tools.push(['e', () => named(floorTool(plain.url, { ...common, mode: 'keepalive' }), 'node floor http')]);
        tools.push(['e', () => named(floorTool(secure.url, { ...common, mode: 'keepalive' }), 'node floor https')]);
        if (wrk) tools.push(['e', () => named(wrkTool(plain.url, common), 'wrk http')]);
        if (wrk) tools.push(['e', () => named(wrkTool(secure.url, common), 'wrk https')]);
        if (autocannon) tools.push(['e', () => Object.assign(named(autocannonTool(secure.url, common), 'autocannon https'), { env: insecureEnv })]);
        await runRounds(tools, null, o.dRounds, { case: 'e' });
      }
      if (o.cases.has('f')) {
        const tools = [
          ['f', () => named(sessionBench(proxyHttp.url, { ...common, scenario: SCENARIO }), 'session-bench http')],
          ['f', () => named(sessionBench(proxyHttps.url, { ...common, scenario: SCENARIO, extra: ['--insecure'] }), 'session-bench https')],
        ];
        await runRounds(tools, null, o.dRounds, { case: 'f' });
      }
      if (o.cases.has('g')) {
        const n = { requests: o.abRequests, concurrency: o.abConcurrency };
        const tools = [['g', () => named(sessionBench(plain.url, { ...n, duration: null, extra: ['--connections', 'new'] }), 'session-bench new http')]];
        if (ab) tools.push(['g', () => named(abTool(plain.url, n), 'ab http')]);
        tools.push(['g', () => named(floorTool(plain.url, { ...n, mode: 'new' }), 'node floor new http')]);
        tools.push(['g', () => named(sessionBench(secure.url, { ...common, extra: ['--connections', 'new', '--insecure'] }), 'session-bench new https')]);
        if (wrk) tools.push(['g', () => named(wrkTool(secure.url, { ...common, closeEach: true }), 'wrk close https')]);
        await runRounds(tools, null, o.dRounds, { case: 'g' });
      }
    } finally {
      for (const t of [proxyHttps, proxyHttp, secure, plain, node]) await t.stop();
    }
  }

  // (h) the open model's cost: session-bench --rate against autocannon -R, on the node target.
  if (o.cases.has('h')) {
    const target = await startTarget({});
    try {
      const r = { ...common, rate: o.rate };
      const tools = [['h', () => named(sessionBench(target.url, { ...common, extra: ['--rate', String(o.rate)] }), 'session-bench --rate')]];
      if (autocannon) tools.push(['h', () => named(autocannonRate(target.url, r), 'autocannon -R')]);
      await runRounds(tools, target, o.dRounds, { case: 'h', rate: o.rate });
    } finally {
      await target.stop();
    }
  }

  // (i) 100,000 logged-in VUs from one machine: one process holds about 19,000 (the open-file limit), so
  // several generators, each against its own target on its own loopback address (ports are per
  // destination). Unpinned: the processes share both cores, so the answers are slow (30 s) to keep the
  // load within what 2 cores carry for 12 processes; the point is memory and that every VU logs in and
  // keeps its session. The bench adds the processes' counts.
  let caseI = null;
  if (o.cases.has('i')) {
    const k = o.bigProcs;
    const per = Math.ceil(o.bigVus / k);
    const targets = [];
    try {
      for (let i = 0; i < k; i++) targets.push(await startTarget({ TARGET_DELAY_MS: String(o.bigDelayMs), TARGET_HOST: `127.0.0.${i + 2}` }, { pinned: false }));
      log(`(i) ${k} targets on ${targets.map((t) => t.url).join(', ')}; ${k} generators of ${per} VUs, ramp-up ${o.bigRampUp}s, ${o.bigDuration}s`);
      const runs = await Promise.all(
        targets.map(async (t) => {
          const tool = sessionBench(t.url, { concurrency: per, duration: o.bigDuration, scenario: SCENARIO, extra: ['--ramp-up', `${o.bigRampUp}s`, '--timeout', `${o.bigTimeout}s`] });
          const m = await measure(tool.argv, { pinned: false });
          return { command: tool.argv.join(' '), code: m.code, peakRssMb: round(m.maxRssKb === null ? null : m.maxRssKb / 1024, 1), cpuS: round(m.cpuS), ...tool.parse(m) };
        }),
      );
      const sum = (f) => runs.reduce((a, r) => a + (f(r) ?? 0), 0);
      caseI = { vus: per * k, processes: k, delayMs: o.bigDelayMs, durationS: o.bigDuration, rampUpS: o.bigRampUp, totalRssMb: round(sum((r) => r.peakRssMb), 1), kbPerVu: round((sum((r) => r.peakRssMb) * 1024) / (per * k), 2), logins: sum((r) => r.logins), requests: sum((r) => r.requests), failed: sum((r) => r.failed), losses: sum((r) => r.losses), exitCodes: runs.map((r) => r.code), runs };
    } finally {
      for (const t of targets) await t.stop();
    }
  }

  // (j) the login flow against peers that keep cookie jars: Artillery and Locust, when installed.
  let telemetryCheck = null;
  if (o.cases.has('j')) {
    if (!ARTILLERY) notes.push('Artillery not found: set BENCH_ARTILLERY=path/to/node_modules/.bin/artillery (npm install --ignore-scripts artillery@2.0.21 somewhere) for case (j)');
    if (!locust) notes.push('locust not installed: apt-get install python3-locust for case (j)');
    const target = await startTarget({});
    try {
      const tools = [['j', () => sessionBench(target.url, { ...common, scenario: SCENARIO })]];
      if (ARTILLERY) {
        const t = artilleryTool(target.url, { loops: 100 });
        telemetryCheck = connectDestinations(t.argv, t.env);
        log(`(j) Artillery's connections under strace: ${JSON.stringify(telemetryCheck)}`);
        tools.push(['j', () => artilleryTool(target.url, { loops: 100 })]);
      }
      if (locust) tools.push(['j', () => locustTool(target.url, common)]);
      await runRounds(tools, target, o.dRounds, { case: 'j' });
    } finally {
      await target.stop();
    }
  }

  let caseC = null;
  if (o.cases.has('c')) {
    const target = await startTarget({ TARGET_DELAY_MS: String(o.slowMs) });
    caseC = { vus: o.vus, slowMs: o.slowMs, durationS: o.cDuration, rounds: [] };
    try {
      log(`slow target ${target.url} (every response delayed ${o.slowMs} ms)`);
      for (let r = 0; r < o.cRounds; r++) {
        const runs = {};
        // Baseline first in odd rounds, second in even ones.
        const order = r % 2 === 0 ? ['baseline', 'vus'] : ['vus', 'baseline'];
        for (const which of order) {
          // Many thousands of VUs connecting in the same millisecond overflow the target's listen backlog: --c-ramp-up spreads them.
          const t = sessionBench(target.url, { concurrency: which === 'vus' ? o.vus : 1, duration: o.cDuration, scenario: SCENARIO, extra: which === 'vus' && o.cRampUp > 0 ? ['--ramp-up', `${o.cRampUp}s`] : [] });
          log(`round ${r + 1}/${o.cRounds}  case (c)  session-bench -c ${which === 'vus' ? o.vus : 1}`);
          runs[which] = { command: t.argv.join(' '), ...(await runTool(t, target)) };
          await sleep(500);
        }
        const perVuKb = runs.vus.peakRssMb !== null && runs.baseline.peakRssMb !== null ? ((runs.vus.peakRssMb - runs.baseline.peakRssMb) * 1024) / (o.vus - 1) : null;
        caseC.rounds.push({ round: r + 1, ...runs, rssPerVuKb: round(perVuKb, 2) });
      }
    } finally {
      await target.stop();
    }
  }

  // Medians and ratios.
  const summary = { a: {}, b: {}, c: null, d: {}, e: {}, f: {}, g: {}, h: {}, j: {}, ratios: {} };
  const med = (runs, k) => round(median(runs.map((x) => x[k])), 4);
  for (const c of ['a', 'b', 'd', 'e', 'f', 'g', 'h', 'j']) {
    for (const [tool, runs] of Object.entries(results[c])) {
      const fixed = startup[tool]?.cpuS ?? null;
      summary[c][tool] = {
        rps: round(med(runs, 'rps'), 1),
        cpuSPer1kRequests: med(runs, 'cpuSPer1kRequests'),
        cpuUsPerRequest: round(med(runs, 'cpuUsPerRequest'), 2),
        targetCpuUsPerRequest: round(median(runs.map((x) => (x.targetCpuS == null ? null : (x.targetCpuS / x.requests) * 1e6)).filter((x) => x !== null)), 2),
        cpuUsPerRequestExclStartup: fixed === null ? null : round(median(runs.map((x) => ((x.cpuS - fixed) / x.requests) * 1e6)), 2),
        peakRssMb: round(med(runs, 'peakRssMb'), 1),
        requests: med(runs, 'requests'),
        failed: med(runs, 'failed'),
        p99Ms: med(runs, 'p99Ms'),
      };
    }
  }
  const sa = summary.a['session-bench'];
  const ratio = (x, y) => (x == null || y == null || y === 0 ? null : round(x / y, 3));
  for (const peer of ['autocannon', 'wrk']) {
    const p = summary.a[peer];
    if (sa && p) {
      summary.ratios[`session-bench/${peer}`] = {
        cpuPerRequest: ratio(sa.cpuSPer1kRequests, p.cpuSPer1kRequests),
        cpuPerRequestExclStartup: ratio(sa.cpuUsPerRequestExclStartup, p.cpuUsPerRequestExclStartup),
        rps: ratio(sa.rps, p.rps),
      };
    }
  }
  const sd = summary.d['session-bench'];
  for (const peer of ['autocannon', 'wrk']) {
    const p = summary.d[peer];
    if (sd && p) summary.ratios[`(d) session-bench/${peer}`] = { cpuPerRequest: ratio(sd.cpuSPer1kRequests, p.cpuSPer1kRequests), rps: ratio(sd.rps, p.rps) };
  }
  // Also the median of each round's own ratio: rounds interleave the tools, so a machine that drifts
  // (a VM's neighbours) moves both sides of a round's ratio together.
  const perRound = (c, a, b) => {
    const xs = results[c]?.[a] ?? [];
    const ys = results[c]?.[b] ?? [];
    const rs = xs.map((x, i) => (ys[i] ? ratio(x.cpuUsPerRequest, ys[i].cpuUsPerRequest) : null)).filter((r) => r !== null);
    return rs.length === 0 ? null : round(median(rs), 3);
  };
  const pair = (label, x, y, c = null, a = null, b = null) => {
    if (x && y) summary.ratios[label] = { cpuPerRequest: ratio(x.cpuSPer1kRequests, y.cpuSPer1kRequests), rps: ratio(x.rps, y.rps), ...(c !== null ? { cpuPerRequestPerRound: perRound(c, a, b) } : {}) };
  };
  const pairOf = (label, c, a, b) => pair(label, summary[c][a], summary[c][b], c, a, b);
  pairOf('(e) https/http (session-bench)', 'e', 'session-bench https', 'session-bench http');
  pairOf('(e) session-bench/wrk https', 'e', 'session-bench https', 'wrk https');
  pairOf('(e) session-bench/autocannon https', 'e', 'session-bench https', 'autocannon https');
  pairOf('(e) https/http (node floor)', 'e', 'node floor https', 'node floor http');
  pairOf('(e) https/http (wrk)', 'e', 'wrk https', 'wrk http');
  pairOf('(e) node floor/wrk https', 'e', 'node floor https', 'wrk https');
  pair('(f) flow https/http', summary.f['session-bench https'], summary.f['session-bench http']);
  pairOf('(g) new conn: session-bench/ab', 'g', 'session-bench new http', 'ab http');
  pairOf('(g) new conn: node floor/ab', 'g', 'node floor new http', 'ab http');
  pairOf('(g) new conn: session-bench/node floor', 'g', 'session-bench new http', 'node floor new http');
  pair('(g) new https: session-bench/wrk', summary.g['session-bench new https'], summary.g['wrk close https']);
  pair('(h) --rate: session-bench/autocannon', summary.h['session-bench --rate'], summary.h['autocannon -R']);
  pair('(j) flow: session-bench/artillery', summary.j['session-bench'], summary.j['artillery']);
  pair('(j) flow: session-bench/locust', summary.j['session-bench'], summary.j['locust']);
  const sb = summary.b['session-bench'];
  if (sa && sb) summary.ratios['b/a (session-bench)'] = { cpuPerRequest: ratio(sb.cpuSPer1kRequests, sa.cpuSPer1kRequests), rps: ratio(sb.rps, sa.rps) };
  if (caseC) {
    const rs = caseC.rounds;
    summary.c = {
      vus: caseC.vus,
      peakRssMb: round(median(rs.map((x) => x.vus.peakRssMb)), 1),
      baselineRssMb: round(median(rs.map((x) => x.baseline.peakRssMb)), 1),
      rssPerVuKb: round(median(rs.map((x) => x.rssPerVuKb)), 2),
      rps: round(median(rs.map((x) => x.vus.rps)), 1),
      cpuSPer1kRequests: round(median(rs.map((x) => x.vus.cpuSPer1kRequests)), 4),
      requests: median(rs.map((x) => x.vus.requests)),
      failed: median(rs.map((x) => x.vus.failed)),
      logins: median(rs.map((x) => x.vus.logins)),
      losses: median(rs.map((x) => x.vus.losses)),
    };
  }

  // Print.
  const rows = [];
  for (const c of ['a', 'b', 'd', 'e', 'f', 'g', 'h', 'j']) for (const [tool, s] of Object.entries(summary[c])) {
      const runs = results[c][tool];
      rows.push({ c, tool, ...s, perRound: runs.map((x) => Math.round(x.rps)).join(' / '), cpuPerRound: runs.map((x) => fmt(x.cpuUsPerRequest, 1)).join(' / ') });
    }
  const out = [];
  out.push(`session-bench bench — ${startedAt.toISOString()} — ${os.cpus().length} x ${os.cpus()[0]?.model ?? '?'} — node ${process.version}`);
  out.push(`concurrency ${o.concurrency}, ${o.duration} s per run, ${o.rounds} rounds (case c: ${o.cRounds}, d: ${o.dRounds}), medians; generator on CPU ${taskset ? GENERATOR_CPU : '-'}, target on CPU ${taskset ? TARGET_CPU : '-'}`);
  out.push('');
  if (rows.length > 0) {
    out.push(
      table(rows, [
        { h: 'case', f: (r) => `(${r.c})` },
        { h: 'tool', f: (r) => r.tool },
        { h: 'req/s', f: (r) => fmt(r.rps, 0), right: true },
        { h: 'CPU s/1k req', f: (r) => fmt(r.cpuSPer1kRequests, 4), right: true },
        { h: 'µs CPU/req', f: (r) => fmt(r.cpuUsPerRequest, 1), right: true },
        { h: 'excl. start-up', f: (r) => fmt(r.cpuUsPerRequestExclStartup, 1), right: true },
        { h: 'peak RSS MB', f: (r) => fmt(r.peakRssMb, 1), right: true },
        { h: 'target µs/req', f: (r) => fmt(r.targetCpuUsPerRequest, 1), right: true },
        { h: 'p99 ms', f: (r) => fmt(r.p99Ms, 2), right: true },
        { h: 'failed', f: (r) => fmt(r.failed, 0), right: true },
        { h: 'req/s per round', f: (r) => r.perRound },
        { h: 'µs CPU/req per round', f: (r) => r.cpuPerRound },
      ]),
    );
    out.push('');
    for (const [k, v] of Object.entries(summary.ratios)) {
      const excl = v.cpuPerRequestExclStartup === undefined ? '' : ` (${fmt(v.cpuPerRequestExclStartup, 2)}x excl. start-up)`;
      const rounds = v.cpuPerRequestPerRound == null ? '' : ` (median of rounds ${fmt(v.cpuPerRequestPerRound, 2)}x)`;
      out.push(`${k.padEnd(30)} CPU per request ${fmt(v.cpuPerRequest, 2)}x${rounds}${excl}   req/s ${fmt(v.rps, 2)}x`);
    }
    if (Object.keys(startup).length > 0) out.push(`start-up CPU (one request, report, exit): ${Object.entries(startup).filter(([k]) => k !== 'wrk').map(([k, v]) => `${k} ${fmt(v.cpuS, 2)} s`).join(', ')}`);
  }
  if (summary.c) {
    const s = summary.c;
    out.push('');
    out.push(`(c) ${s.vus} VUs, login flow, every response delayed ${o.slowMs} ms, ${o.cDuration} s: peak RSS ${fmt(s.peakRssMb, 1)} MB, baseline (-c 1) ${fmt(s.baselineRssMb, 1)} MB`);
    out.push(`    => ${fmt(s.rssPerVuKb, 1)} KB per VU;  ${fmt(s.rps, 0)} req/s, ${s.requests} requests, ${s.failed} failed, ${s.logins} logins, ${s.losses} losses, CPU ${fmt(s.cpuSPer1kRequests, 4)} s/1k req`);
    out.push(`    per round KB/VU: ${caseC.rounds.map((r) => fmt(r.rssPerVuKb, 1)).join(' / ')}`);
  }
  if (caseI) {
    out.push('');
    out.push(`(i) ${caseI.vus} logged-in VUs from ${caseI.processes} processes (each against its own target on its own loopback address), every response delayed ${caseI.delayMs} ms, ramp-up ${caseI.rampUpS} s, ${caseI.durationS} s:`);
    out.push(`    ${caseI.logins} logins (${caseI.logins >= caseI.vus ? 'all logged in' : `${caseI.vus - caseI.logins} did not log in`}), ${caseI.requests} requests, ${caseI.failed} failed, ${caseI.losses} losses; total peak RSS ${fmt(caseI.totalRssMb, 1)} MB = ${fmt(caseI.kbPerVu, 1)} KB per VU (with each process's own base); exit codes ${caseI.exitCodes.join(' ')}`);
    out.push(`    per process RSS MB: ${caseI.runs.map((r) => fmt(r.peakRssMb, 1)).join(' / ')}`);
  }
  if (telemetryCheck) out.push(`(j) Artillery under strace: ${telemetryCheck.inetCalls} inet connect/send calls, ${telemetryCheck.nonLoopback.length === 0 ? 'all to loopback' : `to ${telemetryCheck.nonLoopback.join(', ')}`}, ${telemetryCheck.dnsCalls} to port 53 (DNS)`);
  for (const n of notes) out.push(`note: ${n}`);
  process.stdout.write(`${out.join('\n')}\n`);

  const machine = {
    cpus: os.cpus().length,
    model: os.cpus()[0]?.model ?? null,
    totalMemMb: Math.round(os.totalmem() / 2 ** 20),
    platform: `${os.type()} ${os.release()} ${os.arch()}`,
    loadavgAtStart: os.loadavg(),
  };
  const doc = {
    date: startedAt.toISOString(),
    machine,
    node: process.version,
    command: `node bench/run.js ${process.argv.slice(2).join(' ')}`.trim(),
    options: { ...o, cases: [...o.cases] },
    measurement: {
      cpu: gnuTime ? 'GNU time (wait4 rusage of the generator process): user+sys' : 'bash times (children user+sys)',
      peakRss: gnuTime ? 'GNU time max RSS (ru_maxrss)' : '/proc/PID/status VmHWM polled every 50 ms',
      pinned: taskset ? { generator: GENERATOR_CPU, target: TARGET_CPU } : null,
      tools: { wrk, autocannon, gnuTime, taskset, nginx: NGINX, ab, openssl },
    },
    notes,
    startup,
    rounds,
    caseC,
    caseI,
    telemetryCheck,
    summary,
  };
  mkdirSync(join(o.out, '..'), { recursive: true });
  writeFileSync(o.out, `${JSON.stringify(doc, null, 2)}\n`);
  process.stderr.write(`results written to ${o.out}\n`);
}

try {
  await main();
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
