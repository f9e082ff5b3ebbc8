/**
 * HTTP helpers of the property-based tests: one raw request over the network (node:http, bytes
 * or text, any headers) and the checks every answer must pass, whatever was sent: no 5xx, and
 * a refusal is a 4xx in the error catalogue's shape with a message that says something.
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';

export interface RawAnswer {
  status: number;
  contentType: string;
  text: string;
  /** The parsed JSON body, or undefined when the body is not JSON. */
  json: unknown;
}

/** One request (no keep-alive): the body is sent as given, bytes or text. */
export function send(
  url: string,
  opts: { method?: string; key?: string; body?: Buffer | string; headers?: Record<string, string> } = {},
): Promise<RawAnswer> {
  const headers: Record<string, string> = { ...(opts.headers ?? {}) };
  if (opts.key) headers.authorization = `Bearer ${opts.key}`;
  return new Promise((resolve, reject) => {
    const req = request(url, { method: opts.method ?? (opts.body === undefined ? 'GET' : 'POST'), headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, contentType: String(res.headers['content-type'] ?? ''), text, json });
      });
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

export interface ErrorBody {
  code: number;
  http: number;
  error: string;
  problems?: { field: string; problem: string }[];
  results?: unknown[];
}

/** A request's description, cut for failure messages. */
const short = (what: string) => (what.length > 300 ? `${what.slice(0, 300)}... (${what.length} characters)` : what);

/** The server's warnings and errors (pino lines), so a 5xx failure shows what the server logged. */
export const serverLog: string[] = [];
export const logStream = { write: (line: string) => void serverLog.push(line.length > 2000 ? line.slice(0, 2000) : line) };

/** Fails unless the answer is below 500: the first property of every request. */
export function assertNo5xx(a: RawAnswer, what: string): void {
  const logged = () => serverLog.slice(-3).join('');
  assert.ok(a.status < 500 && a.status >= 200, `${short(what)}: answered ${a.status}: ${a.text.slice(0, 300)}\nserver log: ${a.status >= 500 ? logged() : ''}`);
}

/**
 * A refusal: a 4xx (one of `statuses` when given) with the catalogue's JSON body, whose `error`
 * is a non-empty sentence and whose code belongs to the status. Returns the body.
 */
export function assertRefusal(a: RawAnswer, what: string, statuses?: readonly number[]): ErrorBody {
  assertNo5xx(a, what);
  assert.ok(a.status >= 400 && a.status < 500, `${short(what)}: expected a 4xx, got ${a.status}: ${a.text.slice(0, 300)}`);
  if (statuses) assert.ok(statuses.includes(a.status), `${short(what)}: expected ${statuses.join(' or ')}, got ${a.status}: ${a.text.slice(0, 300)}`);
  assert.match(a.contentType, /^application\/json/, `${short(what)}: a refusal must be JSON, got ${a.contentType}`);
  const b = a.json as ErrorBody;
  assert.ok(b && typeof b === 'object', `${short(what)}: the refusal has no JSON object body: ${a.text.slice(0, 300)}`);
  assert.equal(b.http, a.status, `${short(what)}: body.http must be the status`);
  assert.equal(Math.floor(b.code / 100), a.status, `${short(what)}: code ${b.code} does not belong to ${a.status}`);
  assert.equal(typeof b.error, 'string', `${short(what)}: body.error must be a string`);
  assert.ok(b.error.trim().length >= 10, `${short(what)}: the message says nothing: ${JSON.stringify(b.error)}`);
  return b;
}

/**
 * Node's HTTP parser refuses a request line and headers over 16 KiB before the app sees them: 431,
 * answered in the catalogue's shape (43101). True when that is the answer, which is only
 * acceptable for a URL that long.
 */
export function headerTooLarge(a: RawAnswer, url: string): boolean {
  if (a.status !== 431) return false;
  assert.ok(url.length > 8 * 1024, `431 for a URL of ${url.length} characters`);
  const body = a.json as { code?: unknown; error?: unknown } | undefined;
  assert.equal(body?.code, 43101, `431 outside the error catalogue: ${a.text}`);
  assert.match(String(body?.error), /over 16 KiB/, `431 without a message: ${a.text}`);
  return true;
}

/** Percent-encodes the UTF-8 bytes of a string (lone surrogates become U+FFFD, as any client would send). */
export function pct(s: string): string {
  let out = '';
  for (const b of Buffer.from(s, 'utf8')) {
    const c = String.fromCharCode(b);
    out += /[A-Za-z0-9\-_.~]/.test(c) ? c : '%' + b.toString(16).toUpperCase().padStart(2, '0');
  }
  return out;
}
