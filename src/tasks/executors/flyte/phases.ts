import { isTerminal } from '../../runs/state-machine.js';
import type { RunError, RunStatus } from '../../runs/types.js';
import type { ExecutorUpdate } from '../executor.js';
import { type ActionDetails, ActionPhase, ErrorInfo_Kind } from './idl.js';

/** RECOVERED (a newer phase than this flyteidl2 has): the action's outputs were recovered from an earlier run. */
export const ACTION_PHASE_RECOVERED = 10;

const PHASE_NAMES: Record<number, string> = {
  [ActionPhase.QUEUED]: 'QUEUED',
  [ActionPhase.WAITING_FOR_RESOURCES]: 'WAITING_FOR_RESOURCES',
  [ActionPhase.INITIALIZING]: 'INITIALIZING',
  [ActionPhase.RUNNING]: 'RUNNING',
  [ActionPhase.SUCCEEDED]: 'SUCCEEDED',
  [ActionPhase.FAILED]: 'FAILED',
  [ActionPhase.ABORTED]: 'ABORTED',
  [ActionPhase.TIMED_OUT]: 'TIMED_OUT',
  [ActionPhase.PAUSED]: 'PAUSED',
  [ACTION_PHASE_RECOVERED]: 'RECOVERED',
};

/** Flyte's name of a phase. */
export function phaseName(phase: number): string {
  return PHASE_NAMES[phase] ?? `PHASE_${phase}`;
}

/** The phases that end an action. */
export function isFinalPhase(phase: number): boolean {
  return (
    phase === ActionPhase.SUCCEEDED ||
    phase === ActionPhase.FAILED ||
    phase === ActionPhase.ABORTED ||
    phase === ActionPhase.TIMED_OUT ||
    phase === ACTION_PHASE_RECOVERED
  );
}

/** The wirehub status a Flyte phase shows as (WAITING_FOR_RESOURCES waits, PAUSED still runs). */
export function statusOf(phase: number): RunStatus | undefined {
  switch (phase) {
    case ActionPhase.QUEUED:
    case ActionPhase.WAITING_FOR_RESOURCES:
      return 'QUEUED';
    case ActionPhase.INITIALIZING:
      return 'INITIALIZING';
    case ActionPhase.RUNNING:
    case ActionPhase.PAUSED:
      return 'RUNNING';
    case ActionPhase.SUCCEEDED:
    case ACTION_PHASE_RECOVERED:
      return 'SUCCEEDED';
    case ActionPhase.FAILED:
      return 'FAILED';
    case ActionPhase.ABORTED:
      return 'ABORTED';
    case ActionPhase.TIMED_OUT:
      return 'TIMED_OUT';
    default:
      return undefined;
  }
}

/** The statuses a run goes through before its end, in order. */
const RANK: RunStatus[] = ['QUEUED', 'INITIALIZING', 'RUNNING'];

/** One step of an action as a watcher sees it: a phase of one attempt. */
interface Step {
  attempt: number;
  phase: number;
  /** The attempt's error, for a failed attempt. */
  error?: RunError;
}

function errorOf(info: { message: string; kind: ErrorInfo_Kind } | undefined, fallback: string): RunError {
  return {
    kind: info?.kind === ErrorInfo_Kind.SYSTEM ? 'SYSTEM' : 'USER',
    message: info?.message || fallback,
  };
}

/** What the translator needs back when the action ended: outputs to read, or the update itself. */
export type Translation =
  | { kind: 'update'; update: ExecutorUpdate }
  | { kind: 'succeeded'; recovered: boolean };

/**
 * Turns the snapshots of one action (`WatchActionDetails` sends the whole action each time)
 * into wirehub run updates: each (attempt, phase) once, in order, however often a snapshot
 * repeats it (a re-subscribe sends the current state again), and with the phases a snapshot
 * skipped filled in from the attempts' phase transitions, or bridged where wirehub's state
 * machine needs a step (QUEUED → INITIALIZING → RUNNING before an end that needs them).
 * A failed attempt followed by another one becomes a QUEUED update ("attempt 1 of 3 failed
 * (USER: …); Flyte retries it"); only the action's own final phase ends the run.
 *
 * @example
 * ```ts
 * const t = new PhaseTranslator(3);
 * for (const step of t.next(details)) if (step.kind === 'update') emit(step.update);
 * ```
 */
export class PhaseTranslator {
  private readonly seen = new Set<string>();
  private status: RunStatus;
  private attempt: number;
  private ended = false;
  /** The error of the last failed attempt seen, for the QUEUED update of the retry after it. */
  private pendingError: RunError | undefined;
  /** For a re-attached run: steps at or before where it stood are known already. */
  private readonly floor: { attempt: number; rank: number } | undefined;

  constructor(
    readonly maxAttempts: number,
    /**
     * Where the run stands already (a run re-attached after a restart): steps up to there were
     * relayed before and are not relayed again.
     */
    from?: { status: RunStatus; attempt: number },
  ) {
    this.status = from?.status ?? 'QUEUED';
    this.attempt = from?.attempt ?? 1;
    if (from) this.floor = { attempt: from.attempt, rank: RANK.indexOf(from.status) };
  }

  /** True once the final phase was translated. */
  get done(): boolean {
    return this.ended;
  }

  /** Updates for what this snapshot says that earlier ones did not. */
  next(details: ActionDetails): Translation[] {
    if (this.ended) return [];
    const out: Translation[] = [];
    for (const step of this.steps(details)) {
      const key = `${step.attempt}:${step.phase}`;
      if (this.seen.has(key)) continue;
      this.seen.add(key);
      this.translate(step, out);
    }
    const phase = details.status?.phase ?? ActionPhase.UNSPECIFIED;
    if (isFinalPhase(phase)) {
      const attempt = Math.max(this.attempt, details.status?.attempts ?? 0, 1);
      this.moveToAttempt(attempt, out);
      this.finish(details, phase, out);
    }
    return out;
  }

  /** The attempts' phase transitions, then each attempt's phase, then the action's current phase. */
  private steps(details: ActionDetails): Step[] {
    const steps: Step[] = [];
    const attempts = [...details.attempts].sort((a, b) => a.attempt - b.attempt);
    for (const a of attempts) {
      const n = Math.max(1, a.attempt);
      const error = a.errorInfo ? errorOf(a.errorInfo, `attempt ${n} failed`) : undefined;
      for (const phase of [...a.phaseTransitions.map((t) => t.phase), a.phase]) {
        const step: Step = { attempt: n, phase };
        if (error && isFinalPhase(phase)) step.error = error;
        steps.push(step);
      }
    }
    const phase = details.status?.phase ?? ActionPhase.UNSPECIFIED;
    if (!isFinalPhase(phase) && phase !== ActionPhase.UNSPECIFIED) {
      steps.push({ attempt: Math.max(1, details.status?.attempts ?? 1), phase });
    }
    return steps;
  }

  private describeAttempt(attempt = this.attempt): string {
    return `attempt ${attempt} of ${Math.max(this.maxAttempts, attempt)}`;
  }

  private push(out: Translation[], update: ExecutorUpdate): void {
    this.status = update.status;
    out.push({ kind: 'update', update });
  }

  /** A later attempt started: the one before it failed and Flyte retries the action. */
  private moveToAttempt(attempt: number, out: Translation[]): void {
    if (attempt <= this.attempt) return;
    const error = this.pendingError;
    this.pendingError = undefined;
    const failed = this.describeAttempt();
    const why = error ? ` (${error.kind}: ${error.message})` : '';
    this.attempt = attempt;
    this.push(out, { status: 'QUEUED', message: `${failed} failed${why}; Flyte retries it`, attempt });
  }

  /** Steps wirehub's state machine needs before `to` (Flyte may skip INITIALIZING, or a snapshot did). */
  private bridge(to: RunStatus, out: Translation[]): void {
    const order = RANK;
    const target = isTerminal(to)
      ? to === 'SUCCEEDED'
        ? 'RUNNING'
        : to === 'TIMED_OUT'
          ? 'INITIALIZING'
          : undefined
      : to;
    if (target === undefined || target === 'QUEUED') return;
    const from = order.indexOf(this.status);
    const until = order.indexOf(target);
    for (let i = from + 1; i < until; i += 1) {
      const status = order[i] as RunStatus;
      this.push(out, this.stepUpdate(status, status, ''));
    }
  }

  private stepUpdate(status: RunStatus, phase: string, detail: string): ExecutorUpdate {
    const update: ExecutorUpdate = {
      status,
      message: `${phase} on Flyte${detail} (${this.describeAttempt()})`,
    };
    if (status === 'INITIALIZING') update.attempt = this.attempt;
    return update;
  }

  private translate(step: Step, out: Translation[]): void {
    if (step.attempt < this.attempt) return;
    if (step.attempt > this.attempt) this.moveToAttempt(step.attempt, out);
    if (isFinalPhase(step.phase)) {
      // An attempt's end: the run ends with the action's own final phase, not here. A failed
      // attempt's error names the reason of the retry that follows.
      if (step.error && step.phase !== ActionPhase.SUCCEEDED) this.pendingError = step.error;
      return;
    }
    const status = statusOf(step.phase);
    if (!status) return;
    const f = this.floor;
    if (f && (step.attempt < f.attempt || (step.attempt === f.attempt && RANK.indexOf(status) <= f.rank)))
      return;
    if (status === 'QUEUED') {
      // The run was stored QUEUED when it was created: only waiting for resources is news.
      if (step.phase === ActionPhase.WAITING_FOR_RESOURCES && this.status === 'QUEUED') {
        this.push(
          out,
          this.stepUpdate('QUEUED', 'WAITING_FOR_RESOURCES', ': waiting for resources on the cluster'),
        );
      }
      return;
    }
    this.bridge(status, out);
    const detail = step.phase === ActionPhase.PAUSED ? ': waiting for input' : '';
    this.push(out, this.stepUpdate(status, phaseName(step.phase), detail));
  }

  private finish(details: ActionDetails, phase: number, out: Translation[]): void {
    const status = statusOf(phase) as RunStatus;
    this.bridge(status, out);
    this.ended = true;
    const name = phaseName(phase);
    const result = details.result;
    switch (phase) {
      case ActionPhase.SUCCEEDED:
      case ACTION_PHASE_RECOVERED:
        out.push({ kind: 'succeeded', recovered: phase === ACTION_PHASE_RECOVERED });
        return;
      case ActionPhase.ABORTED: {
        const reason = result.case === 'abortInfo' ? result.value.reason : '';
        const message = reason || 'aborted';
        this.push(out, {
          status: 'ABORTED',
          message: `ABORTED on Flyte: ${message}`,
          error: { kind: 'USER', message },
        });
        return;
      }
      default: {
        const info = result.case === 'errorInfo' ? result.value : details.attempts.at(-1)?.errorInfo;
        const error = errorOf(
          info,
          phase === ActionPhase.TIMED_OUT ? 'timed out on Flyte' : 'failed on Flyte',
        );
        this.push(out, { status, message: `${name} on Flyte: ${error.message}`, error });
      }
    }
  }
}
