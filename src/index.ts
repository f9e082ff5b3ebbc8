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
