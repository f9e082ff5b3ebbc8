/**
 * Logs VIGIL_CHILD_COUNT events and then ends: naturally (VIGIL_CHILD_EXIT=natural) or with an
 * immediate process.exit(0) (VIGIL_CHILD_EXIT=exit). Prints the ids it was given.
 */
import { writeSync } from 'node:fs';
import pino from 'pino';
import { createAuditLogger } from '../../../src/index.js';

const logger = createAuditLogger({
  dataDir: process.env.VIGIL_CHILD_DATA_DIR,
  databaseUrl: process.env.VIGIL_CHILD_DATABASE_URL || undefined,
  logLine: false,
  logger: pino({ level: 'silent' }),
});
const ids: string[] = [];
for (let i = 0; i < Number(process.env.VIGIL_CHILD_COUNT); i++) {
  const r = logger.logApiCall({ endpoint: '/x', method: 'GET', status_code: 200 });
  if (r.success) ids.push(r.id);
}
writeSync(1, ids.join(',') + '\n');
if (process.env.VIGIL_CHILD_EXIT === 'exit') process.exit(0);
