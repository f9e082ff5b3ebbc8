/**
 * A local webhook receiver that verifies the Standard Webhooks signature of each request with the
 * shared secret: 200 when it verifies, 401 when not; it records the verification result. Other
 * answers (429, 5xx, 410, hang) are scriptable.
 */
import { verifyWebhook, type WebhookPayload } from '../../../src/channels/webhook.js';
import { HttpPeer, type Received, type Reply } from './httpPeer.js';

export interface Verified {
  ok: boolean;
  error?: string;
  payload?: WebhookPayload;
}

export async function startWebhookReceiver(secret: string): Promise<HttpPeer & { verified: Verified[] }> {
  const verified: Verified[] = [];
  const answer = (req: Received): Reply => {
    try {
      const payload = verifyWebhook(secret, req.headers, req.body);
      verified.push({ ok: true, payload });
      return { status: 200, body: { received: true } };
    } catch (err) {
      verified.push({ ok: false, error: (err as Error).message });
      return { status: 401, body: { error: (err as Error).message } };
    }
  };
  const peer = await HttpPeer.start(answer);
  return Object.assign(peer, { verified });
}
