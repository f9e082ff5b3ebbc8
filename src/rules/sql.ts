/** The stream rules' SQL: hits, aggregates over windows, per-group state. Set-based, parameterised. */
import type { Queryable } from '../store/store.js';
import type { Hit } from './compile.js';

/** A (rule, group, period) being evaluated, with its window bounds (null: unbounded). */
export interface GroupKey {
  rule_id: string;
  group_key: string;
  bucket: string;
  since: number | null;
  until: number | null;
}

export interface GroupState {
  fired_tier: number;
  /** The group's aggregate as of its last evaluation. */
  value: number;
  last_at: number | null;
}

const ts = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());
export const keyOf = (k: { rule_id: string; group_key: string; bucket: string }): string => `${k.rule_id}\u0000${k.group_key}\u0000${k.bucket}`;

/** 32-bit FNV-1a, signed: the advisory lock keys of a group. */
function hash32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h | 0;
}

/**
 * Serialises evaluation of the same groups across processes: transaction-scoped advisory locks,
 * taken in one sorted order so two evaluators never deadlock.
 */
export async function lockGroups(tx: Queryable, keys: readonly { rule_id: string; group_key: string; bucket: string }[]): Promise<void> {
  const pairs = keys.map((k) => [hash32(k.rule_id), hash32(k.group_key + '\u0000' + k.bucket)] as const);
  pairs.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  await tx.query(
    `SELECT count(pg_advisory_xact_lock(k1, k2))
       FROM (SELECT k1, k2 FROM unnest($1::int[], $2::int[]) WITH ORDINALITY AS u(k1, k2, o) ORDER BY o) s`,
    [pairs.map((p) => p[0]), pairs.map((p) => p[1])],
  );
}

/** Inserts hits; returns those not stored before (a re-delivered event is not counted twice). */
export async function insertHits(tx: Queryable, hits: readonly Hit[]): Promise<{ rule_id: string; event_id: string }[]> {
  const { rows } = await tx.query<{ rule_id: string; event_id: string }>(
    `INSERT INTO rule_hits (rule_id, event_id, group_key, bucket, at, value)
     SELECT * FROM unnest($1::text[], $2::uuid[], $3::text[], $4::text[], $5::timestamptz[], $6::float8[])
     ON CONFLICT (rule_id, event_id) DO NOTHING
     RETURNING rule_id, event_id::text AS event_id`,
    [hits.map((h) => h.rule_id), hits.map((h) => h.event_id), hits.map((h) => h.group_key), hits.map((h) => h.bucket), hits.map((h) => ts(h.at)), hits.map((h) => h.value)],
  );
  return rows;
}

export async function readStates(tx: Queryable, keys: readonly GroupKey[]): Promise<Map<string, GroupState>> {
  const { rows } = await tx.query<{ rule_id: string; group_key: string; bucket: string; fired_tier: number; value: number; last_at: Date | string | null }>(
    `SELECT s.rule_id, s.group_key, s.bucket, s.fired_tier, s.value, s.last_at
       FROM rule_state s
       JOIN unnest($1::text[], $2::text[], $3::text[]) AS k(rule_id, group_key, bucket)
         ON s.rule_id = k.rule_id AND s.group_key = k.group_key AND s.bucket = k.bucket`,
    [keys.map((k) => k.rule_id), keys.map((k) => k.group_key), keys.map((k) => k.bucket)],
  );
  return new Map(rows.map((r) => [keyOf(r), { fired_tier: Number(r.fired_tier), value: Number(r.value), last_at: r.last_at === null ? null : new Date(r.last_at).getTime() }]));
}

/** Sum of hit values per group within its window (a count when values are 1), in key order. */
export async function aggregate(db: Queryable, keys: readonly GroupKey[]): Promise<number[]> {
  const { rows } = await db.query<{ ord: string | number; total: number }>(
    `SELECT k.ord, coalesce(sum(h.value), 0)::float8 AS total
       FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::timestamptz[])
            WITH ORDINALITY AS k(rule_id, group_key, bucket, since, until, ord)
       LEFT JOIN rule_hits h
         ON h.rule_id = k.rule_id AND h.group_key = k.group_key AND h.bucket = k.bucket
        AND (k.since IS NULL OR h.at > k.since) AND (k.until IS NULL OR h.at <= k.until)
      GROUP BY k.ord
      ORDER BY k.ord`,
    [keys.map((k) => k.rule_id), keys.map((k) => k.group_key), keys.map((k) => k.bucket), keys.map((k) => ts(k.since)), keys.map((k) => ts(k.until))],
  );
  return rows.map((r) => Number(r.total));
}

export async function upsertStates(
  tx: Queryable,
  rows: readonly { key: GroupKey; fired_tier: number; value: number; last_at: number | null }[],
  now: number,
): Promise<void> {
  await tx.query(
    `INSERT INTO rule_state (rule_id, group_key, bucket, fired_tier, value, last_at, updated_at)
     SELECT r, g, b, f, v, l, $7 FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::float8[], $6::timestamptz[]) AS u(r, g, b, f, v, l)
     ON CONFLICT (rule_id, group_key, bucket)
     DO UPDATE SET fired_tier = excluded.fired_tier, value = excluded.value, last_at = excluded.last_at, updated_at = excluded.updated_at`,
    [rows.map((r) => r.key.rule_id), rows.map((r) => r.key.group_key), rows.map((r) => r.key.bucket), rows.map((r) => r.fired_tier), rows.map((r) => r.value), rows.map((r) => ts(r.last_at)), ts(now)],
  );
}

/** Drops hits that slid out of their window: sliding windows keep only what they can still count. */
export async function pruneSliding(tx: Queryable, keys: readonly GroupKey[]): Promise<void> {
  const sliding = keys.filter((k) => k.since !== null);
  if (sliding.length === 0) return;
  await tx.query(
    `DELETE FROM rule_hits h
      USING unnest($1::text[], $2::text[], $3::timestamptz[]) AS k(rule_id, group_key, since)
      WHERE h.rule_id = k.rule_id AND h.group_key = k.group_key AND h.at <= k.since`,
    [sliding.map((k) => k.rule_id), sliding.map((k) => k.group_key), sliding.map((k) => ts(k.since))],
  );
}

/** Forgets a group's hits and state (errors counted for a task): it counts from zero again. */
export async function resetGroup(tx: Queryable, ruleId: string, groupKey: string): Promise<number> {
  const { rowCount } = await tx.query('DELETE FROM rule_hits WHERE rule_id = $1 AND group_key = $2', [ruleId, groupKey]);
  await tx.query('DELETE FROM rule_state WHERE rule_id = $1 AND group_key = $2', [ruleId, groupKey]);
  return rowCount;
}

/** Drops hits and state of calendar periods before `keepFrom` (a period start, `YYYY-MM-DD`). */
export async function prunePeriods(tx: Queryable, ruleId: string, keepFrom: string): Promise<number> {
  const { rowCount } = await tx.query("DELETE FROM rule_hits WHERE rule_id = $1 AND bucket <> '' AND bucket < $2", [ruleId, keepFrom]);
  await tx.query("DELETE FROM rule_state WHERE rule_id = $1 AND bucket <> '' AND bucket < $2", [ruleId, keepFrom]);
  return rowCount;
}
