/**
 * A real Vigil server (startServer, as `vigil serve` runs it) over a fresh store, with a config
 * file whose `channels:` point at local provider peers; and a poll helper.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { stringify } from 'yaml';
import { loadConfig } from '../../src/config/config.js';
import { startServer, type ServerHandle } from '../../src/http/server.js';

export const silent = pino({ level: 'silent' });

/** Writes vigil.config.yaml into `dir` with these sections; returns its path. */
export function writeConfig(dir: string, sections: Record<string, unknown>): string {
  const path = join(dir, 'vigil.config.yaml');
  writeFileSync(path, stringify(sections));
  return path;
}

/** The `channels:` section for a Discord and a Slack peer (loopback allow-listed, as tests must). */
export function peerChannels(discordUrl: string, slackUrl: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    allow_outbound: ['127.0.0.1'],
    discord: { webhook_urls: [{ name: 'ops', url: discordUrl }] },
    slack: { webhook_urls: [{ name: 'team', url: slackUrl }] },
    ...extra,
  };
}

export async function startTestServer(env: { dataDir: string; databaseUrl?: string }, configPath: string): Promise<ServerHandle> {
  const cfg = loadConfig({
    flags: { config: configPath, host: '127.0.0.1', port: 0, data: env.dataDir, ...(env.databaseUrl ? { databaseUrl: env.databaseUrl } : {}), logLevel: 'silent' },
    env: {},
  });
  return startServer(cfg, silent, { env: {} });
}

/** Polls `fn` until it returns a truthy value (at most `ms`). */
export async function until<T>(fn: () => T | Promise<T>, what: string, ms = 10_000): Promise<NonNullable<T>> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v as NonNullable<T>;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
