/**
 * A local Discord webhook peer: `POST /api/webhooks/<id>/<token>` with JSON answers 204, or 200
 * with the created message under `?wait=true`, with Discord's rate-limit headers. Scriptable 429
 * (`{message, retry_after, global}` + Retry-After), 404 Unknown Webhook and other errors.
 */
import { HttpPeer, type PeerOptions, type Received, type Reply } from './httpPeer.js';

export const DISCORD_HOOK_PATH = '/api/webhooks/123456789012345678/dIsCoRdSeCrEtToKeN_abcdefghijklmnop';

const RATE_HEADERS = {
  'x-ratelimit-limit': '5',
  'x-ratelimit-remaining': '4',
  'x-ratelimit-reset': '1700000000.5',
  'x-ratelimit-reset-after': '1.5',
  'x-ratelimit-bucket': 'abcd1234',
};

export function discordRateLimited(retryAfterSec: number, global = false, header = true): Reply {
  return {
    status: 429,
    headers: { ...RATE_HEADERS, 'x-ratelimit-remaining': '0', ...(header ? { 'retry-after': String(Math.ceil(retryAfterSec)) } : {}), ...(global ? { 'x-ratelimit-global': 'true' } : {}) },
    body: { message: 'You are being rate limited.', retry_after: retryAfterSec, global },
  };
}

export function discordError(status: number, code: number, message: string): Reply {
  return { status, body: { message, code } };
}

export const discordUnknownWebhook = (): Reply => discordError(404, 10015, 'Unknown Webhook');

let nextId = 1_100_000_000_000_000_000n;

function answer(req: Received): Reply {
  if (req.method !== 'POST' || !req.url.startsWith('/api/webhooks/')) return discordUnknownWebhook();
  let body: { content?: string; embeds?: unknown[] };
  try {
    body = JSON.parse(req.body) as typeof body;
  } catch {
    return discordError(400, 50109, 'The request body contains invalid JSON.');
  }
  if (!body.content && (!Array.isArray(body.embeds) || body.embeds.length === 0)) return discordError(400, 50006, 'Cannot send an empty message');
  if (!new URL(req.url, 'http://x').searchParams.has('wait')) return { status: 204, headers: RATE_HEADERS };
  nextId += 1n;
  return { status: 200, headers: RATE_HEADERS, body: { id: String(nextId), type: 0, content: body.content ?? '', embeds: body.embeds } };
}

export async function startDiscordPeer(opts: PeerOptions = {}): Promise<HttpPeer & { hookUrl: string }> {
  const peer = await HttpPeer.start(answer, opts);
  return Object.assign(peer, { hookUrl: `${peer.url}${DISCORD_HOOK_PATH}` });
}
