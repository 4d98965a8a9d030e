/** Worker-thread entry for --workers: runs one slice of a run and reports back (see workers.ts). */
import { parentPort, workerData } from 'node:worker_threads';
import { liveFigures, runLocal } from './local-run.js';
import type { WorkerCommand, WorkerInput, WorkerMessage } from './workers.js';

const input = workerData as WorkerInput;
const port = parentPort!;
const interrupt = new AbortController();
const stop = new AbortController();
const post = (m: WorkerMessage): void => port.postMessage(m);
port.on('message', (m: WorkerCommand) => {
  if (m.type === 'stop') (m.interrupted ? interrupt : stop).abort();
});

runLocal(input.scenario, input.opts, input.slice, {
  signal: interrupt.signal,
  stopSignal: stop.signal,
  intervalMs: input.intervalMs,
  onTick: (c) => post({ type: 'live', live: liveFigures(c, input.liveSteps) }),
  onUnusable: (reason) => post({ type: 'unusable', reason }),
}).then(
  (outcome) => {
    post({ type: 'done', outcome });
    port.close();
  },
  (err: unknown) => {
    post({ type: 'failed', message: (err as Error)?.stack ?? String(err) });
    port.close();
  },
);
