// The floor of any Node.js HTTP client: what node:net and node:tls cost by themselves, with no HTTP
// parsing beyond finding the end of a response, no cookies, no metrics. Bench cases (e) and (g) run it
// beside session-bench: a target that this loop cannot reach cannot be reached by a client built on
// node:net / node:tls either, whatever it does above them.
//
//   node node-floor.js URL keepalive CONNECTIONS SECONDS     one connection each, requests back to back
//   node node-floor.js URL new CONNECTIONS REQUESTS          a new connection per request (Connection: close)
//
// Prints {"requests": N, "durationS": S} on stdout. Responses must carry Content-Length (nginx's do).
import net from 'node:net';
import tls from 'node:tls';

const [url, mode, connArg, amountArg] = process.argv.slice(2);
const u = new URL(url);
const secure = u.protocol === 'https:';
const port = Number(u.port || (secure ? 443 : 80));
const connections = Number(connArg);
const context = secure ? tls.createSecureContext({}) : null;
const head = (close) => Buffer.from(`GET ${u.pathname} HTTP/1.1\r\nhost: ${u.host}\r\n${close ? 'connection: close\r\n' : ''}\r\n`);
const keepAliveRequest = head(false);
const closeRequest = head(true);
const readBuffer = Buffer.allocUnsafe(64 * 1024);

const connect = (onread) =>
  secure
    ? tls.connect({ host: u.hostname, port, secureContext: context, rejectUnauthorized: false, ALPNProtocols: ['http/1.1'], onread })
    : net.connect({ host: u.hostname, port, onread });

/** Calls `done` at the end of each whole response on `s` (head, then Content-Length bytes of body). */
function responses(done) {
  let pending = -1;
  let headText = '';
  return {
    buffer: readBuffer,
    callback(n, buf) {
      let i = 0;
      while (i < n) {
        if (pending < 0) {
          const chunk = buf.latin1Slice(i, n);
          headText += chunk;
          const end = headText.indexOf('\r\n\r\n');
          if (end < 0) return true;
          const length = Number(/content-length:\s*(\d+)/i.exec(headText.slice(0, end))?.[1] ?? 0);
          i = n - (headText.length - end - 4);
          headText = '';
          pending = length;
        }
        const take = Math.min(pending, n - i);
        pending -= take;
        i += take;
        if (pending === 0) {
          pending = -1;
          done();
        }
      }
      return true;
    },
  };
}

const t0 = performance.now();
let requests = 0;
const finish = () => {
  process.stdout.write(`${JSON.stringify({ requests, durationS: (performance.now() - t0) / 1000 })}\n`);
  process.exit(0);
};

if (mode === 'keepalive') {
  const until = t0 + Number(amountArg) * 1000;
  for (let c = 0; c < connections; c++) {
    let s;
    const next = () => {
      requests++;
      if (performance.now() >= until) return finish();
      s.write(keepAliveRequest);
    };
    s = connect(responses(next));
    s.setNoDelay(true);
    s.once(secure ? 'secureConnect' : 'connect', () => s.write(keepAliveRequest));
  }
} else {
  const total = Number(amountArg);
  let started = 0;
  const one = () => {
    if (started >= total) return;
    started++;
    // The server closes after its answer (connection: close): the next connection starts at the close.
    const s = connect(responses(() => undefined));
    s.once(secure ? 'secureConnect' : 'connect', () => s.write(closeRequest));
    s.on('error', () => undefined);
    s.once('close', () => {
      if (++requests === total) finish();
      else one();
    });
  };
  for (let c = 0; c < connections; c++) one();
}
