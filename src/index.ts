/** Vigil's SDK: log business events of an AI-agent platform into Vigil's audit trail. */
import type { AuditLogger } from './sdk/auditLogger.js';
import { createLocalLogger, type LocalLoggerOptions } from './sdk/local.js';
import { createRemoteLogger, type RemoteLoggerOptions } from './sdk/remote.js';

export type AuditLoggerOptions = LocalLoggerOptions | RemoteLoggerOptions;

/**
 * Creates an audit logger. With `url` and `apiKey` it sends to a Vigil server over HTTP;
 * otherwise it writes in-process to the embedded database (`./.vigil/`) or to PostgreSQL
 * (`databaseUrl` or `DATABASE_URL`).
 */
export function createAuditLogger(options: AuditLoggerOptions = {}): AuditLogger {
  if ('url' in options && options.url !== undefined) return createRemoteLogger(options);
  return createLocalLogger(options as LocalLoggerOptions);
}

export type { AuditLogger, AuditLoggerBase, EventMethods, CommonLoggerOptions } from './sdk/auditLogger.js';
export type { LocalLoggerOptions } from './sdk/local.js';
export type { RemoteLoggerOptions } from './sdk/remote.js';
export type { AnyEvent, EnvelopeOptions, EventFields, EventRow, LogResult } from './events/types.js';
export type { WriterStats } from './events/writer.js';
export {
  CATALOGUE,
  LEVELS,
  LEVEL_RANK,
  BUILTIN_EVENT_TYPES,
  MAX_MESSAGE_BYTES,
  MAX_METADATA_BYTES,
  type Level,
  type BuiltinEventType,
} from './events/catalogue.js';
export { validateEvent, formatProblems, type Problem } from './events/validate.js';
export { uuidv7 } from './events/uuid7.js';
export { openStore, resolveStoreOptions, type StoreOptions } from './store/open.js';
export type { Store } from './store/store.js';

// Interventions: the service (in-process), the checks, and the client of a server's API.
export {
  InterventionService,
  type InterventionServiceOptions,
  type CheckOutcome,
  type OpenInput,
  type ListQuery,
  type InterventionDetail,
} from './interventions/service.js';
export { resolveInterventionConfig, DEFAULT_CONFIG as DEFAULT_INTERVENTION_CONFIG, type InterventionConfig } from './interventions/config.js';
export { checkInterventionNeeded, type CheckResult, type CheckContext, type Reason, type TaskInput } from './rules/check.js';
export type { Thresholds } from './rules/thresholds.js';
export { INTERVENTION_LEVELS, compareLevels, type InterventionLevel } from './interventions/levels.js';
export type { Intervention, InterventionStatus } from './interventions/types.js';
export type { Silence } from './interventions/silences.js';
export { InterventionError } from './interventions/errors.js';
export { RuleRunner, type RuleRunnerOptions } from './interventions/runner.js';
export {
  createInterventionClient,
  InterventionClientError,
  type InterventionClient,
  type InterventionClientOptions,
  type RemoteCheckResult,
} from './sdk/interventions.js';

// Delivery: the outbox (channels from config + environment, the recorder, a worker) for in-process use.
export { Outbox, type OutboxOptions, type ExtraChannel } from './outbox/assemble.js';

// People: the live stream's hub, and the websocket, in_app and users' push channels for the outbox's `extra`.
export { StreamHub, type StreamHubOptions } from './http/stream/hub.js';
export { inboxChannels, type InboxChannels, type InboxChannel } from './notifications/inboxChannels.js';
export { InAppChannel } from './channels/inapp.js';
export { WebSocketChannel, interventionAlert } from './channels/websocket.js';
