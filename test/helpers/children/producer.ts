/**
 * A child process that logs events as fast as it can and, after each chunk is durable (committed,
 * or on disk in the spool), prints its ids: `DURABLE <id>,<id>,...`. Tests SIGKILL it at will.
 * Environment: VIGIL_CHILD_DATA_DIR (required), VIGIL_CHILD_DATABASE_URL (optional).
 */
import { writeSync } from 'node:fs';
import pino from 'pino';
import { createAuditLogger } from '../../../src/index.js';

const logger = createAuditLogger({
  dataDir: process.env.VIGIL_CHILD_DATA_DIR,
  databaseUrl: process.env.VIGIL_CHILD_DATABASE_URL || undefined,
  logLine: false,
  logger: pino({ level: 'silent' }),
  postgres: { connectTimeoutMs: 300 },
});

writeSync(1, 'READY\n');
for (let chunk = 0; ; chunk++) {
  const ids: string[] = [];
  for (let i = 0; i < 200; i++) {
    const r = logger.logTaskCreated({ task_id: `task_${chunk}_${i}`, task_type: 'crash_test', created_by: 'child' });
    if (r.success) ids.push(r.id);
  }
  const committed = await logger.flush({ timeoutMs: 150 });
  writeSync(1, `DURABLE ${committed ? 'committed' : 'spooled'} ${ids.join(',')}\n`);
}
