/**
 * `vigil verify`: recomputes the chain over `logs` and checks it against the signed checkpoints
 * (those in the database and, with a file, those exported outside it). Answers OK with counts, or
 * the problems found, the first first:
 *
 * - changed:   a row's content no longer matches its hash;
 * - removed:   positions are missing and no signed retention anchor accounts for them, or the
 *              chain ends before its recorded head or a checkpoint;
 * - inserted:  a row with no chain position (written behind Vigil's back), or a position taken twice;
 * - checkpoint: a signed checkpoint disagrees with the chain, or its signature does not hold.
 *
 * Rows are read in seq order, in pages, so memory stays flat on any size of trail.
 */
import type { Queryable } from '../store/store.js';
import { canonicalJson, canonicalRow, GENESIS_HASH, link } from './chain.js';
import { chainState, listCheckpoints, signatureValid, type Checkpoint } from './checkpoints.js';

export const VERIFY_PAGE_ROWS = 5_000;
/** Problems listed in full; the rest are counted. */
export const MAX_LISTED_PROBLEMS = 50;

export type ProblemKind = 'changed' | 'removed' | 'inserted' | 'checkpoint';

export interface Problem {
  kind: ProblemKind;
  message: string;
  seq?: number;
  id?: string;
  chain_pos?: number;
}

export interface VerifyOptions {
  /** Start at the last valid checkpoint taken at or before this time (rows before it are not read). */
  since?: Date;
  /** Checkpoints exported outside the database. */
  fileCheckpoints?: readonly Checkpoint[];
  /** Public keys (SPKI DER base64) or key ids to trust; when given, checkpoints signed otherwise are problems. */
  trustedKeys?: readonly string[];
  onProgress?: (rowsRead: number) => void;
  pageRows?: number;
}

export interface VerifyReport {
  ok: boolean;
  /** Rows read. */
  rows: number;
  /** Rows whose chain link was recomputed and held. */
  chained: number;
  /** Rows stored before the chain began (migration 009). */
  legacy: number;
  first_pos: number | null;
  last_pos: number | null;
  first_seq: number | null;
  last_seq: number | null;
  head_pos: number;
  started_from: string;
  checkpoints_checked: number;
  anchors_used: number;
  keys: string[];
  problems: Problem[];
  problem_count: number;
}

interface Row {
  seq: string;
  id: string;
  level: string;
  message: string;
  /** Whether the stored message starts with U+FEFF (the embedded store's text decoder drops it). */
  bom: boolean;
  t: string;
  event_type: string;
  log_metadata: unknown;
  chain_pos: string | null;
  chain_hash: Uint8Array | null;
}

/** The stored timestamp in ms as the chain encodes it; a sub-millisecond value keeps its fraction (and fails). */
function msText(t: string): string {
  return t.includes('.') ? t.replace(/\.0*$/, '') : t;
}

export async function verifyChain(db: Queryable, opts: VerifyOptions = {}): Promise<VerifyReport> {
  const problems: Problem[] = [];
  let problemCount = 0;
  const problem = (p: Problem) => {
    problemCount++;
    if (problems.length < MAX_LISTED_PROBLEMS) problems.push(p);
  };

  // Checkpoints: from the database and the file; every signature checked, keys pinned if asked.
  const dbCps = await listCheckpoints(db);
  // A file usually repeats the database's checkpoints: each identical one counts once.
  const unique = new Map<string, Checkpoint>();
  for (const c of [...dbCps, ...(opts.fileCheckpoints ?? [])]) {
    const k = [c.kind, c.from_pos, c.chain_pos, c.seq, c.hash, c.created_at, c.key_id, c.public_key, c.signature].join('|');
    if (!unique.has(k)) unique.set(k, c);
  }
  const all = [...unique.values()];
  const trusted = opts.trustedKeys ? new Set(opts.trustedKeys) : null;
  const keys = new Set<string>();
  const valid: Checkpoint[] = [];
  for (const c of all) {
    if (!signatureValid(c)) {
      problem({ kind: 'checkpoint', chain_pos: c.chain_pos, message: `the ${c.kind} at position ${c.chain_pos} (${c.created_at}) has a signature that does not hold: it was altered` });
      continue;
    }
    if (trusted && !trusted.has(c.key_id) && !trusted.has(c.public_key)) {
      problem({ kind: 'checkpoint', chain_pos: c.chain_pos, message: `the ${c.kind} at position ${c.chain_pos} (${c.created_at}) is signed by key ${c.key_id}, which is not trusted` });
      continue;
    }
    keys.add(c.key_id);
    valid.push(c);
  }
  const anchors = new Map<number, Checkpoint>();
  for (const c of valid) if (c.kind === 'anchor' && c.from_pos !== null) anchors.set(c.from_pos, c);
  const checkpointsAt = new Map<number, Checkpoint[]>();
  for (const c of valid) if (c.kind === 'checkpoint' && c.chain_pos > 0) checkpointsAt.set(c.chain_pos, [...(checkpointsAt.get(c.chain_pos) ?? []), c]);

  /**
   * Follows adjacent anchors from position `from` while they end at or before `to`: the first
   * position they leave unaccounted for (to + 1 when they cover all), and the last anchor used.
   */
  const bridge = (from: number, to: number): { next: number; anchor: Checkpoint | null } => {
    let anchor: Checkpoint | null = null;
    let a = anchors.get(from);
    while (a !== undefined && a.chain_pos <= to) {
      anchor = a;
      from = a.chain_pos + 1;
      a = anchors.get(from);
    }
    return { next: from, anchor };
  };
  /** Whether a removed position is accounted for by an anchor. */
  const anchored = (pos: number): Checkpoint | null => {
    for (const a of anchors.values()) if (a.from_pos! <= pos && pos <= a.chain_pos) return a;
    return null;
  };

  const head = await chainState(db);
  let afterSeq = 0;
  let expected = 1;
  let prev: Buffer = GENESIS_HASH;
  let startedFrom = 'the first row';
  if (opts.since !== undefined) {
    const start = valid
      .filter((c) => c.kind === 'checkpoint' && c.seq !== null && Date.parse(c.created_at) <= opts.since!.getTime())
      .sort((a, b) => b.chain_pos - a.chain_pos)[0];
    if (start !== undefined) {
      afterSeq = start.seq!;
      expected = start.chain_pos + 1;
      prev = Buffer.from(start.hash, 'hex');
      startedFrom = `the checkpoint of ${start.created_at} (position ${start.chain_pos})`;
    }
  }

  const report: VerifyReport = {
    ok: false,
    rows: 0,
    chained: 0,
    legacy: 0,
    first_pos: null,
    last_pos: null,
    first_seq: null,
    last_seq: null,
    head_pos: head.pos,
    started_from: startedFrom,
    checkpoints_checked: 0,
    anchors_used: 0,
    keys: [],
    problems,
    problem_count: 0,
  };
  let lastSeqSeen: number | null = null;
  const seenAbove = (pos: number) => pos < expected;
  const pageRows = opts.pageRows ?? VERIFY_PAGE_ROWS;

  for (;;) {
    const { rows } = await db.query<Row>(
      `SELECT seq, id::text AS id, level, message, left(message, 1) = U&'\\FEFF' AS bom, (extract(epoch FROM "timestamp") * 1000)::text AS t, event_type, log_metadata, chain_pos, chain_hash
         FROM logs WHERE seq > $1 ORDER BY seq LIMIT $2`,
      [afterSeq, pageRows],
    );
    for (const r of rows) {
      const seq = Number(r.seq);
      report.rows++;
      report.first_seq ??= seq;
      report.last_seq = seq;
      if (r.chain_pos === null || r.chain_hash === null) {
        if (seq <= head.legacySeq) report.legacy++;
        else problem({ kind: 'inserted', seq, id: r.id, message: `row seq ${seq} (id ${r.id}) was inserted behind Vigil's back: it has no place in the chain` });
        continue;
      }
      const pos = Number(r.chain_pos);
      const stored = Buffer.from(r.chain_hash);
      if (seenAbove(pos)) {
        problem({ kind: 'inserted', seq, id: r.id, chain_pos: pos, message: `row seq ${seq} (id ${r.id}) was inserted behind Vigil's back: it claims position ${pos}, which comes earlier in the chain` });
        continue;
      }
      let linked = true;
      if (pos > expected) {
        const b = bridge(expected, pos - 1);
        if (b.next === pos) {
          prev = Buffer.from(b.anchor!.hash, 'hex');
          report.anchors_used++;
        } else {
          const after = lastSeqSeen === null ? 'at the start of the trail' : `after row seq ${lastSeqSeen}`;
          problem({
            kind: 'removed',
            seq,
            chain_pos: b.next,
            message: `${pos - b.next === 1 ? `the row at position ${b.next} was` : `the rows at positions ${b.next}–${pos - 1} were`} removed behind Vigil's back (${after}, before row seq ${seq})`,
          });
          linked = false;
        }
      }
      const message = r.bom && !r.message.startsWith('\uFEFF') ? '\uFEFF' + r.message : r.message;
      const canon = canonicalRow(r.id, r.level, msText(r.t), r.event_type, message, canonicalJson(r.log_metadata) ?? '{}');
      if (linked) {
        const h = link(prev, pos, canon);
        if (h.equals(stored)) report.chained++;
        else problem({ kind: 'changed', seq, id: r.id, chain_pos: pos, message: `row seq ${seq} (id ${r.id}, position ${pos}) was changed: its content does not match its hash (or the row before it was rewritten together with its hash)` });
      }
      for (const c of checkpointsAt.get(pos) ?? []) {
        report.checkpoints_checked++;
        if (c.hash !== stored.toString('hex')) problem({ kind: 'checkpoint', seq, chain_pos: pos, message: `the checkpoint of ${c.created_at} signed position ${pos} with another hash: the trail up to row seq ${seq} was rewritten` });
      }
      prev = stored;
      expected = pos + 1;
      report.first_pos ??= pos;
      report.last_pos = pos;
      lastSeqSeen = seq;
    }
    opts.onProgress?.(report.rows);
    if (rows.length < pageRows) break;
    afterSeq = Number(rows[rows.length - 1].seq);
  }

  // The end of the chain: its head when verify began (every row up to it must be there), and
  // checkpoints beyond the last row read.
  const lastPos = expected - 1;
  if (head.pos > lastPos) {
    const b = bridge(expected, head.pos);
    if (b.next === head.pos + 1) report.anchors_used++;
    else {
      problem({
        kind: 'removed',
        chain_pos: b.next,
        message: `${head.pos === b.next ? `the row at position ${b.next} was` : `the rows at positions ${b.next}–${head.pos} were`} removed behind Vigil's back (the chain's head is at ${head.pos}, the last row found is at ${lastPos})`,
      });
    }
  } else if (head.pos < lastPos) {
    // Rows committed while verify read are past the head read at the start: the head now says
    // whether Vigil wrote them.
    const now = await chainState(db);
    report.head_pos = now.pos;
    if (now.pos < lastPos) {
      problem({ kind: 'inserted', chain_pos: now.pos + 1, message: `rows at positions ${now.pos + 1}–${lastPos} were added behind Vigil's back after its recorded head (${now.pos})` });
    }
  }
  for (const [pos, list] of checkpointsAt) {
    if (pos <= lastPos || pos < (opts.since ? expected : 1)) continue;
    const a = anchored(pos);
    for (const c of list) {
      if (a !== null) {
        if (pos === a.chain_pos && c.hash !== a.hash) problem({ kind: 'checkpoint', chain_pos: pos, message: `the checkpoint of ${c.created_at} disagrees with the retention anchor at position ${pos}` });
        continue;
      }
      report.checkpoints_checked++;
      problem({ kind: 'removed', chain_pos: pos, message: `the checkpoint of ${c.created_at} signed position ${pos}, but the chain ends at ${lastPos}: rows were removed behind Vigil's back` });
    }
  }
  report.keys = [...keys].sort();
  report.problem_count = problemCount;
  report.ok = problemCount === 0;
  return report;
}

function n(x: number): string {
  return x.toLocaleString('en-US');
}

/** The human answer of `vigil verify`. */
export function formatReport(r: VerifyReport): string {
  const lines: string[] = [];
  if (r.ok) {
    const range = r.first_pos === null ? 'no chained rows' : `positions ${n(r.first_pos)}–${n(r.last_pos!)}, seq ${n(r.first_seq!)}–${n(r.last_seq!)}`;
    lines.push(`OK: ${n(r.chained)} rows verified (${range}), read from ${r.started_from}`);
    if (r.legacy > 0) lines.push(`    ${n(r.legacy)} rows were stored before the chain began and are not chained`);
    lines.push(`    ${n(r.checkpoints_checked)} signed checkpoints agree; ${n(r.anchors_used)} retention anchors bridge removed rows; head at position ${n(r.head_pos)}`);
    if (r.keys.length > 0) lines.push(`    signing keys: ${r.keys.join(', ')}`);
  } else {
    lines.push(`TAMPERED: ${n(r.problem_count)} problem${r.problem_count === 1 ? '' : 's'} in ${n(r.rows)} rows read from ${r.started_from}. The first:`);
    lines.push(`    ${r.problems[0].message}`);
    if (r.problems.length > 1) {
      lines.push('All problems found:');
      for (const p of r.problems) lines.push(`  - [${p.kind}] ${p.message}`);
      if (r.problem_count > r.problems.length) lines.push(`  … and ${n(r.problem_count - r.problems.length)} more`);
    }
  }
  return lines.join('\n') + '\n';
}
