/**
 * Retention: the only path that removes rows from `logs`.
 *
 * - PostgreSQL: `logs` is partitioned by month; every partition whose month ends at or before the
 *   cutoff is dropped whole (rows of a month that straddles the cutoff stay until it is over).
 * - Embedded: rows older than the cutoff are deleted (the append-only trigger lets the deletion
 *   through for this transaction only, with `vigil.allow_log_removal`).
 *
 * In the same transaction, under the chain lock: the removed positions are recorded as signed
 * anchors (one per run of consecutive positions, with the hash of its last row) so `vigil verify`
 * goes on across them; the statistics rollups of the removed hours are pruned; and the removal
 * itself is an audit event, `retention.applied`.
 */
import type { EventRow } from '../events/types.js';
import { uuidv7 } from '../events/uuid7.js';
import { insertIdempotent } from '../events/insertEvents.js';
import { pruneRollups } from '../stats/prune.js';
import type { Store, Tx } from '../store/store.js';
import { beginChain } from './chain.js';
import { insertCheckpoint, signCheckpoint, type Checkpoint, type SigningKey } from './checkpoints.js';

export const RETENTION_EVENT = 'retention.applied';
/** Defaults, with units. */
export const DEFAULT_RETENTION_INTERVAL_MS = 86_400_000; // the configured schedule runs daily
export const MIN_RETENTION_MS = 86_400_000; // one day: anything shorter is a mistake

const UNITS: Record<string, number> = { h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000, y: 365 * 86_400_000 };

/** `365d`, `52w`, `1y`, `36h` → milliseconds; throws with a clear message otherwise. */
export function parseAge(text: string): number {
  const m = /^(\d{1,6})([hdwy])$/.exec(text.trim());
  if (!m) throw new Error(`expected an age like 365d, 52w, 1y or 36h, got ${JSON.stringify(text)}`);
  const ms = Number(m[1]) * UNITS[m[2]];
  if (ms < MIN_RETENTION_MS) throw new Error(`an age of at least 1 day is required, got ${JSON.stringify(text)}`);
  return ms;
}

export interface RetentionResult {
  cutoff: string;
  /** Rows older than this are gone (PostgreSQL: the end of the last dropped month). */
  removed_before: string | null;
  rows_removed: number;
  partitions_dropped: string[];
  anchors: Checkpoint[];
  rollup_rows_pruned: number;
  dry_run: boolean;
  /** The audit event's id (not for a dry run or when nothing was removed). */
  event_id: string | null;
}

interface Partition {
  name: string;
  start: number;
  end: number;
}

async function monthPartitions(tx: Tx): Promise<Partition[]> {
  const { rows } = await tx.query<{ name: string }>(
    `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'logs'::regclass`,
  );
  const out: Partition[] = [];
  for (const { name } of rows) {
    const m = /^logs_(\d{4,})_(\d{2})$/.exec(name);
    if (!m) continue;
    const y = Number(m[1]);
    const mo = Number(m[2]) - 1;
    out.push({ name, start: Date.UTC(y, mo, 1), end: Date.UTC(y, mo + 1, 1) });
  }
  return out.sort((a, b) => a.start - b.start);
}

/** Runs of consecutive chain positions among the rows to remove, with the hash of each run's last row. */
async function removedRuns(tx: Tx, where: string, params: unknown[]): Promise<{ from: number; to: number; hash: string }[]> {
  const { rows } = await tx.query<{ lo: string; hi: string; hash: string }>(
    `SELECT min(chain_pos) AS lo, max(chain_pos) AS hi, encode((array_agg(chain_hash ORDER BY chain_pos DESC))[1], 'hex') AS hash
       FROM (SELECT chain_pos, chain_hash, chain_pos - row_number() OVER (ORDER BY chain_pos) AS grp
               FROM logs WHERE chain_pos IS NOT NULL AND ${where}) s
      GROUP BY grp ORDER BY lo`,
    params,
  );
  return rows.map((r) => ({ from: Number(r.lo), to: Number(r.hi), hash: r.hash }));
}

export async function applyRetention(store: Store, opts: { olderThanMs: number; key: SigningKey; now?: Date; dryRun?: boolean }): Promise<RetentionResult> {
  const now = opts.now ?? new Date();
  const cutoff = new Date(now.getTime() - opts.olderThanMs);
  const run = async (tx: Tx): Promise<RetentionResult> => {
    // The head first, as every writer takes it (taking `logs` first would deadlock with a writer
    // holding the head and waiting to COPY). Dropping partitions then waits for readers of `logs`;
    // one that waits for the head in turn (the rule evaluator) makes a deadlock PostgreSQL breaks
    // by aborting one of them — retention is then run again (its schedule, or the command).
    await beginChain(tx, []);
    let removedBefore: Date | null = null;
    let dropped: Partition[] = [];
    if (store.kind === 'postgres') {
      dropped = (await monthPartitions(tx)).filter((p) => p.end <= cutoff.getTime());
      if (dropped.length > 0) removedBefore = new Date(Math.max(...dropped.map((p) => p.end)));
    } else {
      removedBefore = cutoff;
    }
    const result: RetentionResult = {
      cutoff: cutoff.toISOString(),
      removed_before: removedBefore?.toISOString() ?? null,
      rows_removed: 0,
      partitions_dropped: dropped.map((p) => p.name),
      anchors: [],
      rollup_rows_pruned: 0,
      dry_run: opts.dryRun === true,
      event_id: null,
    };
    if (removedBefore === null) return result;
    const where = `"timestamp" < $1::timestamptz`;
    const params = [removedBefore.toISOString()];
    const { rows: counted } = await tx.query<{ n: string }>(`SELECT count(*) AS n FROM logs WHERE ${where}`, params);
    result.rows_removed = Number(counted[0].n);
    const createdAt = now.toISOString();
    for (const r of await removedRuns(tx, where, params)) {
      result.anchors.push(signCheckpoint(opts.key, { kind: 'anchor', from_pos: r.from, chain_pos: r.to, seq: null, hash: r.hash, created_at: createdAt }));
    }
    if (opts.dryRun) return result;
    if (result.rows_removed === 0 && dropped.length === 0) return result;
    for (const a of result.anchors) await insertCheckpoint(tx, a);
    if (store.kind === 'postgres') {
      // Names come from pg_class and match logs_YYYY_MM; quoted all the same.
      for (const p of dropped) await tx.query(`DROP TABLE "${p.name.replace(/"/g, '""')}"`);
    } else {
      await tx.query(`SELECT set_config('vigil.allow_log_removal', 'on', true)`);
      await tx.query(`DELETE FROM logs WHERE ${where}`, params);
      await tx.query(`SELECT set_config('vigil.allow_log_removal', 'off', true)`);
    }
    result.rollup_rows_pruned = await pruneRollups(tx, removedBefore);
    const event: EventRow = {
      id: uuidv7(now.getTime()),
      level: 'WARNING',
      message: `Retention removed ${result.rows_removed} events older than ${removedBefore.toISOString()}`,
      time: now.getTime(),
      event_type: RETENTION_EVENT,
      metadata: {
        event_type: RETENTION_EVENT,
        older_than_ms: opts.olderThanMs,
        cutoff: result.cutoff,
        removed_before: result.removed_before,
        rows_removed: result.rows_removed,
        partitions_dropped: result.partitions_dropped,
        anchors: result.anchors.map((a) => ({ from_pos: a.from_pos, to_pos: a.chain_pos })),
        rollup_rows_pruned: result.rollup_rows_pruned,
      },
    };
    await insertIdempotent(tx, [event]);
    result.event_id = event.id;
    return result;
  };
  return store.transaction(run);
}
