// The parts of the Flyte 2 API (flyteidl2) that wirehub uses, in one place: the executor and
// the test stand-in import them from here. `gen/` is copied out of @flyteorg/flyteidl2 by
// scripts/flyte-idl.mjs (npm run check / build / prepare) and compiled with src/.
export { AuthMetadataService, type GetOAuth2MetadataResponse } from './gen/flyteidl2/auth/auth_service_pb.js';
export {
  type ActionIdentifier,
  ActionIdentifierSchema,
  type RunIdentifier,
  RunIdentifierSchema,
} from './gen/flyteidl2/common/identifier_pb.js';
export { ActionPhase } from './gen/flyteidl2/common/phase_pb.js';
export type { TypedInterface, Variable } from './gen/flyteidl2/core/interface_pb.js';
export {
  BinarySchema,
  type Literal,
  LiteralCollectionSchema,
  LiteralMapSchema,
  LiteralSchema,
  PrimitiveSchema,
  ScalarSchema,
  UnionSchema,
  VoidSchema,
} from './gen/flyteidl2/core/literals_pb.js';
export {
  type LiteralType,
  LiteralTypeSchema,
  SimpleType,
  TypeStructureSchema,
} from './gen/flyteidl2/core/types_pb.js';
export {
  type Inputs,
  InputsSchema,
  type NamedLiteral,
  NamedLiteralSchema,
  type Outputs,
  OutputsSchema,
} from './gen/flyteidl2/task/common_pb.js';
export {
  type TaskDetails,
  TaskDetailsSchema,
  type TaskIdentifier,
  TaskIdentifierSchema,
} from './gen/flyteidl2/task/task_definition_pb.js';
export { TaskService } from './gen/flyteidl2/task/task_service_pb.js';
export {
  AbortInfoSchema,
  ActionAttemptSchema,
  type ActionDetails,
  ActionDetailsSchema,
  ErrorInfo_Kind,
  ErrorInfoSchema,
  PhaseTransitionSchema,
} from './gen/flyteidl2/workflow/run_definition_pb.js';
export {
  type CreateRunRequest,
  CreateRunRequestSchema,
  RunService,
} from './gen/flyteidl2/workflow/run_service_pb.js';
