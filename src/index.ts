/**
 * wirehub: a real-time WebSocket server and toolkit.
 *
 * @example
 * ```ts
 * import { createServer } from 'wirehub';
 * const server = await createServer({ port: 8080 });
 * await server.listen();
 * ```
 */
export type {
  ConnectionHandlers,
  EndpointContext,
  EndpointDefinition,
  UpgradeInfo,
} from './endpoints/endpoint.js';
export { defineEndpoint } from './endpoints/endpoint.js';
export { type RtEndpointOptions, rtEndpoint } from './endpoints/rt/rt-endpoint.js';
export { taskRunnerEndpoint } from './endpoints/task-runner.js';
export type { LimitStore, RateDecision, RateRule } from './engine/limits.js';
export { MemoryEngine } from './engine/memory/memory-engine.js';
export { MemoryLimitStore } from './engine/memory/memory-limit-store.js';
export type { RedisTarget } from './engine/redis/connection.js';
export type { RedisEngineOptions } from './engine/redis/redis-engine.js';
export { SqliteEngine, type SqliteEngineOptions } from './engine/sqlite/sqlite-engine.js';
export type { SqliteSync } from './engine/sqlite/sync-mode.js';
export { StoreHealth } from './engine/store-health.js';
export type * from './engine/types.js';
export type { FanoutMember, FanoutTransport } from './hub/fanout.js';
export { Frame } from './hub/frame.js';
export type { Encoder, HubOptions, Subscriber } from './hub/hub.js';
export { Hub } from './hub/hub.js';
export {
  builtinNamespaces,
  type Namespace,
  type NamespaceConfig,
  Namespaces,
  type PublishPermission,
} from './hub/namespaces.js';
export type {
  Action,
  ChannelAction,
  Grants,
  PatternAction,
  PatternPieces,
  PermissionConfig,
} from './hub/permissions.js';
export { ALL_GRANTS, forbidden, PermissionPolicy, Permissions, taskResource } from './hub/permissions.js';
export type { AuthMethod, Principal, TokenVerifier } from './hub/principal.js';
export { anonymousPrincipal } from './hub/principal.js';
export type { OverflowPolicy, Session } from './hub/session.js';
export * from './protocol/index.js';
export { createServer } from './runtime/create-server.js';
export { createWorker, WorkerNode, type WorkerNodeOptions } from './runtime/worker-node.js';
export type { BackendAssembler, ServerBackends, ServerTasks } from './server/backends.js';
export { type ListenAddress, WirehubServer } from './server/create-server.js';
export type { ServerOptions, TaskServerOptions } from './server/options.js';
export type { AuthOptions } from './server/security/authenticator.js';
export { type GuardCheck, principalOf } from './server/security/http-guard.js';
export type { LimitOptions } from './server/security/limits.js';
export { PAGE } from './server/security/security-headers.js';
export type { UpgradeCheck } from './server/ws/upgrade-gate.js';
export type { BullmqExecutorOptions } from './tasks/executors/bullmq/bullmq-executor.js';
export {
  EmbeddedExecutor,
  type EmbeddedExecutorOptions,
} from './tasks/executors/embedded/embedded-executor.js';
export type {
  ExecutionRequest,
  Executor,
  ExecutorListener,
  ExecutorUpdate,
} from './tasks/executors/executor.js';
export * from './tasks/index.js';
export { type RegisteredTask, type TaskRef, TaskRegistry, type TaskSummary } from './tasks/registry.js';
export type { RedisRunStoreOptions } from './tasks/runs/redis/store.js';
// The run grants a user's own endpoint applies; the server's internals (`requesterOf`,
// `visibleRunsQuery`, `runQuotaKey`, …) stay in their modules.
export {
  assertMayRun,
  assertMaySeeRun,
  maySeeRun,
  type RunRequester,
} from './tasks/runs/run-access.js';
export { type PreparedRun, RunService, type RunServiceOptions } from './tasks/runs/run-service.js';
export type {
  ActiveRun,
  ApplyResult,
  NewRun,
  RefusalReason,
  RunChange,
  RunListQuery,
  RunQuota,
  RunStore,
} from './tasks/runs/run-store.js';
export { SqliteRunStore, type SqliteRunStoreOptions } from './tasks/runs/sqlite-run-store.js';
// RUN_STATUSES, RunStatus, RunUpdate, RunError and runChannel come with the protocol (above).
export type { RunRecord } from './tasks/runs/types.js';
