/**
 * A local Twilio Messages API peer: `POST /2010-04-01/Accounts/{Sid}/Messages.json`, form body,
 * HTTP Basic auth. Answers 201 with a message resource; errors are Twilio's JSON
 * `{code, message, more_info, status}` (20003 bad credentials, 21211 invalid To, 21602 no Body,
 * 20429 with Retry-After), scriptable per request.
 */
import { HttpPeer, type Received, type Reply } from './httpPeer.js';

export const TEST_ACCOUNT_SID = 'AC0123456789abcdef0123456789abcdef';
export const TEST_AUTH_TOKEN = 'twilioSecretAuthToken0123456789ab';

export function twilioError(status: number, code: number, message: string, headers?: Record<string, string>): Reply {
  return { status, headers, body: { code, message, more_info: `https://www.twilio.com/docs/errors/${code}`, status } };
}

export const twilioRateLimited = (retryAfterSec: number): Reply =>
  twilioError(429, 20429, 'Too Many Requests', { 'retry-after': String(retryAfterSec) });

let seq = 0;

function answer(sid: string, token: string): (req: Received) => Reply {
  return (req) => {
    const m = /^\/2010-04-01\/Accounts\/([^/]+)\/Messages\.json$/.exec(req.url);
    if (req.method !== 'POST' || !m) return twilioError(404, 20404, 'The requested resource was not found');
    const auth = Buffer.from(String(req.headers.authorization ?? '').replace(/^Basic /, ''), 'base64').toString();
    if (auth !== `${sid}:${token}` || m[1] !== sid) return twilioError(401, 20003, 'Authenticate');
    const form = new URLSearchParams(req.body);
    const to = form.get('To') ?? '';
    if (!/^\+[1-9]\d{1,14}$/.test(to)) return twilioError(400, 21211, `The 'To' number ${to} is not a valid phone number.`);
    if (!form.get('Body')) return twilioError(400, 21602, 'Message body is required.');
    if (!form.get('From') && !form.get('MessagingServiceSid')) return twilioError(400, 21603, "A 'From' or 'MessagingServiceSid' parameter is required.");
    seq += 1;
    const msid = `SM${String(seq).padStart(32, '0')}`;
    return {
      status: 201,
      body: { sid: msid, account_sid: sid, to, from: form.get('From'), body: form.get('Body'), status: 'queued', num_segments: '1', error_code: null, error_message: null },
    };
  };
}

export async function startTwilioPeer(sid = TEST_ACCOUNT_SID, token = TEST_AUTH_TOKEN): Promise<HttpPeer & { form(i: number): URLSearchParams }> {
  const peer = await HttpPeer.start(answer(sid, token));
  return Object.assign(peer, { form: (i: number) => new URLSearchParams(peer.received[i].body) });
}
