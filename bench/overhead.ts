/**
 * Call overhead: nanoseconds per `logTaskCreated` call against a bare pino `info` call with the
 * same fields, in the same process, writing to the same destination (/dev/null, asynchronous).
 * Calls are timed in synchronous chunks; between chunks the event loop runs (commits happen there,
 * off the calling path). Target: at most 1.25 times the pino call.
 *
 *   node --import tsx bench/overhead.ts [--calls 1000000] [--database-url postgres://…]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { createAuditLogger } from '../src/index.js';
import { machine } from './machine.js';

const { values } = parseArgs({
  options: {
    calls: { type: 'string', default: '1000000' },
    'database-url': { type: 'string', default: process.env.VIGIL_BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test' },
    embedded: { type: 'boolean', default: false },
  },
});
const CALLS = Number(values.calls);
const CHUNK = 10_000;
// Each round stays within the in-memory buffer (100,000 events) and is flushed before the next, so
// what is timed is the call, not the spill to disk of a producer outrunning the database.
const PER_ROUND = 50_000;
const ROUNDS = Math.max(1, Math.round(CALLS / PER_ROUND));

const dest = pino.destination({ dest: '/dev/null', sync: false });
const bare = pino({ level: 'info' }, dest).child({ component: 'audit' });
const dir = mkdtempSync(join(tmpdir(), 'vigil-bench-ovh-'));
const logger = createAuditLogger({
  ...(values.embedded ? { dataDir: dir } : { databaseUrl: values['database-url'], dataDir: dir }),
  logger: pino({ level: 'info' }, dest),
});
logger.logTaskCreated({ task_id: 'warmup', task_type: 'x', created_by: 'bench' });
await logger.flush();

const fields = (i: number) => ({ task_id: `task_${i}`, task_type: 'content_generation', created_by: 'user_456', description: 'Generate blog post about AI' });

async function time(fn: (i: number) => void): Promise<number> {
  let ns = 0n;
  for (let done = 0; done < PER_ROUND; done += CHUNK) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < CHUNK; i++) fn(done + i);
    ns += process.hrtime.bigint() - t0;
    await new Promise((r) => setImmediate(r));
  }
  return Number(ns) / PER_ROUND;
}

const vigil: number[] = [];
const pinoNs: number[] = [];
for (let round = 0; round < ROUNDS; round++) {
  pinoNs.push(await time((i) => bare.info(fields(i), `Task task_${i} created (content_generation) by user_456`)));
  vigil.push(await time((i) => logger.logTaskCreated(fields(i))));
  await logger.flush();
}
await logger.close();
rmSync(dir, { recursive: true, force: true });

const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
const v = median(vigil);
const p = median(pinoNs);
console.log(`overhead: ${CALLS.toLocaleString('en-US')} calls each, median of ${ROUNDS} rounds of ${PER_ROUND.toLocaleString('en-US')}`);
console.log(`  pino info (same fields, same destination): ${p.toFixed(0)} ns/call`);
console.log(`  vigil logTaskCreated (validate, id, line, buffer): ${v.toFixed(0)} ns/call`);
console.log(`  ratio: ${(v / p).toFixed(2)} (target ≤ 1.25)`);
console.log(`  store: ${values.embedded ? 'embedded' : 'PostgreSQL'}; machine: ${machine()}`);
