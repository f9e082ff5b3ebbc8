/**
 * The migrations runner: numbered plain SQL files in `migrations/`, each applied once, in order,
 * in its own transaction, under an advisory lock so concurrent starters do not race.
 * `NNN_name.postgres.sql` (or `.embedded.sql`) applies to that backend only; on the other it is
 * recorded as applied without running, so both count the same versions.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Store, StoreKind } from './store.js';

/** Arbitrary, fixed: the advisory lock key all Vigil processes use for migrations. */
const MIGRATION_LOCK_KEY = 7_315_001;

export interface Migration {
  version: number;
  name: string;
  sql: string;
  /** The one backend this migration is for, when it is not for both. */
  only?: StoreKind;
}

/** Finds `migrations/` walking up from this module (works from src/ and from dist/src/). */
export function migrationsDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const candidate = join(dir, 'migrations');
    if (existsSync(join(dir, 'package.json')) && existsSync(candidate)) return candidate;
    dir = dirname(dir);
  }
  throw new Error('migrations/ not found next to the vigil package');
}

export function loadMigrations(dir = migrationsDir()): Migration[] {
  return readdirSync(dir)
    .filter((f) => /^\d+_[\w-]+(\.(postgres|embedded))?\.sql$/.test(f))
    .map((f) => {
      const only = /\.(postgres|embedded)\.sql$/.exec(f)?.[1] as StoreKind | undefined;
      const m: Migration = { version: Number.parseInt(f, 10), name: f.replace(/(\.(postgres|embedded))?\.sql$/, ''), sql: readFileSync(join(dir, f), 'utf8') };
      if (only) m.only = only;
      return m;
    })
    .sort((a, b) => a.version - b.version);
}

export interface MigrateResult {
  applied: string[];
  current: number;
}

export async function migrate(store: Store, migrations = loadMigrations()): Promise<MigrateResult> {
  await store.query(
    `CREATE TABLE IF NOT EXISTS vigil_migrations (
       version    integer     PRIMARY KEY,
       name       text        NOT NULL,
       applied_at timestamptz NOT NULL DEFAULT now()
     )`,
  );
  const applied: string[] = [];
  for (const m of migrations) {
    const done = await store.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
      const { rows } = await tx.query('SELECT 1 FROM vigil_migrations WHERE version = $1', [m.version]);
      if (rows.length > 0) return false;
      if (m.only === undefined || m.only === store.kind) await tx.exec(m.sql);
      await tx.query('INSERT INTO vigil_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
      return true;
    });
    if (done) applied.push(m.name);
  }
  const { rows } = await store.query<{ v: number | null }>('SELECT max(version) AS v FROM vigil_migrations');
  return { applied, current: rows[0]?.v ?? 0 };
}
