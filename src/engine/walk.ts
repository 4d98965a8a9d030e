/**
 * `check` (and `run --validate`): one virtual user logs in once and walks the flow once, with the same
 * step runner, cookie jar and transport as a load run, and every hop is traced. Then the session is
 * taken away (the cookies the login set, and the variables it extracted, such as a token) and the first
 * flow step is sent again: the loss rule must fire, or a run would count lost sessions as kept.
 */
import { Collector } from '../metrics/collector.js';
import type { Vars } from '../scenario/template.js';
import type { Scenario, Step } from '../scenario/types.js';
import { Control } from './control.js';
import { VuCookieJar } from './cookies.js';
import { createSharedAgent, Transport, type TransportOptions } from './http/transport.js';
import { normaliseOptions, type RunOptions } from './options.js';
import { Outcome, StepRunner, type StepOwner } from './step.js';
import { targetBase } from './url.js';
import { prepareShared, type HopTrace } from './vu-shared.js';

export interface StepWalk {
  readonly step: Step;
  readonly hops: HopTrace[];
}

export interface Walk {
  readonly target: string;
  readonly username: string | null;
  readonly login: StepWalk[];
  /** Null when the login failed (the flow was not walked). */
  readonly flow: StepWalk[] | null;
  readonly loggedIn: boolean;
  /** The first flow step sent again without the session; null when it could not be tried. */
  readonly lossCheck: { readonly dropped: string[]; readonly walk: StepWalk } | null;
}

/** Drives one StepRunner through the steps in order, one promise per step (speed does not matter here). */
class Walker implements StepOwner {
  readonly runner: StepRunner;
  private done: ((o: Outcome) => void) | null = null;
  private fail: ((err: unknown) => void) | null = null;

  constructor(shared: ReturnType<typeof prepareShared>, transport: Transport, readonly vars: Vars) {
    this.runner = new StepRunner(1, shared, transport, new VuCookieJar(), vars, this);
  }

  step(step: Step): Promise<Outcome> {
    return new Promise<Outcome>((resolve, reject) => {
      this.done = resolve;
      this.fail = reject;
      this.runner.start(step, undefined);
    });
  }

  stepDone(o: Outcome): void {
    this.done?.(o);
  }

  stepCrashed(err: unknown): void {
    this.fail?.(err);
  }
}

export async function walkOnce(scenario: Scenario, options: RunOptions): Promise<Walk> {
  // One user, one pass: of the run's options only where and how to connect count (a scenario's stages,
  // rate or VUs are not this walk's to check).
  const opts = normaliseOptions(scenario, { target: options.target, timeoutMs: options.timeoutMs, insecure: options.insecure, connections: options.connections, httpClient: options.httpClient, tlsResumption: options.tlsResumption, sourceAddresses: options.sourceAddresses });
  const base = targetBase(opts.target);
  const steps = [...scenario.login, ...scenario.flow];
  const collector = new Collector(steps.map((s) => ({ name: s.name, phase: s.phase, method: s.method })), performance.now());
  const control = new Control(null);
  let current: HopTrace[] = [];
  const shared = prepareShared(scenario, base, collector, control, opts, (hop) => current.push(hop));
  const transportOptions: TransportOptions = { mode: opts.connections, client: opts.httpClient, timeoutMs: opts.timeoutMs, insecure: opts.insecure, concurrency: 1, tlsResumption: opts.tlsResumption };
  const agent = createSharedAgent(transportOptions);
  const transport = new Transport(transportOptions, agent);
  const credential = scenario.users[0];
  const vars = Object.assign(Object.create(scenario.env) as Vars, credential?.vars, { vu: '1', iteration: '1', username: credential?.username ?? '', password: credential?.password ?? '' });
  const walker = new Walker(shared, transport, vars);
  const send = async (step: Step): Promise<{ walk: StepWalk; outcome: Outcome }> => {
    current = [];
    const outcome = await walker.step(step);
    return { walk: { step, hops: current }, outcome };
  };
  try {
    const login: StepWalk[] = [];
    let loggedIn = true;
    const before = new Set(Object.keys(vars));
    for (const step of scenario.login) {
      const r = await send(step);
      login.push(r.walk);
      if (r.outcome === Outcome.StillLoggedIn) break;
      if (r.outcome !== Outcome.Ok) {
        loggedIn = false;
        break;
      }
    }
    if (!loggedIn) return { target: opts.target, username: credential?.username ?? null, login, flow: null, loggedIn, lossCheck: null };
    walker.runner.loggedIn();
    const flow: StepWalk[] = [];
    let lost = false;
    for (const step of scenario.flow) {
      const r = await send(step);
      flow.push(r.walk);
      if (r.outcome === Outcome.Lost) {
        lost = true;
        break;
      }
    }
    let lossCheck: Walk['lossCheck'] = null;
    const first = scenario.flow[0];
    if (!lost && first !== undefined && scenario.login.length > 0) {
      // The session, taken away: what the login set (cookies) and what it extracted (a token).
      const dropped = [...shared.loginCookieNames].filter((n) => n !== '' && walker.runner.isSessionCookie(n));
      walker.runner.forgetSession();
      for (const k of Object.keys(vars)) {
        if (!before.has(k)) {
          vars[k] = '';
          dropped.push(`{{${k}}}`);
        }
      }
      const r = await send(first);
      lossCheck = { dropped, walk: r.walk };
    }
    return { target: opts.target, username: credential?.username ?? null, login, flow, loggedIn, lossCheck };
  } finally {
    control.stop();
    await transport.close(true);
    await agent?.destroy().catch(() => undefined);
  }
}
