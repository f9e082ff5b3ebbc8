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
import type { Store, Tx } from '../store/store.js';
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
 * A batch encoded ahead of its write (the CPU work that does not depend on the chain head), in
 * two buffers rather than strings per row (fewer objects for the garbage collector to move):
 * each row's COPY line up to its chain columns, and its canonical encoding.
 */
export interface PreparedRows {
  /** How many rows. */
  n: number;
  /** Row i's COPY line (UTF-8, up to its chain columns) is `lines[lineAt[i], lineAt[i + 1])`. */
  lines: Buffer;
  lineAt: Uint32Array;
  /**
   * Row i's canonical encoding is `canon[canonAt[i], canonEnd[i])`, with LINK_ROOM free bytes
   * before it where chaining writes the previous hash and the position, so that the hash's
   * whole input is one contiguous range.
   */
  canon: Buffer;
  canonAt: Uint32Array;
  canonEnd: Uint32Array;
  /** First days (UTC) of the months the rows fall in: their partitions must exist. */
  months: string[];
  /**
   * The COPY data chained ahead of the write, from the head the writer expects to find (where its
   * previous batch ended); used when the locked head is that one, recomputed otherwise.
   */
  ahead?: { from: ChainLink; data: Buffer; end: ChainLink };
}

/** Room before each canonical encoding: the previous hash, and the position (≤ 16 digits) and "\n". */
const LINK_ROOM = 32 + 17;

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
  /** Whether `logs` was partitioned at this writer's last write (known after its first). */
  partitioned?: boolean;
}

/** A growing byte buffer written front to back. */
class Bytes {
  buf: Buffer;
  at = 0;

  constructor(size: number) {
    this.buf = Buffer.allocUnsafe(size);
  }

  /** Makes room for `bytes` more bytes. */
  room(bytes: number): void {
    if (this.at + bytes <= this.buf.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(2 * this.buf.length, this.at + bytes));
    this.buf.copy(bigger, 0, 0, this.at);
    this.buf = bigger;
  }

  write(s: string): void {
    this.room(3 * s.length);
    this.at += this.buf.write(s, this.at, 'utf8');
  }
}

/** An encoding in progress: prepareRows and prepareRowsSliced fill it range by range. */
class Encoder {
  readonly lines: Bytes;
  readonly canon: Bytes;
  readonly lineAt: Uint32Array;
  readonly canonAt: Uint32Array;
  readonly canonEnd: Uint32Array;
  readonly months = new Set<string>();

  constructor(readonly rows: readonly EventRow[]) {
    const n = rows.length;
    this.lines = new Bytes(n * 384 + 64);
    this.canon = new Bytes(n * (384 + LINK_ROOM) + 64);
    this.lineAt = new Uint32Array(n + 1);
    this.canonAt = new Uint32Array(n);
    this.canonEnd = new Uint32Array(n);
  }

  encode(from: number, to: number): void {
    const { rows, lines, canon } = this;
    let lo = Infinity;
    let hi = -Infinity;
    for (let i = from; i < to; i++) {
      const r = rows[i];
      const meta = r.metaJson ?? canonicalJson(r.metadata) ?? '{}';
      const id = r.id.toLowerCase();
      const iso = new Date(r.time).toISOString();
      this.lineAt[i] = lines.at;
      lines.write(id + '\t' + r.level + '\t' + esc(r.message) + '\t' + iso + '\t' + r.event_type + '\t' + esc(meta) + '\t');
      canon.room(LINK_ROOM);
      canon.at += LINK_ROOM;
      this.canonAt[i] = canon.at;
      canon.write(canonicalRow(id, r.level, r.time, r.event_type, r.message, meta));
      this.canonEnd[i] = canon.at;
      if (r.time < lo || r.time >= hi) {
        this.months.add(iso.slice(0, 7) + '-01');
        const d = new Date(r.time);
        lo = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
        hi = Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
      }
    }
    this.lineAt[to] = lines.at;
  }

  done(): PreparedRows {
    const { lines, canon } = this;
    return { n: this.rows.length, lines: lines.buf.subarray(0, lines.at), lineAt: this.lineAt, canon: canon.buf.subarray(0, canon.at), canonAt: this.canonAt, canonEnd: this.canonEnd, months: [...this.months] };
  }
}

export function prepareRows(rows: readonly EventRow[]): PreparedRows {
  const e = new Encoder(rows);
  e.encode(0, rows.length);
  return e.done();
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
  const e = new Encoder(rows);
  const slicer = new Slicer();
  for (let at = 0; at < rows.length; at += STEP_ROWS) {
    if (at > 0) await slicer.step();
    e.encode(at, Math.min(rows.length, at + STEP_ROWS));
  }
  return e.done();
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
  let n = 0;
  for (const p of list) n += p.n;
  const lineAt = new Uint32Array(n + 1);
  const canonAt = new Uint32Array(n);
  const canonEnd = new Uint32Array(n);
  const months = new Set<string>();
  let row = 0;
  let lineBase = 0;
  let canonBase = 0;
  let continuous = true;
  for (let k = 0; k < list.length; k++) {
    const p = list[k];
    for (let i = 0; i < p.n; i++) {
      lineAt[row + i] = p.lineAt[i] + lineBase;
      canonAt[row + i] = p.canonAt[i] + canonBase;
      canonEnd[row + i] = p.canonEnd[i] + canonBase;
    }
    row += p.n;
    lineBase += p.lines.length;
    canonBase += p.canon.length;
    for (const m of p.months) months.add(m);
    // Parts chained ahead can follow parts that were not (submitted before the chain's end was
    // known): only a list chained ahead throughout, each part from the end of the one before, is.
    const before = k > 0 ? list[k - 1].ahead : undefined;
    if (p.ahead === undefined || (k > 0 && (before === undefined || !sameLink(p.ahead.from, before.end)))) continuous = false;
  }
  lineAt[n] = lineBase;
  const merged: PreparedRows = {
    n,
    lines: Buffer.concat(list.map((p) => p.lines)),
    lineAt,
    canon: Buffer.concat(list.map((p) => p.canon)),
    canonAt,
    canonEnd,
    months: [...months],
  };
  if (continuous) merged.ahead = { from: list[0].ahead!.from, data: Buffer.concat(list.map((p) => p.ahead!.data)), end: list[list.length - 1].ahead!.end };
  return merged;
}

/** Bytes of one row's chain columns at most: position (≤ 16 digits), "\t\\\\x", 64 hex digits, "\n". */
const CHAIN_COLUMNS_BYTES = 16 + 4 + 64 + 1;

/**
 * Links rows of `p` one after another into COPY data: each hash is one `crypto.hash` call over the
 * row's canonical encoding with the previous hash and the position written into the room before
 * it (no Hash object per row); the line and its chain columns are copied into the output buffer.
 * Same result as `link`.
 */
class Linker {
  pos: number;
  hex: string;
  private readonly out: Buffer;
  private at = 0;

  constructor(
    private readonly p: PreparedRows,
    from: ChainLink,
  ) {
    this.pos = from.pos;
    this.hex = from.hash.toString('hex');
    this.out = Buffer.allocUnsafe(p.lines.length + p.n * CHAIN_COLUMNS_BYTES);
  }

  /** Links rows [from, to); `keep` selects rows. */
  range(from: number, to: number, keep?: readonly boolean[]): void {
    const { p, out } = this;
    for (let i = from; i < to; i++) {
      if (keep !== undefined && !keep[i]) continue;
      this.pos++;
      const posText = this.pos + '\n';
      const start = p.canonAt[i] - 32 - posText.length;
      p.canon.write(this.hex, start, 32, 'hex');
      p.canon.write(posText, start + 32, 'latin1');
      this.hex = hashOnce('sha256', p.canon.subarray(start, p.canonEnd[i]), 'hex');
      this.at += p.lines.copy(out, this.at, p.lineAt[i], p.lineAt[i + 1]);
      this.at += out.write(this.pos + '\t\\\\x' + this.hex + '\n', this.at, 'latin1');
    }
  }

  data(): Buffer {
    return this.out.subarray(0, this.at);
  }

  end(): ChainLink {
    return { pos: this.pos, hash: Buffer.from(this.hex, 'hex') };
  }
}

function chainData(p: PreparedRows, from: ChainLink, keep?: readonly boolean[]): { data: Buffer; end: ChainLink; n: number } {
  const l = new Linker(p, from);
  l.range(0, p.n, keep);
  return { data: l.data(), end: l.end(), n: l.pos - from.pos };
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
  const l = new Linker(p, from);
  const slicer = new Slicer();
  for (let at = 0; at < p.n; at += STEP_ROWS) {
    if (at > 0) await slicer.step();
    l.range(at, Math.min(p.n, at + STEP_ROWS));
  }
  const end = l.end();
  p.ahead = { from, data: l.data(), end };
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
 * The head's seq: that of the last row the COPY before it in the transaction wrote, the sequence's
 * last value in this session (rows take their seqs in COPY order). Not `max(seq) FROM logs`, which
 * plans and reads an index of every monthly partition at every write.
 */
const HEAD_SEQ = `seq = currval(pg_get_serial_sequence('logs', 'seq'))`;

/**
 * Chains and COPYs prepared rows after `head` (locked by beginChain in this transaction), then
 * moves the head. `keep` selects the rows to write (all when absent). `tail`, when given, learns
 * where the chain ends as soon as the rows are hashed.
 */
export async function appendChained(tx: Tx, head: ChainHead, p: PreparedRows, keep?: readonly boolean[], tail?: ChainTail): Promise<number> {
  const ahead = keep === undefined && p.ahead !== undefined && sameLink(p.ahead.from, head) ? p.ahead : undefined;
  const { data, end, n } = ahead !== undefined ? { ...ahead, n: p.n } : chainData(p, head, keep);
  if (tail !== undefined) {
    tail.alone = tail.wrote !== undefined && sameLink(tail.wrote, head);
    tail.wrote = end;
    tail.partitioned = head.partitioned;
    if (ahead === undefined || tail.last === null) tail.last = end;
  }
  if (n === 0) return 0;
  await tx.copyIn(copyTable(p, head.partitioned), COPY_COLUMNS, data);
  await tx.query(`UPDATE vigil_chain SET pos = $1, hash = $2, ${HEAD_SEQ}, updated_at = now()`, [end.pos, end.hash]);
  return n;
}

/**
 * Where a batch is copied: a batch within one month goes straight into its partition (see
 * migration 010); COPY into the partitioned parent would insert row by row because of the rollup
 * triggers' transition tables.
 */
function copyTable(p: PreparedRows, partitioned: boolean): string {
  const month = p.months.length === 1 ? /^(\d{4})-(\d{2})-01$/.exec(p.months[0]) : null;
  return partitioned && month ? `logs_${month[1]}_${month[2]}` : 'logs';
}

/** SQLSTATE of vigil_chain_expect (migration 012): the head is not where the writer expected. */
export const CHAIN_MOVED = 'VG001';

/**
 * The whole write in one round trip, where the store can (PostgreSQL) and the batch was chained
 * ahead from where this writer's last write left the head: lock the head and check it is still
 * there, COPY, move the head, commit. Returns false, having written nothing, when it does not
 * apply; throws the store's error otherwise (CHAIN_MOVED when another writer moved the head: then
 * nothing was written, and the caller writes the batch the usual way).
 */
export async function appendAhead(store: Store, p: PreparedRows, tail: ChainTail): Promise<boolean> {
  const ahead = p.ahead;
  if (store.copyTransaction === undefined || ahead === undefined || tail.partitioned === undefined || tail.wrote === undefined || !sameLink(ahead.from, tail.wrote)) return false;
  // Every value below is made here (positions, hashes, month dates of validated timestamps).
  const months = `'{${p.months.join(',')}}'::date[]`;
  const bytea = (b: Buffer) => `'\\x${b.toString('hex')}'::bytea`;
  const end = ahead.end;
  await store.copyTransaction(
    `SELECT vigil_chain_expect(${months}, ${ahead.from.pos}, ${bytea(ahead.from.hash)})`,
    copyTable(p, tail.partitioned),
    COPY_COLUMNS,
    ahead.data,
    `UPDATE vigil_chain SET pos = ${end.pos}, hash = ${bytea(end.hash)}, ${HEAD_SEQ}, updated_at = now()`,
  );
  tail.alone = true;
  tail.wrote = end;
  if (tail.last === null) tail.last = end;
  return true;
}

/** The rows as COPY text (COPY_COLUMNS) with the chain columns NULL: the benchmarks' reference load. */
export function encodeUnchained(rows: readonly EventRow[]): string {
  const p = prepareRows(rows);
  let data = '';
  for (let i = 0; i < p.n; i++) data += p.lines.toString('utf8', p.lineAt[i], p.lineAt[i + 1]) + '\\N\t\\N\n';
  return data;
}
