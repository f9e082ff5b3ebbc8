/** Vigil's SDK: log business events of an AI-agent platform into Vigil's audit trail. */
import { createLocalLogger, type AuditLogger, type LocalLoggerOptions } from './sdk/logger.js';

export type AuditLoggerOptions = LocalLoggerOptions;

/**
 * Creates an audit logger. In-process, it writes to the embedded database (`./.vigil/`) or to
 * PostgreSQL (`databaseUrl` or `DATABASE_URL`).
 */
export function createAuditLogger(options: AuditLoggerOptions = {}): AuditLogger {
  return createLocalLogger(options);
}

export type { AuditLogger, AuditLoggerBase, EventMethods, LocalLoggerOptions } from './sdk/logger.js';
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
