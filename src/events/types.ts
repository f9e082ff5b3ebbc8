/** TypeScript types derived from the catalogue, so the SDK's signatures cannot drift from it. */
import type { BuiltinEventType, CATALOGUE, FieldType, Level } from './catalogue.js';

type TsType<T extends FieldType> = T extends 'string' | 'text'
  ? string
  : T extends 'count' | 'amount' | 'http_status'
    ? number
    : T extends 'object'
      ? Record<string, unknown>
      : unknown;

type Fields<E extends BuiltinEventType> = (typeof CATALOGUE)[E]['fields'];
type RequiredKeys<E extends BuiltinEventType> = {
  [K in keyof Fields<E>]: Fields<E>[K] extends { required: true } ? K : never;
}[keyof Fields<E>];
type OptionalKeys<E extends BuiltinEventType> = Exclude<keyof Fields<E>, RequiredKeys<E>>;

/** The fields of one built-in event type, as the SDK method takes them. */
export type EventFields<E extends BuiltinEventType> = {
  -readonly [K in RequiredKeys<E>]: TsType<Fields<E>[K] extends { type: infer T extends FieldType } ? T : never>;
} & {
  -readonly [K in OptionalKeys<E>]?: TsType<Fields<E>[K] extends { type: infer T extends FieldType } ? T : never> | null;
};

/** Per-call options every logging method accepts next to the event's fields. */
export interface EnvelopeOptions {
  /** A UUID chosen by the caller, to make retries idempotent. Generated (UUIDv7) when absent. */
  id?: string;
  /** When the event happened (ISO 8601 or a Date). Defaults to now. */
  timestamp?: string | Date;
  /** Overrides the event type's default level. */
  level?: Level;
  /** Overrides the generated human message. */
  message?: string;
}

/** An event as `log(event)` and the HTTP API take it: the flat `log_metadata` plus envelope fields. */
export type AnyEvent = { event_type: string } & EnvelopeOptions & Record<string, unknown>;

/** A validated event, ready to store: one row of `logs`. */
export interface EventRow {
  id: string;
  level: Level;
  message: string;
  /** Milliseconds since the epoch. */
  time: number;
  event_type: string;
  /** `{event_type, ...fields}` exactly as stored in `log_metadata`. */
  metadata: Record<string, unknown>;
  /**
   * Set when a client gave the id but no timestamp: on PostgreSQL rows are unique by (id,
   * timestamp), so such a row is looked up by id before it is written.
   */
  checkId?: boolean;
  /** `metadata` as canonical JSON, when it was made already (for the event's log line). */
  metaJson?: string;
}

export type LogResult =
  | { success: true; id: string; timestamp: string }
  | { success: false; timestamp: string; error: string };
