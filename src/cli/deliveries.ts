/**
 * `vigil deliveries list|show|retry`: the outbox, directly in the store (targets masked by the
 * configured channels) or — when a `vigil serve` holds the embedded database — through its API.
 */
import type { Command } from 'commander';
import type { VigilConfig } from '../config/config.js';
import { resolvedStore } from '../http/server.js';
import { buildDirectory } from '../outbox/channelDirectory.js';
import { DEFAULT_MAX_ATTEMPTS } from '../outbox/backoff.js';
import { deliveryView, getDelivery, noMasker, queryDeliveries, retryNow, DeliveryQueryError, type DeliveryQuery, type DeliveryView, type TargetMasker } from '../outbox/views.js';
import { DataDirLock } from '../store/dataDirLock.js';
import { openStore } from '../store/open.js';
import type { Store } from '../store/store.js';
import { runningServer } from './backend.js';
import { CliError, type CliIo } from './io.js';
import { addStoreOptions, configFrom } from './options.js';
import { queryString } from './remote.js';
import { table } from './table.js';

type Page = { deliveries: DeliveryView[]; next_cursor: string | null };

interface DeliveriesClient {
  list(q: DeliveryQuery): Promise<Page>;
  get(id: string): Promise<DeliveryView>;
  retry(id: string): Promise<DeliveryView>;
  close(): Promise<void>;
}

class DirectClient implements DeliveriesClient {
  constructor(
    private readonly store: Store,
    private readonly mask: TargetMasker,
    private readonly attemptsFor: (channel: string) => number,
    private readonly onClose: () => Promise<void>,
  ) {}
  async list(q: DeliveryQuery): Promise<Page> {
    try {
      return await queryDeliveries(this.store, q, this.mask);
    } catch (err) {
      if (err instanceof DeliveryQueryError) throw new CliError(err.message);
      throw err;
    }
  }
  async get(id: string): Promise<DeliveryView> {
    const d = await getDelivery(this.store, id, this.mask);
    if (d === null) throw new CliError(`no delivery ${id}`);
    return d;
  }
  async retry(id: string): Promise<DeliveryView> {
    const r = await retryNow(this.store, id, Date.now(), this.attemptsFor);
    if (!r.ok) throw new CliError(r.message);
    return deliveryView(r.delivery, this.mask);
  }
  async close(): Promise<void> {
    await this.onClose();
  }
}

class RemoteClient implements DeliveriesClient {
  constructor(
    private readonly url: string,
    private readonly key: string,
    private readonly description: string,
  ) {}
  private async call<T>(method: string, path: string): Promise<T> {
    let res: Response;
    try {
      res = await fetch(this.url + path, { method, headers: { authorization: `Bearer ${this.key}` } });
    } catch (err) {
      throw new CliError(`cannot reach ${this.description}: ${(err as Error).message}`);
    }
    const text = await res.text();
    if (!res.ok) {
      let msg = text;
      try {
        msg = (JSON.parse(text) as { error?: string }).error ?? text;
      } catch {
        /* not JSON */
      }
      throw new CliError(`${this.description} answered ${res.status}: ${msg}`);
    }
    return JSON.parse(text) as T;
  }
  list(q: DeliveryQuery): Promise<Page> {
    return this.call('GET', '/v1/deliveries' + queryString({ ...q }));
  }
  get(id: string): Promise<DeliveryView> {
    return this.call('GET', `/v1/deliveries/${encodeURIComponent(id)}`);
  }
  retry(id: string): Promise<DeliveryView> {
    return this.call('POST', `/v1/deliveries/${encodeURIComponent(id)}/retry`);
  }
  async close(): Promise<void> {}
}

async function connectDeliveries(cfg: VigilConfig, env: NodeJS.ProcessEnv): Promise<DeliveriesClient> {
  const resolved = resolvedStore(cfg);
  if (resolved.kind === 'embedded') {
    const server = runningServer(resolved.dataDir);
    if (server !== null) return new RemoteClient(server.url, server.key, `the server at ${server.url} (process ${server.pid})`);
  }
  // Targets are masked by the configured channels; without them (a config error) they show as ****.
  let mask: TargetMasker = noMasker;
  let attemptsFor = (_c: string) => DEFAULT_MAX_ATTEMPTS;
  let closeDir = async () => undefined as void;
  try {
    const dir = buildDirectory({ sections: cfg.file.sections, env });
    mask = (c, t) => dir.maskTarget(c, t);
    attemptsFor = (c) => dir.maxAttempts(c);
    closeDir = () => dir.close();
  } catch {
    /* masked as **** */
  }
  const lock = resolved.kind === 'embedded' ? DataDirLock.acquire(resolved.dataDir, 'vigil deliveries') : undefined;
  try {
    const store = await openStore(resolved, { lock, command: 'vigil deliveries', postgres: { poolSize: 2 } });
    return new DirectClient(store, mask, attemptsFor, async () => {
      await closeDir();
      await store.close();
      lock?.release();
    });
  } catch (err) {
    lock?.release();
    await closeDir();
    throw err;
  }
}

async function withClient<T>(flags: Record<string, string>, io: CliIo, fn: (c: DeliveriesClient) => Promise<T>): Promise<T> {
  const client = await connectDeliveries(configFrom(flags, io), io.env ?? process.env);
  try {
    return await fn(client);
  } finally {
    await client.close();
  }
}

const short = (s: string | null, n = 60) => (s === null ? '' : s.length > n ? `${s.slice(0, n - 1)}…` : s);

function rows(ds: DeliveryView[]): string[][] {
  return ds.map((d) => [d.id, d.channel, `${d.target} ${d.target_masked}`, d.status, `${d.attempt_count}/${d.max_attempts}`, d.last_status ?? '', short(d.last_error), d.created_at]);
}

function describe(d: DeliveryView): string {
  let out = `Delivery ${d.id}\n  channel ${d.channel}, target ${d.target} (${d.target_masked}), route ${d.route}, level ${d.level}\n`;
  out += `  status ${d.status}, ${d.attempt_count} of ${d.max_attempts} attempts${d.next_attempt_at ? `, next at ${d.next_attempt_at}` : ''}\n`;
  if (d.intervention_id) out += `  intervention ${d.intervention_id}\n`;
  if (d.fallback_of) out += `  fallback of ${d.fallback_of}\n`;
  for (const a of d.attempts ?? []) {
    out += `  #${a.attempt} ${a.started_at} ${a.outcome} ${a.provider_status ?? '-'} ${a.duration_ms} ms${a.error ? ` ${a.error}` : ''}\n`;
  }
  return out;
}

export function registerDeliveries(program: Command, io: CliIo): void {
  const cmd = program.command('deliveries').description('the outbox: what was sent where, what is waiting, what is dead');

  addStoreOptions(
    cmd
      .command('list')
      .description('list deliveries, newest first')
      .option('--status <status>', 'pending, sending, sent or dead')
      .option('--channel <name>', 'deliveries of this channel')
      .option('--intervention <id>', 'deliveries of this intervention')
      .option('--limit <n>', 'at most this many (default 50, at most 500)')
      .option('--cursor <cursor>', 'the next page (printed after a full page)')
      .option('--attempts', 'include every attempt (with --json)')
      .option('--json', 'print JSON'),
  ).action(async (flags: Record<string, string>) => {
    if (flags.limit !== undefined && !/^\d+$/.test(flags.limit)) throw new CliError(`--limit: expected a positive integer, got "${flags.limit}"`);
    const q: DeliveryQuery = {
      status: flags.status,
      channel: flags.channel,
      intervention_id: flags.intervention,
      cursor: flags.cursor,
      limit: flags.limit === undefined ? undefined : Number(flags.limit),
      attempts: Boolean(flags.attempts) || undefined,
    };
    const page = await withClient(flags, io, (c) => c.list(q));
    if (flags.json) io.stdout(JSON.stringify(page, null, 2) + '\n');
    else if (page.deliveries.length === 0) io.stdout('no deliveries\n');
    else {
      io.stdout(table(['ID', 'CHANNEL', 'TARGET', 'STATUS', 'ATTEMPTS', 'LAST STATUS', 'LAST ERROR', 'CREATED'], rows(page.deliveries)));
      if (page.next_cursor) io.stdout(`more: --cursor ${page.next_cursor}\n`);
    }
  });

  addStoreOptions(cmd.command('show').description('one delivery with every attempt').argument('<id>', 'the delivery id').option('--json', 'print JSON')).action(
    async (id: string, flags: Record<string, string>) => {
      const d = await withClient(flags, io, (c) => c.get(id));
      io.stdout(flags.json ? JSON.stringify(d, null, 2) + '\n' : describe(d));
    },
  );

  addStoreOptions(
    cmd
      .command('retry')
      .description('queue a dead (or waiting) delivery again now, with its channel\'s attempts budget; a sent one cannot be retried')
      .argument('<id>', 'the delivery id')
      .option('--json', 'print JSON'),
  ).action(async (id: string, flags: Record<string, string>) => {
    const d = await withClient(flags, io, (c) => c.retry(id));
    io.stdout(flags.json ? JSON.stringify(d, null, 2) + '\n' : `Queued delivery ${d.id} again (${d.channel} → ${d.target} ${d.target_masked}); up to ${d.max_attempts - d.attempt_count} more attempts.\n`);
  });
}
