/**
 * `vigil interventions list|show|ack|resolve`, and the backend `vigil silences` shares: the
 * running server's API when one holds the embedded database (with its local CLI key), otherwise
 * an InterventionService over the store opened here.
 */
import { userInfo } from 'node:os';
import { Option, type Command } from 'commander';
import type { VigilConfig } from '../config/config.js';
import { resolvedStore } from '../http/server.js';
import { InterventionError } from '../interventions/errors.js';
import { INTERVENTION_LEVELS, type InterventionLevel } from '../interventions/levels.js';
import { interventionConfigFrom } from '../interventions/runner.js';
import { InterventionService, MAX_LIST_LIMIT, type InterventionDetail } from '../interventions/service.js';
import type { Silence } from '../interventions/silences.js';
import { STATUSES, type Intervention, type InterventionStatus } from '../interventions/types.js';
import { StaticDirectory } from '../outbox/directory.js';
import { OutboxRecorder } from '../outbox/recorder.js';
import { createInterventionClient, InterventionClientError, type SilenceRequest } from '../sdk/interventions.js';
import { systemClock } from '../util/clock.js';
import pino from 'pino';
import { connect, DirectBackend, runningServer } from './backend.js';
import { CliError, type CliIo } from './io.js';
import { addStoreOptions, configFrom } from './options.js';
import { table } from './table.js';

export interface ListArgs {
  status?: InterventionStatus;
  level?: InterventionLevel;
  task_id?: string;
  limit?: number;
  cursor?: string;
}

/** What the interventions and silences commands work on. */
export interface InterventionsBackend {
  readonly description: string;
  list(q: ListArgs): Promise<{ interventions: Intervention[]; next_cursor: string | null }>;
  get(id: string): Promise<InterventionDetail | null>;
  ack(id: string, by: string): Promise<Intervention>;
  resolve(id: string, by: string, note?: string): Promise<Intervention>;
  addSilence(s: SilenceRequest, by: string): Promise<Silence>;
  listSilences(q: { all?: boolean; active?: boolean }): Promise<Silence[]>;
  expireSilence(id: string, by: string): Promise<Silence>;
  close(): Promise<void>;
}

/** Errors of either side as one clear line. */
async function clean<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof InterventionError || err instanceof InterventionClientError) throw new CliError(err.message);
    throw err;
  }
}

function direct(b: DirectBackend, cfg: VigilConfig): InterventionsBackend {
  // Shows the outbox's deliveries; the CLI never notifies (ack and resolve do not), so the
  // directory of channels is empty.
  const recorder = new OutboxRecorder(new StaticDirectory(new Map(), new Map()), systemClock);
  const svc = new InterventionService({ store: b.store, config: interventionConfigFrom(cfg), recorder, logger: pino({ level: 'silent' }) });
  return {
    description: b.description,
    list: (q) => clean(() => svc.list(q)),
    get: (id) => clean(() => svc.get(id.toLowerCase())),
    ack: (id, by) => clean(() => svc.ack(id.toLowerCase(), by)),
    resolve: (id, by, note) => clean(() => svc.resolve(id.toLowerCase(), by, note)),
    addSilence: (s, by) => clean(() => svc.addSilence({ ...s, created_by: by })),
    listSilences: (q) => clean(() => svc.listSilences(q)),
    expireSilence: (id, by) => clean(() => svc.expireSilence(id.toLowerCase(), by)),
    close: async () => {
      await svc.close();
      await b.close();
    },
  };
}

function remote(url: string, key: string, description: string): InterventionsBackend {
  const c = createInterventionClient({ url, apiKey: key });
  const wrap = <T>(fn: () => Promise<T>) =>
    clean(fn).catch((err: unknown) => {
      throw err instanceof CliError ? new CliError(`${description}: ${err.message}`) : err;
    });
  // Through the server, who acts is the server's local CLI key.
  return {
    description,
    list: (q) => wrap(() => c.list(q)),
    get: (id) => wrap(() => c.get(id)),
    ack: (id) => wrap(() => c.ack(id)),
    resolve: (id, _by, note) => wrap(() => c.resolve(id, note)),
    addSilence: (s) => wrap(() => c.addSilence(s)),
    listSilences: (q) => wrap(() => c.listSilences(q)),
    expireSilence: (id) => wrap(() => c.expireSilence(id)),
    close: async () => undefined,
  };
}

/** Opens the backend for `command`: the running server's API, or the store. */
export async function connectInterventions(cfg: VigilConfig, command: string): Promise<InterventionsBackend> {
  const resolved = resolvedStore(cfg);
  if (resolved.kind === 'embedded') {
    const server = runningServer(resolved.dataDir);
    if (server !== null) return remote(server.url, server.key, `the server at ${server.url} (process ${server.pid})`);
  }
  const b = await connect(cfg, command, { remote: false });
  if (!(b instanceof DirectBackend)) throw new CliError('internal: expected the store');
  try {
    return direct(b, cfg);
  } catch (err) {
    await b.close();
    throw err;
  }
}

export async function withInterventions<T>(flags: Record<string, unknown>, io: CliIo, command: string, fn: (b: InterventionsBackend) => Promise<T>): Promise<T> {
  const b = await connectInterventions(configFrom(flags, io), command);
  try {
    return await fn(b);
  } finally {
    await b.close();
  }
}

/** Who acts when the CLI opens the store itself: --by, else the user running it. */
export function actorOf(flags: Record<string, unknown>): string {
  if (typeof flags.by === 'string' && flags.by !== '') return flags.by;
  try {
    return `cli:${userInfo().username}`;
  } catch {
    return 'cli';
  }
}

export const BY_HELP = 'who acts (recorded), when the CLI opens the store itself (default cli:<user>); through a running server its local CLI key is recorded';

function interventionRows(list: Intervention[]): string[][] {
  return list.map((i) => [i.id, i.level, i.status, String(i.occurrences), i.last_seen, i.task_id ?? '', i.reasons.join(','), i.title]);
}

export function interventionTable(list: Intervention[]): string {
  return table(['ID', 'LEVEL', 'STATUS', 'OCC', 'LAST SEEN', 'TASK', 'REASONS', 'TITLE'], interventionRows(list), [36, 8, 12, 5, 24, 24, 40, 80]);
}

function detailText(d: InterventionDetail): string {
  const i = d.intervention;
  const lines = [
    `${i.title}`,
    `  id           ${i.id}`,
    `  level        ${i.level}   status ${i.status}   occurrences ${i.occurrences}`,
    `  reasons      ${i.reasons.join(', ')}`,
    `  task         ${i.task_id ?? '-'}   source ${i.source}   dedupe key ${i.dedupe_key}`,
    `  first seen   ${i.first_seen}   last seen ${i.last_seen}`,
  ];
  if (i.acknowledged_at) lines.push(`  acknowledged ${i.acknowledged_at} by ${i.acknowledged_by}`);
  if (i.resolved_at) lines.push(`  resolved     ${i.resolved_at} by ${i.resolved_by}`);
  lines.push(`  message      ${i.message}`, '', 'Occurrences:');
  for (const o of d.occurrences) lines.push(`  ${o.at}  ${o.level.padEnd(8)} ${o.source.padEnd(24)} ${o.reasons.map((r) => `${r.code}: ${r.detail}`).join('; ')}`);
  lines.push('', 'Notifications:');
  if (d.notifications.length === 0) lines.push('  none');
  for (const n of d.notifications) {
    lines.push(`  ${n.at}  ${n.reason.padEnd(16)} ${n.level.padEnd(8)} ${n.channels.join(',') || '-'}${n.silenced_by.length > 0 ? `  silenced by ${n.silenced_by.join(',')}` : ''}`);
  }
  lines.push('', 'Deliveries:');
  if (d.deliveries.length === 0) lines.push('  none');
  for (const x of d.deliveries) lines.push(`  ${x.created_at}  ${x.channel.padEnd(12)} ${x.why.padEnd(16)} ${x.state ?? ''}`);
  return lines.join('\n') + '\n';
}

export function registerInterventions(program: Command, io: CliIo): void {
  const cmd = program.command('interventions').description('list, show, acknowledge and resolve interventions (through the running server, or in the store)');

  addStoreOptions(
    cmd
      .command('list')
      .description('interventions, newest first')
      .addOption(new Option('--status <status>', 'only this status').choices([...STATUSES]))
      .addOption(new Option('--level <level>', 'only this level').choices([...INTERVENTION_LEVELS]))
      .option('--task <task_id>', 'only this task')
      .option('--limit <n>', `interventions to show, 1 to ${MAX_LIST_LIMIT}`, '50')
      .option('--cursor <cursor>', 'continue after an earlier page (its next_cursor)')
      .option('--json', 'print the page as JSON: {interventions, next_cursor}'),
  ).action(async (flags: Record<string, string>) => {
    const limit = Number(flags.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIST_LIMIT) throw new CliError(`--limit: expected an integer from 1 to ${MAX_LIST_LIMIT}, got "${flags.limit}"`);
    const q: ListArgs = { status: flags.status as InterventionStatus | undefined, level: flags.level as InterventionLevel | undefined, task_id: flags.task, limit, cursor: flags.cursor };
    const page = await withInterventions(flags, io, 'vigil interventions list', (b) => b.list(q));
    if (flags.json) return io.stdout(JSON.stringify(page, null, 2) + '\n');
    io.stdout(page.interventions.length === 0 ? 'no interventions\n' : interventionTable(page.interventions));
    if (page.next_cursor !== null) io.stderr(`more: --cursor ${page.next_cursor}\n`);
  });

  addStoreOptions(
    cmd.command('show').description('one intervention with its occurrences, notifications and deliveries').argument('<id>', 'the intervention id').option('--json', 'print JSON'),
  ).action(async (id: string, flags: Record<string, string>) => {
    const d = await withInterventions(flags, io, 'vigil interventions show', (b) => b.get(id));
    if (d === null) throw new CliError(`no intervention has the id ${id}`);
    io.stdout(flags.json ? JSON.stringify(d, null, 2) + '\n' : detailText(d));
  });

  addStoreOptions(
    cmd.command('ack').description('acknowledge an intervention: stops its repeats and escalation').argument('<id>', 'the intervention id').option('--by <name>', BY_HELP).option('--json', 'print JSON'),
  ).action(async (id: string, flags: Record<string, string>) => {
    const i = await withInterventions(flags, io, 'vigil interventions ack', (b) => b.ack(id, actorOf(flags)));
    io.stdout(flags.json ? JSON.stringify(i, null, 2) + '\n' : `Intervention ${i.id} acknowledged by ${i.acknowledged_by} at ${i.acknowledged_at}.\n`);
  });

  addStoreOptions(
    cmd
      .command('resolve')
      .description('resolve an intervention; its next trigger opens a new one')
      .argument('<id>', 'the intervention id')
      .option('--note <text>', 'why (kept in the audit event)')
      .option('--by <name>', BY_HELP)
      .option('--json', 'print JSON'),
  ).action(async (id: string, flags: Record<string, string>) => {
    const i = await withInterventions(flags, io, 'vigil interventions resolve', (b) => b.resolve(id, actorOf(flags), flags.note));
    io.stdout(flags.json ? JSON.stringify(i, null, 2) + '\n' : `Intervention ${i.id} resolved by ${i.resolved_by} at ${i.resolved_at}.\n`);
  });
}
