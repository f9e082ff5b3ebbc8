/**
 * Real databases for tests: a fresh embedded database (PGlite) in a temporary directory, and on
 * PostgreSQL (when VIGIL_TEST_DATABASE_URL is set) a fresh database per test file.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { openStore, resolveStoreOptions } from '../../src/store/open.js';
import type { Store } from '../../src/store/store.js';

export const PG_URL = process.env.VIGIL_TEST_DATABASE_URL;
export const PG_SKIP = PG_URL ? false : 'VIGIL_TEST_DATABASE_URL is not set: PostgreSQL suite skipped';

export function tempDir(prefix = 'vigil-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Creates an empty PostgreSQL database and returns its URL; drop it with dropDatabase. */
export async function createDatabase(baseUrl = PG_URL!): Promise<string> {
  const name = `vigil_t_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  const admin = new pg.Client({ connectionString: baseUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const u = new URL(baseUrl);
  u.pathname = '/' + name;
  return u.toString();
}

export async function dropDatabase(url: string, baseUrl = PG_URL!): Promise<void> {
  const name = new URL(url).pathname.slice(1);
  const admin = new pg.Client({ connectionString: baseUrl });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  } finally {
    await admin.end();
  }
}

export interface Backend {
  name: 'embedded' | 'postgres';
  skip: string | false;
  /** Store options for a fresh, empty database (and a data/spool directory). */
  setup(): Promise<{ databaseUrl?: string; dataDir: string; cleanup: () => Promise<void> }>;
}

export const BACKENDS: Backend[] = [
  {
    name: 'embedded',
    skip: false,
    setup: async () => {
      const dataDir = tempDir();
      return { dataDir, cleanup: async () => rmSync(dataDir, { recursive: true, force: true }) };
    },
  },
  {
    name: 'postgres',
    skip: PG_SKIP,
    setup: async () => {
      const dataDir = tempDir();
      const databaseUrl = await createDatabase();
      return {
        databaseUrl,
        dataDir,
        cleanup: async () => {
          await dropDatabase(databaseUrl);
          rmSync(dataDir, { recursive: true, force: true });
        },
      };
    },
  },
];

/** Opens (and migrates) a store for a backend's setup. */
export async function openTestStore(cfg: { databaseUrl?: string; dataDir: string }): Promise<Store> {
  return openStore(resolveStoreOptions({ databaseUrl: cfg.databaseUrl, dataDir: cfg.dataDir }, {}), { command: 'test' });
}

/** Fails when a test file leaves sockets or servers open (pools, peers, HTTP servers). */
export function openHandles(): string[] {
  return process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap' || r === 'TCPServerWrap');
}
