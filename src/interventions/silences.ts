/**
 * Silences: matchers with a start and an end. An intervention a silence matches is recorded (and
 * its notification decision too) but nothing is sent. Expiring a silence ends it now.
 */
import { parseDuration } from '../rules/ruleSchema.js';
import { ConfigError } from '../rules/thresholds.js';
import type { Queryable } from '../store/store.js';
import { matcherProblems, matchesAll, type AlertView, type Matcher } from './matchers.js';

export interface Silence {
  id: string;
  matchers: Matcher[];
  starts_at: string;
  ends_at: string;
  created_by: string;
  comment: string;
  created_at: string;
  expired_by: string | null;
  expired_at: string | null;
}

export interface SilenceInput {
  matchers: Matcher[];
  /** ISO 8601; default now. */
  starts_at?: string;
  /** ISO 8601; or give `duration`. */
  ends_at?: string;
  /** `2h`, `30m`, or milliseconds, from `starts_at`. */
  duration?: string | number;
  created_by: string;
  comment?: string;
}

/** The longest a silence may last: a forgotten silence must not mute alerts for ever. */
export const MAX_SILENCE_MS = 90 * 86_400_000;

const iso = (v: unknown): string | null => (v === null || v === undefined ? null : new Date(v as string).toISOString());

function toSilence(r: Record<string, unknown>): Silence {
  return {
    id: r.id as string,
    matchers: r.matchers as Matcher[],
    starts_at: iso(r.starts_at)!,
    ends_at: iso(r.ends_at)!,
    created_by: r.created_by as string,
    comment: r.comment as string,
    created_at: iso(r.created_at)!,
    expired_by: (r.expired_by as string | null) ?? null,
    expired_at: iso(r.expired_at),
  };
}

function time(p: string[], path: string, v: unknown): number | null {
  if (v === undefined) return null;
  const t = typeof v === 'string' && /\d{4}-\d\d-\d\dT.*(Z|[+-]\d\d:?\d\d)$/.test(v) ? Date.parse(v) : NaN;
  if (Number.isNaN(t)) p.push(`${path}: expected an ISO 8601 date-time with a zone, got ${JSON.stringify(v)}`);
  return Number.isNaN(t) ? null : t;
}

/** Validates a new silence; returns its time range in ms. Throws ConfigError with every problem. */
export function validateSilence(input: unknown, now: number): { input: SilenceInput; starts: number; ends: number } {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw new ConfigError(['silence: expected an object']);
  const s = input as Record<string, unknown>;
  const p: string[] = [];
  for (const k of Object.keys(s)) if (!['matchers', 'starts_at', 'ends_at', 'duration', 'created_by', 'comment'].includes(k)) p.push(`${k}: unknown key`);
  p.push(...matcherProblems(s.matchers, 'matchers'));
  if (Array.isArray(s.matchers) && s.matchers.length === 0) p.push('matchers: at least one matcher is required (a silence of everything is refused)');
  if (typeof s.created_by !== 'string' || s.created_by.trim() === '') p.push('created_by: required');
  if (s.comment !== undefined && typeof s.comment !== 'string') p.push('comment: expected a string');
  const starts = time(p, 'starts_at', s.starts_at) ?? now;
  let ends = time(p, 'ends_at', s.ends_at);
  if (s.duration !== undefined) {
    const d = parseDuration(s.duration);
    if (d === null) p.push(`duration: expected a duration (30m, 2h, 1d) or milliseconds, got ${JSON.stringify(s.duration)}`);
    else if (ends !== null) p.push('duration: give ends_at or duration, not both');
    else ends = starts + d;
  }
  if (ends === null && s.ends_at === undefined && s.duration === undefined) p.push('ends_at: required (or duration)');
  if (ends !== null && ends <= starts) p.push('ends_at: must be after starts_at');
  if (ends !== null && ends - starts > MAX_SILENCE_MS) p.push(`ends_at: a silence lasts at most ${MAX_SILENCE_MS / 86_400_000} days`);
  if (ends !== null && ends <= now) p.push('ends_at: already in the past');
  if (p.length > 0) throw new ConfigError(p);
  return { input: s as unknown as SilenceInput, starts, ends: ends! };
}

export async function insertSilence(db: Queryable, id: string, s: SilenceInput, starts: number, ends: number, now: number): Promise<Silence> {
  const { rows } = await db.query(
    `INSERT INTO silences (id, matchers, starts_at, ends_at, created_by, comment, created_at)
     VALUES ($1, $2::jsonb, $3, $4, $5, $6, $7) RETURNING id::text AS id, matchers, starts_at, ends_at, created_by, comment, created_at, expired_by, expired_at`,
    [id, JSON.stringify(s.matchers), new Date(starts).toISOString(), new Date(ends).toISOString(), s.created_by, s.comment ?? '', new Date(now).toISOString()],
  );
  return toSilence(rows[0]);
}

const SELECT = 'SELECT id::text AS id, matchers, starts_at, ends_at, created_by, comment, created_at, expired_by, expired_at FROM silences';

/** Silences in force at `now`. */
export async function activeSilences(db: Queryable, now: number): Promise<Silence[]> {
  const { rows } = await db.query(`${SELECT} WHERE starts_at <= $1 AND ends_at > $1 ORDER BY created_at`, [new Date(now).toISOString()]);
  return rows.map(toSilence);
}

/** Silences not yet ended (active and pending) or, with `all`, every silence; newest first. */
export async function listSilences(db: Queryable, now: number, all = false): Promise<Silence[]> {
  const { rows } = await db.query(`${SELECT} WHERE $2::boolean OR ends_at > $1 ORDER BY created_at DESC LIMIT 1000`, [new Date(now).toISOString(), all]);
  return rows.map(toSilence);
}

/** Ends a silence now; null when there is no such silence. Expiring an ended one changes nothing. */
export async function expireSilence(db: Queryable, id: string, by: string, now: number): Promise<Silence | null> {
  const t = new Date(now).toISOString();
  const { rows } = await db.query(
    `UPDATE silences SET ends_at = greatest(starts_at, $2::timestamptz), expired_by = $3, expired_at = $2
      WHERE id = $1 AND ends_at > $2
      RETURNING id::text AS id, matchers, starts_at, ends_at, created_by, comment, created_at, expired_by, expired_at`,
    [id, t, by],
  );
  if (rows.length > 0) return toSilence(rows[0]);
  const again = await db.query(`${SELECT} WHERE id = $1`, [id]);
  return again.rows.length === 0 ? null : toSilence(again.rows[0]);
}

/** Ids of the silences muting an intervention. */
export function silencedBy(view: AlertView, silences: readonly Silence[]): string[] {
  return silences.filter((s) => matchesAll(view, s.matchers)).map((s) => s.id);
}
