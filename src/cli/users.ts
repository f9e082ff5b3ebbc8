/**
 * `vigil users create|list|token`: the people with an inbox, and their tokens (shown once).
 * Directly in the store, or through the running server when it holds the embedded database.
 */
import type { Command } from 'commander';
import { resolvedStore } from '../http/server.js';
import { createUser, createUserToken, findUser, listUsers, UserExistsError, UserNotFoundError, type User } from '../notifications/users.js';
import { connect, DirectBackend, runningServer } from './backend.js';
import { CliError, type CliIo } from './io.js';
import { addStoreOptions, configFrom } from './options.js';
import { table } from './table.js';

interface UsersApi {
  create(name: string): Promise<User & { token: string }>;
  list(): Promise<User[]>;
  token(ref: string): Promise<User & { token: string }>;
}

async function call<T>(server: { url: string; key: string; pid: number }, method: string, path: string, body?: unknown): Promise<T> {
  const where = `the server at ${server.url} (process ${server.pid})`;
  let res: Response;
  try {
    res = await fetch(server.url + path, {
      method,
      headers: { authorization: `Bearer ${server.key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (err) {
    throw new CliError(`cannot reach ${where}: ${(err as Error).message}`);
  }
  const text = await res.text();
  if (!res.ok) {
    let msg = text;
    try {
      msg = (JSON.parse(text) as { error?: string }).error ?? text;
    } catch {
      /* not JSON */
    }
    throw new CliError(`${where} answered ${res.status}: ${msg}`);
  }
  return JSON.parse(text) as T;
}

async function withUsers<T>(flags: Record<string, string>, io: CliIo, fn: (api: UsersApi) => Promise<T>): Promise<T> {
  const cfg = configFrom(flags, io);
  const resolved = resolvedStore(cfg);
  const server = resolved.kind === 'embedded' ? runningServer(resolved.dataDir) : null;
  if (server !== null) {
    return fn({
      create: (name) => call(server, 'POST', '/v1/users', { name }),
      list: async () => (await call<{ users: User[] }>(server, 'GET', '/v1/users')).users,
      token: (ref) => call(server, 'POST', `/v1/users/${encodeURIComponent(ref)}/tokens`),
    });
  }
  const backend = await connect(cfg, 'vigil users', { remote: false });
  try {
    if (!(backend instanceof DirectBackend)) throw new CliError('vigil users needs the database');
    const db = backend.store;
    return await fn({
      create: (name) => createUser(db, name),
      list: () => listUsers(db),
      token: async (ref) => {
        const user = await findUser(db, ref);
        return { ...user, token: await createUserToken(db, user.id) };
      },
    });
  } catch (err) {
    if (err instanceof UserExistsError || err instanceof UserNotFoundError) throw new CliError(err.message);
    throw err;
  } finally {
    await backend.close();
  }
}

function printToken(io: CliIo, u: User & { token: string }, what: string, json: boolean): void {
  if (json) io.stdout(JSON.stringify(u, null, 2) + '\n');
  else io.stdout(`${what} for user "${u.name}" (id ${u.id}).\nThe user token is shown only this once:\n\n  ${u.token}\n\n`);
}

export function registerUsers(program: Command, io: CliIo): void {
  const users = program.command('users').description('manage users: the people with an in-app inbox, and their tokens');

  addStoreOptions(
    users.command('create').description('create a user; prints a user token, only this once').requiredOption('--name <name>', "the user's name").option('--json', 'print JSON'),
  ).action(async (flags: Record<string, string>) => {
    const u = await withUsers(flags, io, (api) => api.create(flags.name));
    printToken(io, u, 'Created a token', Boolean(flags.json));
  });

  addStoreOptions(users.command('list').description('list users').option('--json', 'print JSON')).action(async (flags: Record<string, string>) => {
    const list = await withUsers(flags, io, (api) => api.list());
    if (flags.json) io.stdout(JSON.stringify(list, null, 2) + '\n');
    else if (list.length === 0) io.stdout('no users\n');
    else io.stdout(table(['ID', 'NAME', 'CREATED'], list.map((u) => [u.id, u.name, u.created_at])));
  });

  addStoreOptions(
    users
      .command('token')
      .description("make a new token for a user (earlier tokens keep working); printed only this once")
      .requiredOption('--name <name>', "the user's name (or id)")
      .option('--json', 'print JSON'),
  ).action(async (flags: Record<string, string>) => {
    const u = await withUsers(flags, io, (api) => api.token(flags.name));
    printToken(io, u, 'Made a new token', Boolean(flags.json));
  });
}
