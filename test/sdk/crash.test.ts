/**
 * Crash: a child process logging events is killed with SIGKILL; after a restart the spool
 * replays, and every event the child reported durable (committed or spooled) is stored exactly once.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import pino from 'pino';
import { createAuditLogger } from '../../src/index.js';
import { BACKENDS, openHandles, openTestStore, PG_SKIP } from '../helpers/stores.js';
import { TcpProxy } from '../helpers/proxy.js';

const PRODUCER = fileURLToPath(new URL('../helpers/children/producer.ts', import.meta.url));

interface Run {
  child: ChildProcess;
  durable: { committed: string[]; spooled: string[] };
  /** Resolves when the child has reported `n` more durable chunks of the given kind. */
  waitChunks(n: number, kind?: 'committed' | 'spooled'): Promise<void>;
  kill(): Promise<void>;
}

function startProducer(env: Record<string, string>): Run {
  const child = spawn(process.execPath, ['--import', 'tsx', PRODUCER], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  const durable = { committed: [] as string[], spooled: [] as string[] };
  const counts = { committed: 0, spooled: 0 };
  let waiters: (() => void)[] = [];
  let buf = '';
  child.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      const m = /^DURABLE (committed|spooled) (.*)$/.exec(line);
      if (!m) continue;
      const kind = m[1] as 'committed' | 'spooled';
      durable[kind].push(...m[2].split(',').filter(Boolean));
      counts[kind]++;
      const w = waiters;
      waiters = [];
      w.forEach((f) => f());
    }
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    child,
    durable,
    async waitChunks(n, kind) {
      const start = kind ? counts[kind] : counts.committed + counts.spooled;
      const now = () => (kind ? counts[kind] : counts.committed + counts.spooled);
      while (now() - start < n) {
        if (child.exitCode !== null) throw new Error(`producer exited with ${child.exitCode}`);
        await new Promise<void>((r) => waiters.push(r));
      }
    },
    async kill() {
      child.kill('SIGKILL');
      await exited;
    },
  };
}

async function storedIds(cfg: { databaseUrl?: string; dataDir: string }): Promise<{ total: number; ids: Set<string> }> {
  // Restarting a logger on the same place replays what the killed process left in its spool.
  const logger = createAuditLogger({ ...cfg, logLine: false, logger: pino({ level: 'silent' }) });
  assert.equal(await logger.flush(), true);
  await logger.close();
  const store = await openTestStore(cfg);
  try {
    const { rows } = await store.query<{ id: string }>('SELECT id FROM logs');
    return { total: rows.length, ids: new Set(rows.map((r) => r.id)) };
  } finally {
    await store.close();
  }
}

for (const backend of BACKENDS) {
  describe(`SIGKILL during logging on ${backend.name}`, { skip: backend.skip }, () => {
    it('stores every durable event exactly once after restart', async () => {
      const env = await backend.setup();
      try {
        const run = startProducer({ VIGIL_CHILD_DATA_DIR: env.dataDir, VIGIL_CHILD_DATABASE_URL: env.databaseUrl ?? '' });
        await run.waitChunks(15);
        await run.kill();
        const durable = [...run.durable.committed, ...run.durable.spooled];
        assert.ok(durable.length >= 15 * 200);
        const { total, ids } = await storedIds(env);
        assert.equal(ids.size, total, 'no event stored twice');
        for (const id of durable) assert.ok(ids.has(id), `durable event ${id} is stored`);
      } finally {
        await env.cleanup();
      }
    });
  });
}

describe('SIGKILL while PostgreSQL is unreachable', { skip: PG_SKIP }, () => {
  it('replays the spool at the next start: every spooled event is stored exactly once', async () => {
    const env = await BACKENDS[1].setup();
    const proxy = TcpProxy.forUrl(env.databaseUrl!);
    await proxy.start();
    try {
      const run = startProducer({ VIGIL_CHILD_DATA_DIR: env.dataDir, VIGIL_CHILD_DATABASE_URL: proxy.url(env.databaseUrl!) });
      await run.waitChunks(5, 'committed');
      await proxy.cut();
      await run.waitChunks(8, 'spooled');
      await run.kill();
      assert.ok(run.durable.spooled.length >= 8 * 200);
      await proxy.restore();
      const { total, ids } = await storedIds({ databaseUrl: proxy.url(env.databaseUrl!), dataDir: env.dataDir });
      assert.equal(ids.size, total, 'no event stored twice');
      for (const id of [...run.durable.committed, ...run.durable.spooled]) assert.ok(ids.has(id), `durable event ${id} is stored`);
    } finally {
      await proxy.close();
      await env.cleanup();
    }
    assert.deepEqual(openHandles(), []);
  });
});
