import { z } from 'zod';
import { WirehubError } from '../protocol/index.js';
import { escapeRegExp } from '../util/regexp.js';

/** What a channel permission covers. */
export type ChannelAction = 'subscribe' | 'publish' | 'history' | 'presence';

/**
 * Everything a principal can be allowed to do: the four channel actions, opening an endpoint
 * (by its name: `echo`, `chat`, `rt`, …), running a task (`project/domain/name`), seeing and
 * cancelling runs that other users started (`allRuns`), reading `/metrics`, and the admin API
 * (`admin`: every connection and channel, disconnecting clients).
 */
export type Action = ChannelAction | 'endpoint' | 'task' | 'allRuns' | 'metrics' | 'admin';

/** The actions granted by a yes/no flag rather than by patterns. */
type FlagAction = 'allRuns' | 'metrics' | 'admin';

/**
 * What a principal may do. Each list holds patterns: `*` matches any run of characters
 * (separators included), `{user}` stands for the principal's own user id, anything else is
 * literal. An absent or empty list grants nothing.
 *
 * @example
 * ```ts
 * const member: Grants = {
 *   endpoints: ['ws', 'chat', 'rt'],
 *   subscribe: ['chat:*', 'user:{user}'],
 *   publish: ['chat:*'],
 *   history: ['chat:*'],
 *   tasks: ['demo/development/*'],
 * };
 * ```
 */
export interface Grants {
  endpoints?: string[];
  subscribe?: string[];
  publish?: string[];
  history?: string[];
  presence?: string[];
  tasks?: string[];
  /**
   * See and cancel runs other users started, of the tasks `tasks` covers. Without it a user
   * sees and cancels only the runs they started.
   */
  allRuns?: boolean;
  metrics?: boolean;
  /** The admin API: see every connection and channel of the server, disconnect clients. */
  admin?: boolean;
}

/** Grants that allow everything: auth off (by default), and API keys. */
export const ALL_GRANTS: Readonly<Grants> = Object.freeze({
  endpoints: ['*'],
  subscribe: ['*'],
  publish: ['*'],
  history: ['*'],
  presence: ['*'],
  tasks: ['*'],
  allRuns: true,
  metrics: true,
  admin: true,
});

/** What a verified token without a grants or roles claim may do: everything but `admin`. */
const AUTHENTICATED_GRANTS: Readonly<Grants> = Object.freeze({ ...ALL_GRANTS, admin: false });

const pattern = z.string().min(1).max(256);
const patterns = z.array(pattern).max(256);

/** The shape of `Grants` wherever it comes from (a token claim, the permissions file). */
export const grantsSchema = z.strictObject({
  endpoints: patterns.optional(),
  subscribe: patterns.optional(),
  publish: patterns.optional(),
  history: patterns.optional(),
  presence: patterns.optional(),
  tasks: patterns.optional(),
  allRuns: z.boolean().optional(),
  metrics: z.boolean().optional(),
  admin: z.boolean().optional(),
});

/**
 * Server-side permission config (the `--permissions` JSON file).
 *
 * A token that carries a grants claim or a roles claim gets exactly what those name (the
 * union of its own grants and its roles' grants); a token that carries neither gets
 * `authenticated`. Connections with auth off get `anonymous`.
 */
export interface PermissionConfig {
  /** Grants when auth is off. Default: everything. */
  anonymous?: Grants;
  /**
   * Grants of a verified token with no grants or roles claim. Default: everything but `admin`
   * (disconnecting other people's clients is given by name: a grants claim, a role, an API key).
   */
  authenticated?: Grants;
  /** Named grant sets that tokens select with their roles claim. */
  roles?: Record<string, Grants>;
  /** Claim holding a `Grants` object. Default `wirehub`. */
  grantsClaim?: string;
  /** Claim holding role names (an array, or a space-separated string). Default `roles`. */
  rolesClaim?: string;
}

const claimName = z.string().min(1).max(64);

export const permissionConfigSchema = z.strictObject({
  anonymous: grantsSchema.optional(),
  authenticated: grantsSchema.optional(),
  roles: z
    .record(
      z.string().regex(/^[A-Za-z0-9_.:-]{1,64}$/, 'role names are 1-64 of [A-Za-z0-9_.:-]'),
      grantsSchema,
    )
    .optional(),
  grantsClaim: claimName.optional(),
  rolesClaim: claimName.optional(),
});

const LIST_KEYS = ['endpoints', 'subscribe', 'publish', 'history', 'presence', 'tasks'] as const;
type ListKey = (typeof LIST_KEYS)[number];

/** The actions granted by pattern lists. */
export type PatternAction = Exclude<Action, FlagAction>;

const ACTION_KEY: Record<PatternAction, ListKey> = {
  endpoint: 'endpoints',
  subscribe: 'subscribe',
  publish: 'publish',
  history: 'history',
  presence: 'presence',
  task: 'tasks',
};

/** The resource name of a task, as task patterns see it. */
export function taskResource(project: string, domain: string, task: string): string {
  return `${project}/${domain}/${task}`;
}

/**
 * A grant pattern with `{user}` filled in, as the literal pieces between its `*` wildcards:
 * `run:{user}:*` for alice is `['run:alice:', '']`. A `*` inside the user id stays literal.
 * Both the matcher here and the run store's SQL filter are built from these pieces, so the
 * two cannot disagree on what a pattern means.
 */
export type PatternPieces = readonly string[];

function piecesOf(pattern: string, user: string | undefined): PatternPieces | undefined {
  // A pattern naming {user} matches nothing for a principal without a user id.
  if (pattern.includes('{user}') && user === undefined) return undefined;
  const pieces: string[] = [''];
  pattern.split('{user}').forEach((part, i) => {
    if (i > 0) pieces[pieces.length - 1] += user ?? '';
    part.split('*').forEach((literal, j) => {
      if (j > 0) pieces.push('');
      pieces[pieces.length - 1] += literal;
    });
  });
  return pieces;
}

function compile(list: readonly PatternPieces[]): RegExp | undefined {
  if (list.length === 0) return undefined;
  const alternatives = list.map((pieces) => pieces.map(escapeRegExp).join('.*'));
  return new RegExp(`^(?:${alternatives.join('|')})$`, 's');
}

/** The union of several grant sets. */
export function mergeGrants(...sets: readonly Grants[]): Grants {
  const out: Grants = {};
  for (const key of LIST_KEYS) {
    const merged = new Set<string>();
    for (const set of sets) for (const p of set[key] ?? []) merged.add(p);
    if (merged.size > 0) out[key] = [...merged];
  }
  if (sets.some((s) => s.allRuns === true)) out.allRuns = true;
  if (sets.some((s) => s.metrics === true)) out.metrics = true;
  if (sets.some((s) => s.admin === true)) out.admin = true;
  return out;
}

/** The `forbidden` error for `action` on `resource`, worded the same wherever it is refused. */
export function forbidden(action: Action, resource = ''): WirehubError {
  const what =
    action === 'metrics'
      ? 'read metrics'
      : action === 'admin'
        ? 'use the admin API'
        : action === 'allRuns'
          ? 'see or cancel runs other users started'
          : `${action} ${JSON.stringify(resource)}`;
  return new WirehubError('forbidden', `not allowed to ${what}`, { action, resource });
}

/**
 * A principal's grants, compiled once: `can` is a regular-expression test per call.
 *
 * @example
 * ```ts
 * const p = new Permissions({ subscribe: ['chat:*', 'user:{user}'] }, 'alice');
 * p.can('subscribe', 'user:alice'); // true
 * p.assert('publish', 'chat:lobby'); // throws WirehubError('forbidden')
 * ```
 */
export class Permissions {
  private readonly matchers: Partial<Record<ListKey, RegExp>> = {};
  private readonly pieces: Partial<Record<ListKey, readonly PatternPieces[]>> = {};
  readonly grants: Readonly<Grants>;

  constructor(grants: Grants, user: string | undefined) {
    this.grants = grants;
    for (const key of LIST_KEYS) {
      const list: PatternPieces[] = [];
      for (const p of grants[key] ?? []) {
        const pieces = piecesOf(p, user);
        if (pieces) list.push(pieces);
      }
      this.pieces[key] = list;
      const re = compile(list);
      if (re) this.matchers[key] = re;
    }
  }

  /** True when `action` on `resource` is granted (`resource` is ignored for the flag actions). */
  can(action: Action, resource = ''): boolean {
    if (action === 'metrics' || action === 'allRuns' || action === 'admin')
      return this.grants[action] === true;
    return this.matchers[ACTION_KEY[action]]?.test(resource) ?? false;
  }

  /** Throws `forbidden` unless `action` on `resource` is granted. */
  assert(action: Action, resource = ''): void {
    if (!this.can(action, resource)) throw forbidden(action, resource);
  }

  /** The granted patterns of `action`, `{user}` filled in (for filters outside this process, e.g. SQL). */
  patterns(action: PatternAction): readonly PatternPieces[] {
    return this.pieces[ACTION_KEY[action]] ?? [];
  }
}

/**
 * Turns config and token claims into grants (see `PermissionConfig` for the rule).
 *
 * @example
 * ```ts
 * const policy = new PermissionPolicy({ roles: { reader: { subscribe: ['*'] } } });
 * policy.grantsFor({ sub: 'alice', roles: ['reader'] }); // { subscribe: ['*'] }
 * ```
 */
export class PermissionPolicy {
  readonly anonymous: Grants;
  readonly authenticated: Grants;
  private readonly roles: Map<string, Grants>;
  private readonly grantsClaim: string;
  private readonly rolesClaim: string;

  constructor(config: PermissionConfig = {}) {
    const parsed = permissionConfigSchema.parse(config);
    this.anonymous = parsed.anonymous ?? ALL_GRANTS;
    this.authenticated = parsed.authenticated ?? AUTHENTICATED_GRANTS;
    this.roles = new Map(Object.entries(parsed.roles ?? {}));
    this.grantsClaim = parsed.grantsClaim ?? 'wirehub';
    this.rolesClaim = parsed.rolesClaim ?? 'roles';
  }

  /** Grants of a verified token. Throws `unauthorized` when its grants or roles claim is malformed. */
  grantsFor(claims: Readonly<Record<string, unknown>>): Grants {
    const hasGrants = Object.hasOwn(claims, this.grantsClaim);
    const hasRoles = Object.hasOwn(claims, this.rolesClaim);
    if (!hasGrants && !hasRoles) return this.authenticated;
    const sets: Grants[] = [];
    if (hasGrants) {
      const own = grantsSchema.safeParse(claims[this.grantsClaim]);
      if (!own.success) {
        throw new WirehubError(
          'unauthorized',
          `the token's "${this.grantsClaim}" claim is malformed: ${z.prettifyError(own.error)}`,
        );
      }
      sets.push(own.data);
    }
    if (hasRoles) {
      for (const role of roleNames(claims[this.rolesClaim], this.rolesClaim)) {
        const grants = this.roles.get(role);
        if (grants) sets.push(grants);
      }
    }
    return mergeGrants(...sets);
  }
}

function roleNames(value: unknown, claim: string): string[] {
  if (typeof value === 'string') return value.split(' ').filter((r) => r !== '');
  if (Array.isArray(value) && value.every((r) => typeof r === 'string')) return value;
  throw new WirehubError(
    'unauthorized',
    `the token's "${claim}" claim must be an array of role names or a space-separated string`,
  );
}
