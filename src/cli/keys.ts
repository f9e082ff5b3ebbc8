/** `vigil keys create|list|revoke`: API keys, directly in the store or through the running server. */
import type { Command } from 'commander';
import { parseScopes, type ApiKeyInfo } from '../http/apiKeys.js';
import { connect, type Backend } from './backend.js';
import { CliError, type CliIo } from './io.js';
import { addStoreOptions, configFrom } from './options.js';
import { table } from './table.js';

async function withBackend<T>(flags: Record<string, string>, io: CliIo, fn: (b: Backend) => Promise<T>): Promise<T> {
  const backend = await connect(configFrom(flags, io), 'vigil keys');
  try {
    return await fn(backend);
  } finally {
    await backend.close();
  }
}

function keyRows(keys: ApiKeyInfo[]): string[][] {
  return keys.map((k) => [k.id, k.name, k.prefix + '…', k.scopes.join(','), k.rate_limit_per_minute === null ? 'default' : k.rate_limit_per_minute === 0 ? 'unlimited' : `${k.rate_limit_per_minute}/min`, k.created_at, k.revoked_at ?? '']);
}

export function registerKeys(program: Command, io: CliIo): void {
  const keys = program.command('keys').description('manage API keys (scopes: ingest, read, admin, respond)');

  addStoreOptions(
    keys
      .command('create')
      .description('create an API key; the key is printed only this once')
      .requiredOption('--name <name>', 'a name for the key (who or what uses it)')
      .requiredOption('--scopes <list>', 'comma-separated scopes: ingest, read, admin (every scope), respond')
      .option('--rate-limit <per-minute>', "requests per minute for this key (default: the server's; 0: unlimited)")
      .option('--json', 'print the key as JSON'),
  ).action(async (flags: Record<string, string>) => {
    let scopes;
    try {
      scopes = parseScopes(flags.scopes);
    } catch (err) {
      throw new CliError(`--scopes: ${(err as Error).message}`);
    }
    let rate: number | null = null;
    if (flags.rateLimit !== undefined) {
      if (!/^\d+$/.test(flags.rateLimit)) throw new CliError(`--rate-limit: expected a non-negative integer, got "${flags.rateLimit}"`);
      rate = Number(flags.rateLimit);
    }
    const created = await withBackend(flags, io, (b) => b.createKey({ name: flags.name, scopes, rateLimitPerMinute: rate }));
    if (flags.json) {
      io.stdout(JSON.stringify(created, null, 2) + '\n');
      return;
    }
    io.stdout(`Created key "${created.name}" (id ${created.id}, scopes ${created.scopes.join(', ')}).\nIt is shown only this once:\n\n  ${created.key}\n\n`);
  });

  addStoreOptions(
    keys
      .command('list')
      .description('list API keys (never the keys themselves: their first characters)')
      .option('--all', 'include revoked keys')
      .option('--json', 'print JSON'),
  ).action(async (flags: Record<string, string>) => {
    const list = await withBackend(flags, io, (b) => b.listKeys(Boolean(flags.all)));
    if (flags.json) io.stdout(JSON.stringify(list, null, 2) + '\n');
    else if (list.length === 0) io.stdout('no keys\n');
    else io.stdout(table(['ID', 'NAME', 'KEY', 'SCOPES', 'RATE LIMIT', 'CREATED', 'REVOKED'], keyRows(list)));
  });

  addStoreOptions(keys.command('revoke').description('revoke an API key, by id or by name').argument('<id-or-name>', 'the key id, or its name if only one active key has it')).action(
    async (ref: string, flags: Record<string, string>) => {
      const revoked = await withBackend(flags, io, (b) => b.revokeKey(ref));
      io.stdout(`Revoked key "${revoked.name}" (id ${revoked.id}).\n`);
    },
  );
}
