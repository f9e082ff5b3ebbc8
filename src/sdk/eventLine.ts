/**
 * The per-event structured line, `{..., "event_id": id, "event": {...}, "msg": message}`.
 *
 * Through pino's API, a line costs as much as the rest of a logging call: pino serialises the
 * event's fields, which the writer then serialises again (canonical JSON) to store and chain them.
 * When the logger is configured so that pino would write exactly the line built here — no
 * redaction, mixin, log formatter, hooks or nested key, no serializer for these keys, a
 * destination that takes plain lines and nobody tracing pino's serialisation — the line is built
 * from the event's canonical JSON (made once, for the line and for the stored row) and written to
 * the logger's destination. Any other configuration goes through pino's API, as before.
 *
 * The line carries the same keys and values as pino's (its `event` keys are sorted). The lines of
 * one synchronous stretch of code are handed to the destination together at its end, so a line
 * the application writes through the same destination in that stretch can come before them.
 */
import { channel } from 'node:diagnostics_channel';
import pino, { type Logger } from 'pino';
import type { Level } from '../events/catalogue.js';
import { PINO_METHOD } from './levels.js';

const S = pino.symbols;
// Not in pino's type declarations, but one of its symbols.
const msgPrefixSym = (pino.symbols as unknown as Record<string, symbol>).msgPrefixSym;
/** Pino publishes here when someone traces its serialisation: those lines go through pino. */
const tracing = channel('tracing:pino_asJson:start');

type PinoInternals = Record<symbol, unknown> & Logger;

export interface EventLineWriter {
  /** Writes the line of one event; `metaJson` is its metadata's canonical JSON. */
  write(level: Level, id: string, metadata: Record<string, unknown>, metaJson: string, message: string): void;
  /** Hands over the lines not written yet, and forgets this writer. */
  close(): void;
}

/** What runs at process exit: one listener for every writer. */
const exitHooks = new Set<() => void>();
let listening = false;
function onExit(hook: () => void): void {
  if (!listening) process.on('exit', runExitHooks);
  listening = true;
  exitHooks.add(hook);
}
function runExitHooks(): void {
  for (const hook of exitHooks) hook();
}

/** A writer of lines built here, or null when the logger's configuration needs pino's API. */
export function directLines(logger: Logger): EventLineWriter | null {
  const l = logger as PinoInternals;
  const lsCache = l[S.lsCacheSym] as Record<number, string> | undefined;
  const time = l[S.timeSym] as (() => string) | undefined;
  const stream = l[S.streamSym] as { write(s: string): unknown; [k: symbol]: unknown } | undefined;
  const serializers = (l[S.serializersSym] ?? {}) as Record<string, unknown>;
  const stringifiers = (l[S.stringifiersSym] ?? {}) as object;
  const formatters = (l[S.formattersSym] ?? {}) as { log?: unknown };
  const hooks = (l[S.hooksSym] ?? {}) as { logMethod?: unknown; streamWrite?: unknown };
  const messageKey = l[S.messageKeySym];
  const end = l[S.endSym];
  const values = logger.levels?.values;
  if (
    lsCache === undefined ||
    typeof time !== 'function' ||
    typeof stream?.write !== 'function' ||
    stream[S.needsMetadataGsym] === true ||
    typeof messageKey !== 'string' ||
    typeof end !== 'string' ||
    typeof l[S.chindingsSym] !== 'string' ||
    l[S.mixinSym] ||
    l[S.nestedKeySym] ||
    formatters.log ||
    hooks.logMethod ||
    hooks.streamWrite ||
    Reflect.ownKeys(stringifiers).length > 0 ||
    serializers.event_id ||
    serializers.event ||
    serializers[messageKey] ||
    values === undefined ||
    Object.values(PINO_METHOD).some((m) => typeof values[m] !== 'number' || typeof lsCache[values[m]] !== 'string')
  ) {
    return null;
  }
  const msgKey = ',"' + messageKey + '":';
  const chindings = l[S.chindingsSym] as string;
  // Lines are handed to the destination together, at the end of the synchronous stretch of code
  // that logged them (or every 16 KiB): the destination's cost per write grows with what it
  // buffers already, which made it most of a line's cost when written one by one.
  let pending = '';
  let scheduled = false;
  const hand = () => {
    scheduled = false;
    if (pending === '') return;
    const lines = pending;
    pending = '';
    stream.write(lines);
  };
  // A process ending in the middle of a stretch still writes its lines, as pino does its own.
  const atExit = () => {
    if (pending === '') return;
    hand();
    (stream as { flushSync?: () => void }).flushSync?.();
  };
  onExit(atExit);
  return {
    close() {
      hand();
      exitHooks.delete(atExit);
    },
    write(level, id, metadata, metaJson, message) {
      const method = PINO_METHOD[level];
      if (!logger.isLevelEnabled(method)) return;
      if (tracing.hasSubscribers) {
        hand();
        logger[method]({ event_id: id, event: metadata }, message);
        return;
      }
      const prefix = msgPrefixSym === undefined ? undefined : l[msgPrefixSym];
      const msg = typeof prefix === 'string' ? prefix + message : message;
      pending += lsCache[values[method]] + time.call(logger) + chindings + ',"event_id":"' + id + '","event":' + metaJson + msgKey + JSON.stringify(msg) + end;
      if (pending.length >= 16_384) hand();
      else if (!scheduled) {
        scheduled = true;
        queueMicrotask(hand);
      }
    },
  };
}
