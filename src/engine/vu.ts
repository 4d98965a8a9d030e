/**
 * A virtual user: one cookie jar, its own connection(s) (or the shared pool), its own variables. Its
 * state machine logs in, walks the flow, thinks between steps, and when a step shows the session was
 * lost, logs in again and goes on. Each request is the step runner's (step.ts). It never formats output:
 * everything it sees goes to the Collector.
 */
import type { UserFigures } from '../metrics/collector.js';
import type { Vars } from '../scenario/template.js';
import type { Credential } from '../scenario/users.js';
import { VuCookieJar } from './cookies.js';
import type { Transport } from './http/transport.js';
import { Outcome, StepRunner, type StepOwner } from './step.js';
import type { VuShared } from './vu-shared.js';

export { Outcome };

/** What follows a think time. */
const enum AfterThink {
  NextStep,
  /** The last login step: the VU is logged in, the flow starts. */
  LoggedIn,
  /** The last flow step: the iteration is complete. */
  IterationDone,
  /** A login failed and the VU backed off: the iteration ends as failed. */
  LoginFailed,
}

// An iteration is driven by callbacks, not an async function: a step's answer arrives from the socket's
// read callback and the next request is sent straight away. No promise or suspended frame per request;
// run() and runIteration() are the only promises.
export class VirtualUser implements StepOwner {
  private readonly vars: Vars;
  private readonly steps: StepRunner;
  private loggedIn = false;
  private iteration = 0;
  // The iteration in progress (see startIteration).
  private inLogin = false;
  /** Index of the step being sent in the login steps (inLogin) or the flow. */
  private stepPos = 0;
  private iterScheduled: number | undefined = undefined;
  private iterEnd: ((o: Outcome) => void) | null = null;
  private iterFail: ((err: unknown) => void) | null = null;
  private thinkTimer: NodeJS.Timeout | null = null;
  private afterThink = AfterThink.NextStep;

  constructor(
    readonly id: number,
    credential: Credential | undefined,
    private readonly shared: VuShared,
    transport: Transport,
  ) {
    // The scenario's environment variables are shared by every VU (the prototype), its own are copied.
    this.vars = Object.assign(Object.create(shared.scenario.env) as Vars, credential?.vars, {
      vu: String(id),
      iteration: '0',
      username: credential?.username ?? '',
      password: credential?.password ?? '',
    });
    this.steps = new StepRunner(id, shared, transport, new VuCookieJar(), this.vars, this);
  }

  /**
   * Closed model: log in, loop the flow until the run stops, or until `keepGoing` (asked between
   * iterations) says no (a stage ramped down).
   */
  run(keepGoing?: () => boolean): Promise<void> {
    // Counted as active while it runs (the timeline's active VUs); no wrapper promise per VU.
    const { collector } = this.shared;
    collector.vuActivity(1, performance.now());
    return new Promise<void>((resolve, reject) => {
      const fail = (err: unknown): void => {
        collector.vuActivity(-1, performance.now());
        reject(err);
      };
      const next = (o: Outcome): void => {
        if (o === Outcome.Stopped || this.shared.control.stopped || (keepGoing !== undefined && !keepGoing())) {
          collector.vuActivity(-1, performance.now());
          resolve();
        } else this.startIteration(undefined, next, fail);
      };
      next(Outcome.Ok);
    });
  }

  /**
   * One iteration: log in if needed, then walk the flow once. Resolves to Stopped when the run ended
   * midway. The open model calls this directly; `intendedStartMs` is then the scheduled start, and the
   * first request's latency is measured from it (coordinated-omission correction).
   */
  runIteration(intendedStartMs?: number): Promise<Outcome> {
    return new Promise<Outcome>((resolve, reject) => this.startIteration(intendedStartMs, resolve, reject));
  }

  /** Aborts the request in flight; it will not be recorded. */
  abort(): void {
    this.steps.abort();
  }

  /** What this user saw over the run (users affected, stickiness). */
  figures(): UserFigures {
    return this.steps.figures();
  }

  private startIteration(intendedStartMs: number | undefined, end: (o: Outcome) => void, fail: (err: unknown) => void): void {
    this.iterEnd = end;
    this.iterFail = fail;
    this.iterScheduled = intendedStartMs;
    if (this.shared.scenario.login.length > 0 && !this.loggedIn) {
      this.inLogin = true;
      this.stepPos = 0;
    } else this.beginFlow();
    this.sendStep();
  }

  private beginFlow(): void {
    this.inLogin = false;
    this.stepPos = 0;
    this.iteration++;
    this.vars.iteration = String(this.iteration);
  }

  /** Sends the step at `stepPos`; its outcome comes back through {@link stepDone}. */
  private sendStep(): void {
    const step = (this.inLogin ? this.shared.scenario.login : this.shared.scenario.flow)[this.stepPos]!;
    // The first request of an iteration is timed from its scheduled start (open model).
    const scheduled = this.iterScheduled;
    this.iterScheduled = undefined;
    this.steps.start(step, scheduled);
  }

  /** A step is over: record it and go on (next step, think, log in again) or end the iteration. */
  stepDone(r: Outcome): void {
    const { scenario, collector } = this.shared;
    if (r === Outcome.Stopped) return this.endIteration(r);
    if (this.inLogin) {
      const step = scenario.login[this.stepPos]!;
      if (r === Outcome.StillLoggedIn) {
        // The app says the session is still valid: no login needed; the flow goes on.
        collector.recordStillLoggedIn();
        this.loggedIn = true;
        this.beginFlow();
        return this.sendStep();
      }
      if (r !== Outcome.Ok) {
        collector.recordLogin(false, this.steps.failureReason);
        if (this.steps.backoffMs > 0) return this.think(this.steps.backoffMs, AfterThink.LoginFailed);
        return this.endIteration(Outcome.Failed);
      }
      this.stepPos++;
      const next = this.stepPos === scenario.login.length ? AfterThink.LoggedIn : AfterThink.NextStep;
      if (step.thinkMs !== null) this.think(step.thinkMs, next);
      else this.goOn(next);
      return;
    }
    const step = scenario.flow[this.stepPos]!;
    if (r !== Outcome.NoResponse) collector.recordFlowRequest(r !== Outcome.Lost);
    if (r === Outcome.Lost) {
      this.loggedIn = false;
      this.steps.afterLoss();
      collector.recordIteration(false);
      return this.endIteration(r);
    }
    this.stepPos++;
    const thinkMs = Math.max(step.thinkMs ?? this.shared.thinkMs, this.steps.backoffMs);
    this.think(thinkMs, this.stepPos === scenario.flow.length ? AfterThink.IterationDone : AfterThink.NextStep);
  }

  /** A bug while handling a step: the iteration's promise rejects with it. */
  stepCrashed(err: unknown): void {
    const fail = this.iterFail;
    this.iterEnd = null;
    this.iterFail = null;
    fail?.(err);
  }

  private goOn(next: AfterThink): void {
    switch (next) {
      case AfterThink.NextStep:
        return this.sendStep();
      case AfterThink.LoggedIn:
        this.loggedIn = true;
        this.steps.loggedIn();
        this.shared.collector.recordLogin(true);
        this.beginFlow();
        return this.sendStep();
      case AfterThink.IterationDone:
        this.shared.collector.recordIteration(true);
        return this.endIteration(Outcome.Ok);
      case AfterThink.LoginFailed:
        return this.endIteration(Outcome.Failed);
    }
  }

  /** Waits `ms` (cut short when the run stops: the iteration then ends as Stopped), then goes on. */
  private think(ms: number, next: AfterThink): void {
    const control = this.shared.control;
    if (control.stopped) return this.endIteration(Outcome.Stopped);
    if (ms <= 0) return this.goOn(next);
    this.afterThink = next;
    this.thinkTimer = setTimeout(this.thinkOver, ms);
    control.signal.addEventListener('abort', this.thinkCut, { once: true });
  }

  private readonly thinkOver = (): void => {
    this.thinkTimer = null;
    this.shared.control.signal.removeEventListener('abort', this.thinkCut);
    try {
      if (this.shared.control.stopped) this.endIteration(Outcome.Stopped);
      else this.goOn(this.afterThink);
    } catch (err) {
      this.stepCrashed(err);
    }
  };

  private readonly thinkCut = (): void => {
    if (this.thinkTimer === null) return;
    clearTimeout(this.thinkTimer);
    this.thinkTimer = null;
    this.endIteration(Outcome.Stopped);
  };

  private endIteration(o: Outcome): void {
    const end = this.iterEnd;
    this.iterEnd = null;
    this.iterFail = null;
    end?.(o);
  }
}
