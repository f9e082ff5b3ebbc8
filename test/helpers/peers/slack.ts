/**
 * A local Slack incoming-webhook peer: `POST /services/T…/B…/<token>` with a JSON body answers
 * `200 ok`; its errors are Slack's plain-text codes (`channel_is_archived`, …) and 429 with
 * Retry-After, scriptable per request.
 */
import { HttpPeer, type PeerOptions, type Received, type Reply } from './httpPeer.js';

export const SLACK_HOOK_PATH = '/services/T0000TEST/B0000TEST/xoxSecretHookToken123';

/** The status Slack uses for each error code. */
const STATUS: Record<string, number> = {
  invalid_payload: 400,
  action_prohibited: 403,
  no_service: 404,
  channel_not_found: 404,
  channel_is_archived: 410,
  no_active_hooks: 410,
};

export function slackError(code: string, status = STATUS[code] ?? 400): Reply {
  return { status, headers: { 'content-type': 'text/html' }, body: code };
}

export function slackRateLimited(retryAfterSec: number): Reply {
  return { status: 429, headers: { 'retry-after': String(retryAfterSec) }, body: 'rate_limited' };
}

function answer(req: Received): Reply {
  if (req.method !== 'POST' || !req.url.startsWith('/services/')) return slackError('no_service', 404);
  try {
    const body = JSON.parse(req.body) as { text?: unknown; blocks?: unknown; attachments?: unknown };
    if (typeof body.text !== 'string' && !body.blocks && !body.attachments) return slackError('invalid_payload');
  } catch {
    return slackError('invalid_payload');
  }
  return { status: 200, headers: { 'content-type': 'text/html' }, body: 'ok' };
}

export async function startSlackPeer(opts: PeerOptions = {}): Promise<HttpPeer & { hookUrl: string }> {
  const peer = await HttpPeer.start(answer, opts);
  return Object.assign(peer, { hookUrl: `${peer.url}${SLACK_HOOK_PATH}` });
}
