/**
 * `vigil verify`, `vigil checkpoint` and `vigil retention`: the trail's integrity. They work on the
 * store, or through the running server's API when a `vigil serve` holds the embedded database.
 */
import type { Command } from 'commander';
import { writeFileSync } from 'node:fs';
import type { VigilConfig } from '../config/config.js';
import { formatCheckpoints, readCheckpointFile, type Checkpoint } from '../trust/checkpoints.js';
import type { RetentionResult } from '../trust/retention.js';
import { parseAge } from '../trust/retention.js';
import { TrustService } from '../trust/service.js';
import { formatReport, type VerifyReport } from '../trust/verify.js';
import { connect, DirectBackend } from './backend.js';
import { CliError, type CliIo } from './io.js';
import { addStoreOptions, configFrom, parseTime } from './options.js';
import { RemoteBackend } from './remote.js';

interface TrustBackend {
  description: string;
  verify(o: { since?: string; checkpoints?: Checkpoint[]; trustedKeys?: string[] }, progress?: (rows: number) => void): Promise<VerifyReport>;
  checkpoint(force: boolean): Promise<Checkpoint | null>;
  list(): Promise<Checkpoint[]>;
  retention(olderThan: string, dryRun: boolean): Promise<RetentionResult>;
  close(): Promise<void>;
}

async function open(cfg: VigilConfig, command: string): Promise<TrustBackend> {
  const b = await connect(cfg, command);
  if (b instanceof RemoteBackend) {
    return {
      description: b.description,
      verify: (o) => b.json('POST', '/v1/trust/verify', { since: o.since, checkpoints: o.checkpoints, trusted_keys: o.trustedKeys }),
      checkpoint: async (force) => (await b.json<{ checkpoint: Checkpoint | null }>('POST', '/v1/trust/checkpoints', { force })).checkpoint,
      list: async () => (await b.json<{ checkpoints: Checkpoint[] }>('GET', '/v1/trust/checkpoints')).checkpoints,
      retention: (olderThan, dryRun) => b.json('POST', '/v1/trust/retention', { older_than: olderThan, dry_run: dryRun }),
      close: () => b.close(),
    };
  }
  const store = (b as DirectBackend).store;
  const t = new TrustService(store, cfg);
  return {
    description: b.description,
    verify: (o, progress) => t.verify({ since: o.since === undefined ? undefined : new Date(o.since), fileCheckpoints: o.checkpoints, trustedKeys: o.trustedKeys, onProgress: progress }),
    checkpoint: (force) => t.checkpoint(force),
    list: () => t.list(),
    retention: (olderThan, dryRun) => t.retention(olderThan, dryRun),
    close: () => b.close(),
  };
}

async function using<T>(flags: Record<string, unknown>, io: CliIo, command: string, fn: (b: TrustBackend) => Promise<T>): Promise<T> {
  const b = await open(configFrom(flags, io), command);
  try {
    return await fn(b);
  } finally {
    await b.close();
  }
}

const collect = (v: string, prev: string[] = []) => [...prev, ...v.split(',').filter((s) => s !== '')];

export function registerTrust(program: Command, io: CliIo): void {
  const verify = program
    .command('verify')
    .description('recompute the hash chain over the trail and check it against the signed checkpoints; exit 0 when intact, 2 when tampered')
    .option('--since <time>', 'start at the last checkpoint taken at or before this time (ISO 8601, or a duration ago: 7d)')
    .option('--checkpoint <file>', 'checkpoints exported outside the database (vigil checkpoint --export), checked as well')
    .option('--public-key <id>', 'trust only checkpoints signed by this key id or public key (repeatable)', collect)
    .option('--json', 'print the report as JSON');
  addStoreOptions(verify).action(async (flags: Record<string, unknown>) => {
    const since = typeof flags.since === 'string' ? parseTime(flags.since, '--since') : undefined;
    let checkpoints: Checkpoint[] | undefined;
    if (typeof flags.checkpoint === 'string') {
      try {
        checkpoints = readCheckpointFile(flags.checkpoint);
      } catch (err) {
        throw new CliError((err as Error).message);
      }
    }
    const report = await using(flags, io, 'vigil verify', (b) => {
      const started = Date.now();
      let last = 0;
      return b.verify({ since, checkpoints, trustedKeys: flags.publicKey as string[] | undefined }, (rows) => {
        if (Date.now() - last < 1000) return;
        last = Date.now();
        const rate = Math.round(rows / Math.max(0.001, (last - started) / 1000));
        io.stderr(`${io.isTTY ? '\r' : ''}verify: ${rows.toLocaleString('en-US')} rows read (${rate.toLocaleString('en-US')}/s)${io.isTTY ? '' : '\n'}`);
      });
    });
    if (io.isTTY && report.rows > 0) io.stderr('\n');
    io.stdout(flags.json ? JSON.stringify(report, null, 2) + '\n' : formatReport(report));
    if (!report.ok) throw new CliError('the audit trail failed verification', 2);
  });

  const checkpoint = program
    .command('checkpoint')
    .description('sign the chain head now (vigil serve also does so every trust.checkpoint_interval_ms) and optionally export every checkpoint to a file')
    .option('--force', 'sign even when the head has not moved since the last checkpoint')
    .option('--export <file>', 'write every checkpoint and retention anchor to this file, one JSON object per line (keep it outside the database)')
    .option('--list', 'list the checkpoints instead of signing one');
  addStoreOptions(checkpoint).action(async (flags: Record<string, unknown>) => {
    await using(flags, io, 'vigil checkpoint', async (b) => {
      if (!flags.list) {
        const c = await b.checkpoint(flags.force === true);
        io.stdout(c === null ? 'the chain head has not moved since the last checkpoint (use --force to sign it again)\n' : `signed position ${c.chain_pos} (hash ${c.hash.slice(0, 16)}…) with key ${c.key_id} at ${c.created_at}\n`);
      }
      if (flags.list || typeof flags.export === 'string') {
        const all = await b.list();
        if (typeof flags.export === 'string') {
          writeFileSync(flags.export, formatCheckpoints(all));
          io.stdout(`wrote ${all.length} checkpoints to ${flags.export}\n`);
        }
        if (flags.list) {
          for (const c of all) io.stdout(`${c.created_at}  ${c.kind.padEnd(10)} ${c.kind === 'anchor' ? `${c.from_pos}–${c.chain_pos}` : String(c.chain_pos)}  ${c.hash.slice(0, 16)}…  key ${c.key_id}\n`);
        }
      }
    });
  });

  const retention = program
    .command('retention')
    .description('remove events older than an age: the only path that removes events (PostgreSQL drops whole months; the embedded database deletes rows). Itself an audit event.')
    .requiredOption('--older-than <age>', 'age of the events to remove: 365d, 52w, 1y, 36h (at least 1 day)')
    .option('--dry-run', 'say what would be removed, remove nothing');
  addStoreOptions(retention).action(async (flags: Record<string, unknown>) => {
    const olderThan = String(flags.olderThan);
    try {
      parseAge(olderThan);
    } catch (err) {
      throw new CliError(`--older-than: ${(err as Error).message}`);
    }
    const r = await using(flags, io, 'vigil retention', (b) => b.retention(olderThan, flags.dryRun === true));
    const verb = r.dry_run ? 'would remove' : 'removed';
    if (r.removed_before === null) {
      io.stdout(`nothing to remove: no whole month ends before ${r.cutoff}\n`);
      return;
    }
    io.stdout(`${verb} ${r.rows_removed.toLocaleString('en-US')} events older than ${r.removed_before}${r.partitions_dropped.length > 0 ? ` (partitions ${r.partitions_dropped.join(', ')})` : ''}\n`);
    if (!r.dry_run && r.rows_removed > 0) io.stdout(`recorded ${r.anchors.length} signed retention anchors; ${r.rollup_rows_pruned} statistics rollup rows pruned; audit event ${r.event_id}\n`);
  });
}
