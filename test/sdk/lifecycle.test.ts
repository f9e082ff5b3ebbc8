/** Process exit, the data-directory lock, and many concurrent producers. */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { readdirSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import pino from 'pino';
import { createAuditLogger } from '../../src/index.js';
import { BACKENDS, openTestStore } from '../helpers/stores.js';

const EXITER = fileURLToPath(new URL('../helpers/children/exiter.ts', import.meta.url));
const PRODUCER = fileURLToPath(new URL('../helpers/children/producer.ts', import.meta.url));
const silent = pino({ level: 'silent' });

function runExiter(env: { databaseUrl?: string; dataDir: string }, count: number, exit: 'natural' | 'exit'): string[] {
  const out = execFileSync(process.execPath, ['--import', 'tsx', EXITER], {
    env: { ...process.env, VIGIL_CHILD_DATA_DIR: env.dataDir, VIGIL_CHILD_DATABASE_URL: env.databaseUrl ?? '', VIGIL_CHILD_COUNT: String(count), VIGIL_CHILD_EXIT: exit },
  });
  return out.toString().trim().split(',');
}

async function countRows(env: { databaseUrl?: string; dataDir: string }): Promise<{ n: number; d: number }> {
  const store = await openTestStore(env);
  try {
    const { rows } = await store.query<{ n: number; d: number }>('SELECT count(*)::int AS n, count(DISTINCT id)::int AS d FROM logs');
    return rows[0];
  } finally {
    await store.close();
  }
}

for (const backend of BACKENDS) {
  describe(`process lifecycle on ${backend.name}`, { skip: backend.skip }, () => {
    it('commits everything when the process ends on its own, without close()', async () => {
      const env = await backend.setup();
      try {
        const ids = runExiter(env, 3000, 'natural');
        assert.equal(ids.length, 3000);
        assert.deepEqual(await countRows(env), { n: 3000, d: 3000 });
      } finally {
        await env.cleanup();
      }
    });

    it('spools what is pending at process.exit() and stores it at the next start', async () => {
      const env = await backend.setup();
      try {
        const ids = runExiter(env, 2500, 'exit');
        const spooled = readdirSync(join(env.dataDir, 'spool')).filter((f) => f.endsWith('.ndjson'));
        assert.ok(spooled.length > 0, 'events pending at exit were written to the spool');
        const logger = createAuditLogger({ ...env, logLine: false, logger: silent });
        assert.equal(await logger.flush(), true);
        await logger.close();
        assert.deepEqual(await countRows(env), { n: ids.length, d: ids.length });
      } finally {
        await env.cleanup();
      }
    });

    it('stores 200,000 events from concurrent producers exactly once', async () => {
      const env = await backend.setup();
      try {
        const logger = createAuditLogger({ ...env, logLine: false, logger: silent });
        const PRODUCERS = 8;
        const EACH = 25_000;
        let failures = 0;
        await Promise.all(
          Array.from({ length: PRODUCERS }, async (_, p) => {
            for (let i = 0; i < EACH; i++) {
              const r = logger.logModelCalled({ model_name: `m${p}`, provider: 'openai', tokens_used: i, cost_usd: 0.0001 });
              if (!r.success) failures++;
              // Yield now and then so producers interleave with each other and with commits.
              if (i % 500 === 0) await new Promise((r) => setImmediate(r));
            }
          }),
        );
        assert.equal(failures, 0);
        assert.equal(await logger.flush(), true);
        await logger.close();
        assert.deepEqual(await countRows(env), { n: PRODUCERS * EACH, d: PRODUCERS * EACH });
      } finally {
        await env.cleanup();
      }
    });
  });
}

describe('the embedded data directory lock', () => {
  it('refuses a second process with an error naming the holder, and takes over a stale lock', async () => {
    const env = await BACKENDS[0].setup();
    try {
      const child = spawn(process.execPath, ['--import', 'tsx', PRODUCER], {
        env: { ...process.env, VIGIL_CHILD_DATA_DIR: env.dataDir, VIGIL_CHILD_DATABASE_URL: '' },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
      assert.throws(
        () => createAuditLogger({ dataDir: env.dataDir, logLine: false, logger: silent }),
        (err: Error) => err.name === 'DataDirLockedError' && err.message.includes(`in use by process ${child.pid}`),
      );
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await exited;
      // The holder is gone: its lock is stale and is taken over.
      const logger = createAuditLogger({ dataDir: env.dataDir, logLine: false, logger: silent });
      assert.equal(await logger.flush(), true);
      await logger.close();
      // A lock left by a process that no longer exists (a pid that cannot be running).
      writeFileSync(join(env.dataDir, 'vigil.lock'), JSON.stringify({ pid: 2 ** 22 + 7, hostname: hostname(), command: 'gone', started_at: 'then' }));
      const again = createAuditLogger({ dataDir: env.dataDir, logLine: false, logger: silent });
      assert.equal(again.logTaskCreated({ task_id: 't', task_type: 'x', created_by: 'u' }).success, true);
      assert.equal(await again.flush(), true);
      await again.close();
    } finally {
      await env.cleanup();
    }
  });
});
