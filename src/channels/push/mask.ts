/**
 * Masking for push secrets: device tokens, subscription endpoints (their path is a capability
 * URL), access tokens, JWTs and private keys never reach an error message or a log line in clear.
 */

export const MASK = '****';

/** A token shown by its first four characters only: `abcd…****`. */
export function maskToken(token: string): string {
  if (token.length <= 12) return MASK;
  return `${token.slice(0, 4)}…${MASK}`;
}

/** A URL shown by its origin only: `https://fcm.googleapis.com/****`. */
export function maskUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.protocol !== 'https:' && u.protocol !== 'http:') return MASK;
    return `${u.origin}/${MASK}`;
  } catch {
    return MASK;
  }
}

const JWT_RE = /eyJ[\w-]{4,}\.[\w-]{4,}\.[\w-]+/g;
const PEM_RE = /-----BEGIN [A-Z ]+-----[\s\S]*?(-----END [A-Z ]+-----|$)/g;
const BEARER_RE = /\b(Bearer|vapid)\s+[^\s,"']+/gi;
/** A provider's text is cut to this many characters before it goes into an error. */
export const MAX_PROVIDER_TEXT = 200;

/**
 * Removes every known secret (and anything shaped like a JWT, a PEM key or a bearer credential)
 * from a text that came from a provider or a library, and cuts it to a readable length.
 */
export function redact(text: string, secrets: Iterable<string | undefined | null> = []): string {
  let out = text.replace(PEM_RE, MASK).replace(JWT_RE, MASK).replace(BEARER_RE, `$1 ${MASK}`);
  // A multi-line secret (a PEM key) is also removed line by line: a provider may quote one line.
  const list = [...secrets]
    .filter((s): s is string => typeof s === 'string' && s.length >= 6)
    .flatMap((s) => (s.includes('\n') ? [s, ...s.split(/\r?\n/).filter((l) => l.length >= 16)] : [s]));
  // Longest first, so a secret containing another is removed whole.
  list.sort((a, b) => b.length - a.length);
  for (const s of list) out = out.split(s).join(MASK);
  if (out.length > MAX_PROVIDER_TEXT) out = `${out.slice(0, MAX_PROVIDER_TEXT)}…`;
  return out;
}
