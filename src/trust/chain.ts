/**
 * The hash chain over `logs`: every row Vigil commits carries a position (`chain_pos`, 1, 2, 3, …
 * with no gaps) and a hash (`chain_hash`) covering the previous row's hash, its own position and a
 * canonical encoding of the row:
 *
 *     chain_hash(n) = SHA-256( chain_hash(n-1) ‖ "<n>\n" ‖ canonical(row n) )
 *     canonical(row) = id "\n" level "\n" <timestamp in ms since the epoch> "\n" event_type "\n"
 *                      message "\n" canonicalJson(log_metadata)
 *
 * `chain_hash(0)` is 32 zero bytes. `canonicalJson` is JSON with object keys sorted (by UTF-16 code
 * units) at every depth, no spaces; it is also the text Vigil stores, so a row read back encodes
 * to the same bytes. The metadata JSON holds no raw newline, so the encoding is unambiguous.
 *
 * Writers serialise per batch on the one-row table `vigil_chain` (the head: last position and
 * hash), locked FOR UPDATE by `vigil_chain_begin` for the rest of the writing transaction.
 */
import { createHash, hash as hashOnce } from 'node:crypto';
import type { Tx } from '../store/store.js';
import type { EventRow } from '../events/types.js';

export const GENESIS_HASH = Buffer.alloc(32);

/** JSON.stringify's treatment of one value, with keys sorted; undefined when it would be skipped. */
export function canonicalJson(value: unknown): string | undefined {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return JSON.stringify(value);
    case 'number':
      return Number.isFinite(value) ? JSON.stringify(value) : 'null';
    case 'undefined':
    case 'function':
    case 'symbol':
      return undefined;
    case 'bigint':
      throw new TypeError('a BigInt cannot be stored in log_metadata');
  }
  const obj = value as { toJSON?: () => unknown };
  if (typeof obj.toJSON === 'function') return canonicalJson(obj.toJSON());
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) out += (i > 0 ? ',' : '') + (canonicalJson(value[i]) ?? 'null');
    return out + ']';
  }
  const o = value as Record<string, unknown>;
  const keys = Object.keys(o);
  // Flat objects (the common case) go through the native serialiser, which is fastest without a
  // replacer: as they are when their keys are in order already, else rebuilt in order. (Not with
  // keys starting with a digit: JavaScript puts integer-like keys first, whatever the insertion.)
  let flat = true;
  let sorted = true;
  for (let i = 0; i < keys.length; i++) {
    const v = o[keys[i]];
    const c = keys[i].charCodeAt(0);
    if ((v !== null && typeof v === 'object') || (c >= 48 && c <= 57)) {
      flat = false;
      break;
    }
    if (i > 0 && keys[i - 1] > keys[i]) sorted = false;
  }
  if (flat) {
    if (sorted) return JSON.stringify(o);
    keys.sort();
    const copy: Record<string, unknown> = {};
    for (const k of keys) copy[k] = o[k];
    return JSON.stringify(copy);
  }
  keys.sort();
  let out = '{';
  let first = true;
  for (const k of keys) {
    const v = canonicalJson(o[k]);
    if (v === undefined) continue;
    out += (first ? '' : ',') + JSON.stringify(k) + ':' + v;
    first = false;
  }
  return out + '}';
}

/** The canonical encoding of a row, given its metadata already in canonical JSON. */
export function canonicalRow(id: string, level: string, timeMs: number | string, eventType: string, message: string, metaJson: string): string {
  return id + '\n' + level + '\n' + timeMs + '\n' + eventType + '\n' + message + '\n' + metaJson;
}

/** chain_hash(n) from chain_hash(n-1), n and the row's canonical encoding. */
export function link(prev: Buffer, pos: number | bigint | string, canonical: string): Buffer {
  return createHash('sha256').update(prev).update(pos + '\n' + canonical).digest();
}

const NEEDS_ESCAPE = /[\\\t\n\r]/;

/** COPY text format: backslash, tab, newline and carriage return are escaped. */
function esc(s: string): string {
  if (!NEEDS_ESCAPE.test(s)) return s;
  return s.replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n').replace(/\r/g, '\\r');
}

/** The columns COPY writes, in order. */
export const COPY_COLUMNS = ['id', 'level', 'message', '"timestamp"', 'event_type', 'log_metadata', 'chain_pos', 'chain_hash'] as const;

/**
 * A batch encoded ahead of its write (the CPU work that does not depend on the chain head):
 * each row's COPY line up to its chain columns, and its canonical encoding.
 */
export interface PreparedRows {
  lines: string[];
  canon: string[];
  /** First days (UTC) of the months the rows fall in: their partitions must exist. */
  months: string[];
  /**
   * The COPY data chained ahead of the write, from the head the writer expects to find (where its
   * previous batch ended); used when the locked head is that one, recomputed otherwise.
   */
  ahead?: { from: ChainLink; data: string; end: ChainLink };
}

/** A position in the chain and its hash. */
export interface ChainLink {
  pos: number;
  hash: Buffer;
}

/** Where one writer's chain ends as far as it knows: set as soon as a batch is hashed. */
export interface ChainTail {
  last: ChainLink | null;
  /** Whether this writer's last write found the head where its previous write had left it. */
  alone?: boolean;
  /** Where this writer's last write left the head. */
  wrote?: ChainLink;
}

export function prepareRows(rows: readonly EventRow[]): PreparedRows {
  const p: PreparedRows = { lines: new Array<string>(rows.length), canon: new Array<string>(rows.length), months: [] };
  const months = new Set<string>();
  encodeRange(rows, p, 0, rows.length, months);
  p.months = [...months];
  return p;
}

/**
 * The sliced functions work in steps of STEP_ROWS rows and yield to the event loop once a turn has
 * taken SLICE_MS: long enough to keep up with a busy producer sharing the loop, short enough that
 * the database's answers to the write in flight wait little.
 */
const STEP_ROWS = 250;
const SLICE_MS = 8;

/** Resolves on a later turn of the event loop when the current one has used its time. */
class Slicer {
  private start = performance.now();

  async step(): Promise<void> {
    if (performance.now() - this.start < SLICE_MS) return;
    await new Promise<void>((resolve) => setImmediate(resolve));
    this.start = performance.now();
  }
}

/**
 * prepareRows in slices, yielding to the event loop between them (Slicer): the writer's round trips to
 * the database (answers waiting in the socket) are handled between slices instead of after the
 * whole batch, so the database is not kept waiting by the encoding of the next batch.
 */
export async function prepareRowsSliced(rows: readonly EventRow[]): Promise<PreparedRows> {
  const p: PreparedRows = { lines: new Array<string>(rows.length), canon: new Array<string>(rows.length), months: [] };
  const months = new Set<string>();
  const slicer = new Slicer();
  for (let at = 0; at < rows.length; at += STEP_ROWS) {
    if (at > 0) await slicer.step();
    encodeRange(rows, p, at, Math.min(rows.length, at + STEP_ROWS), months);
  }
  p.months = [...months];
  return p;
}

function encodeRange(rows: readonly EventRow[], p: PreparedRows, from: number, to: number, months: Set<string>): void {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = from; i < to; i++) {
    const r = rows[i];
    const meta = r.metaJson ?? canonicalJson(r.metadata) ?? '{}';
    const id = r.id.toLowerCase();
    const iso = new Date(r.time).toISOString();
    p.lines[i] = id + '\t' + r.level + '\t' + esc(r.message) + '\t' + iso + '\t' + r.event_type + '\t' + esc(meta) + '\t';
    p.canon[i] = canonicalRow(id, r.level, r.time, r.event_type, r.message, meta);
    if (r.time < lo || r.time >= hi) {
      const month = iso.slice(0, 7);
      months.add(month + '-01');
      const d = new Date(r.time);
      lo = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
      hi = Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
    }
  }
}

export interface ChainHead {
  pos: number;
  hash: Buffer;
  /** Whether `logs` is partitioned by month (PostgreSQL). */
  partitioned: boolean;
}

/**
 * Locks the chain head for the rest of `tx` (other writers wait here), makes sure the partitions
 * for `months` exist (PostgreSQL), and returns the head.
 */
export async function beginChain(tx: Tx, months: readonly string[]): Promise<ChainHead> {
  const { rows } = await tx.query<{ pos: string | number; hash: Uint8Array; partitioned: boolean }>('SELECT pos, hash, partitioned FROM vigil_chain_begin($1::date[])', [months]);
  const head = rows[0];
  if (head === undefined) throw new Error('the chain head (vigil_chain) is missing: run vigil migrate');
  return { pos: Number(head.pos), hash: Buffer.from(head.hash), partitioned: head.partitioned === true };
}

/** Whether two links are the same position with the same hash. */
function sameLink(a: ChainLink, b: ChainLink): boolean {
  return a.pos === b.pos && a.hash.equals(b.hash);
}

/** One PreparedRows of several, in order; chained ahead when each part continues the one before. */
export function mergePrepared(list: readonly PreparedRows[]): PreparedRows {
  if (list.length === 1) return list[0];
  const merged: PreparedRows = { lines: [], canon: [], months: [] };
  const months = new Set<string>();
  let continuous = true;
  for (let i = 0; i < list.length; i++) {
    const p = list[i];
    for (const l of p.lines) merged.lines.push(l);
    for (const c of p.canon) merged.canon.push(c);
    for (const m of p.months) months.add(m);
    if (p.ahead === undefined || (i > 0 && !sameLink(p.ahead.from, list[i - 1].ahead!.end))) continuous = false;
  }
  merged.months = [...months];
  if (continuous) merged.ahead = { from: list[0].ahead!.from, data: list.map((p) => p.ahead!.data).join(''), end: list[list.length - 1].ahead!.end };
  return merged;
}

/**
 * Links rows one after another, each hash computed with one call over a reused buffer holding the
 * previous hash and the row's text (`crypto.hash`: no Hash object per row, the hex text COPY
 * needs comes straight out). Same result as `link`.
 */
class Linker {
  private static buf = Buffer.allocUnsafe(64 * 1024);
  pos: number;
  hex: string;

  constructor(from: ChainLink) {
    this.pos = from.pos;
    this.hex = from.hash.toString('hex');
  }

  /** Links the next row; returns its hash in hex. */
  next(canonical: string): string {
    this.pos++;
    const text = this.pos + '\n' + canonical;
    if (Linker.buf.length < 32 + 3 * text.length) Linker.buf = Buffer.allocUnsafe(32 + 3 * text.length);
    const buf = Linker.buf;
    buf.write(this.hex, 0, 32, 'hex');
    const n = buf.write(text, 32, 'utf8');
    this.hex = hashOnce('sha256', buf.subarray(0, 32 + n), 'hex');
    return this.hex;
  }

  end(): ChainLink {
    return { pos: this.pos, hash: Buffer.from(this.hex, 'hex') };
  }
}

/** COPY text of rows [from, to) of `p`, linked by `l`; `keep` selects rows. */
function chainRange(p: PreparedRows, l: Linker, from: number, to: number, keep?: readonly boolean[]): string {
  let data = '';
  for (let i = from; i < to; i++) {
    if (keep !== undefined && !keep[i]) continue;
    const hex = l.next(p.canon[i]);
    data += p.lines[i] + l.pos + '\t\\\\x' + hex + '\n';
  }
  return data;
}

function chainData(p: PreparedRows, from: ChainLink, keep?: readonly boolean[]): { data: string; end: ChainLink; n: number } {
  const l = new Linker(from);
  const data = chainRange(p, l, 0, p.lines.length, keep);
  return { data, end: l.end(), n: l.pos - from.pos };
}

/**
 * Chains `p` ahead of its write, from where `tail` says this writer's chain ends, and moves the
 * tail on: the hashing then overlaps the write in flight instead of holding the chain lock.
 */
export function chainAhead(p: PreparedRows, tail: ChainTail): void {
  // With other writers moving the head in between, chaining ahead would be wasted work.
  if (tail.last === null || tail.alone !== true) return;
  const { data, end } = chainData(p, tail.last);
  p.ahead = { from: tail.last, data, end };
  tail.last = end;
}

/** chainAhead in slices, yielding to the event loop between them (see prepareRowsSliced). */
export async function chainAheadSliced(p: PreparedRows, tail: ChainTail): Promise<void> {
  if (tail.last === null || tail.alone !== true) return;
  const from = tail.last;
  const l = new Linker(from);
  const parts: string[] = [];
  const slicer = new Slicer();
  for (let at = 0; at < p.lines.length; at += STEP_ROWS) {
    if (at > 0) await slicer.step();
    parts.push(chainRange(p, l, at, Math.min(p.lines.length, at + STEP_ROWS)));
  }
  const end = l.end();
  p.ahead = { from, data: parts.join(''), end };
  // Unless the write in flight failed meanwhile (the tail was reset): then nothing is known.
  if (tail.last === from) tail.last = end;
}

/**
 * Right before a write: chains `p` from where this writer's last write left the head, unless it
 * was chained from there already, so the chain's end is known before the write's first wait
 * (the next write is then chained ahead from it). Only when the writer is writing alone.
 */
export function chainNext(p: PreparedRows, tail: ChainTail): void {
  if (tail.alone !== true || tail.wrote === undefined) return;
  if (p.ahead !== undefined && sameLink(p.ahead.from, tail.wrote)) return;
  tail.last = tail.wrote;
  chainAhead(p, tail);
}

/**
 * Chains and COPYs prepared rows after `head` (locked by beginChain in this transaction), then
 * moves the head. `keep` selects the rows to write (all when absent). `tail`, when given, learns
 * where the chain ends as soon as the rows are hashed.
 */
export async function appendChained(tx: Tx, head: ChainHead, p: PreparedRows, keep?: readonly boolean[], tail?: ChainTail): Promise<number> {
  const ahead = keep === undefined && p.ahead !== undefined && sameLink(p.ahead.from, head) ? p.ahead : undefined;
  const { data, end, n } = ahead !== undefined ? { ...ahead, n: p.lines.length } : chainData(p, head, keep);
  if (tail !== undefined) {
    tail.alone = tail.wrote !== undefined && sameLink(tail.wrote, head);
    tail.wrote = end;
    if (ahead === undefined || tail.last === null) tail.last = end;
  }
  if (n === 0) return 0;
  // A batch within one month goes straight into its partition (see migration 010): COPY into the
  // partitioned parent would insert row by row because of the rollup triggers' transition tables.
  const month = p.months.length === 1 ? /^(\d{4})-(\d{2})-01$/.exec(p.months[0]) : null;
  await tx.copyIn(head.partitioned && month ? `logs_${month[1]}_${month[2]}` : 'logs', COPY_COLUMNS, data);
  // Under the chain lock the highest seq is this batch's last row.
  await tx.query('UPDATE vigil_chain SET pos = $1, hash = $2, seq = (SELECT max(seq) FROM logs), updated_at = now()', [end.pos, end.hash]);
  return n;
}

/** The rows as COPY text (COPY_COLUMNS) with the chain columns NULL: the benchmarks' reference load. */
export function encodeUnchained(rows: readonly EventRow[]): string {
  return prepareRows(rows).lines.join('\\N\t\\N\n') + '\\N\t\\N\n';
}
