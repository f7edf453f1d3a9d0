import { taskResource } from '../../hub/permissions.js';
import type { Principal } from '../../hub/principal.js';
import { WirehubError } from '../../protocol/index.js';
import type { RunListQuery } from './run-store.js';
import { type RunRecord, runIdOfChannel } from './types.js';

/**
 * Who asks for a run, as the run service records and limits it: the run's `user`, and
 * whether the per-user limit on concurrent runs applies (`quota`).
 */
export interface RunRequester {
  user?: string;
  quota?: boolean;
}

/**
 * The requester behind a principal. The per-user run limit applies to JWT users (those
 * without a `sub` share one slot pool); API keys are trusted servers and auth-off callers
 * are the developer, so neither is limited.
 *
 * @example
 * ```ts
 * assertMayRun(session.principal, ref);
 * const prepared = runs.prepare(ref, inputs, requesterOf(session.principal));
 * ```
 */
export function requesterOf(principal: Principal): RunRequester {
  const requester: RunRequester = { quota: principal.method === 'jwt' };
  if (principal.user !== undefined) requester.user = principal.user;
  return requester;
}

/**
 * Throws `forbidden` unless the principal may run the task `project/domain/name`. Check it
 * before looking the task up, so a refusal does not tell whether the task exists.
 */
export function assertMayRun(
  principal: Principal,
  ref: { project: string; domain: string; name: string },
): void {
  principal.permissions.assert('task', taskResource(ref.project, ref.domain, ref.name));
}

/**
 * Whether the principal may see a run (read it, list it, watch it, follow its channel) and
 * cancel it: it needs the task grant of the run's task, and either started the run itself or
 * has the `allRuns` grant. A principal without a user id (auth off) owns no run, so it
 * relies on `allRuns`, which the default anonymous grants include.
 *
 * @example
 * ```ts
 * const run = runs.get(id);
 * if (run && maySeeRun(principalOf(req), run)) return run;
 * ```
 */
export function maySeeRun(principal: Principal, run: RunRecord): boolean {
  if (!principal.permissions.can('task', taskResource(run.project, run.domain, run.task))) return false;
  if (principal.permissions.can('allRuns')) return true;
  return principal.user !== undefined && run.user === principal.user;
}

/** Throws `forbidden` unless `maySeeRun`; `verb` says what was refused. */
export function assertMaySeeRun(principal: Principal, run: RunRecord, verb: 'see' | 'cancel'): void {
  if (maySeeRun(principal, run)) return;
  const task = taskResource(run.project, run.domain, run.task);
  throw new WirehubError(
    'forbidden',
    principal.permissions.can('task', task)
      ? `not allowed to ${verb} run ${run.run_id}: another user started it`
      : `not allowed to ${verb} runs of task ${task}`,
    { action: verb === 'see' ? 'run' : 'cancel', run_id: run.run_id },
  );
}

/**
 * Whether `channel` is the channel `run:<id>` of a run the principal may see: that makes the
 * channel readable (subscribe, history) without a channel grant on `run:*`.
 */
export function maySeeRunChannel(
  principal: Principal,
  channel: string,
  runs: { get(runId: string): RunRecord | undefined } | undefined,
): boolean {
  const runId = runIdOfChannel(channel);
  const run = runId === undefined ? undefined : runs?.get(runId);
  return run !== undefined && maySeeRun(principal, run);
}

/**
 * The `list` filter that yields exactly the runs `maySeeRun` allows, or undefined when the
 * principal may see none.
 *
 * @example
 * ```ts
 * const query = visibleRunsQuery(principalOf(req), { limit: 50 });
 * const visible = query ? runs.list(query) : [];
 * ```
 */
export function visibleRunsQuery(
  principal: Principal,
  query: Pick<RunListQuery, 'status' | 'limit'>,
): RunListQuery | undefined {
  const tasks = principal.permissions.patterns('task');
  if (tasks.length === 0) return undefined;
  const out: RunListQuery = { ...query };
  // A grant of `*` covers every task: no need to make SQLite match it.
  if (!tasks.some((pieces) => pieces.length === 2 && pieces[0] === '' && pieces[1] === '')) out.tasks = tasks;
  if (!principal.permissions.can('allRuns')) {
    if (principal.user === undefined) return undefined;
    out.user = principal.user;
  }
  return out;
}
