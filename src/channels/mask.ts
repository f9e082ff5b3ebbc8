/**
 * Masking of secrets for logs, error messages and API answers. Channel targets and credentials
 * (webhook URLs, tokens, passwords, phone numbers, addresses) are shown only in these forms, and
 * every error a channel returns passes through a `Redactor` that knows the channel's secrets.
 */

const STARS = '****';

/** A token, password or key: nothing of it is shown. */
export function maskSecret(value: string | undefined | null): string {
  return value ? STARS : '';
}

/** An identifier that is only half secret (an account SID): its first 4 characters. */
export function maskId(value: string): string {
  return value.length <= 6 ? STARS : `${value.slice(0, 4)}…`;
}

/** `+15551234567` → `+1555…67`; anything too short to keep a part of is fully masked. */
export function maskPhone(value: string): string {
  const v = value.replace(/[\s().-]/g, '');
  return v.length < 9 ? STARS : `${v.slice(0, 5)}…${v.slice(-2)}`;
}

/** `alice@example.com` → `al…@example.com`: the domain stays, for routing questions. */
export function maskEmail(value: string): string {
  const at = value.lastIndexOf('@');
  if (at <= 0) return STARS;
  const local = value.slice(0, at);
  const keep = local.length > 3 ? 2 : 1;
  return `${local.slice(0, keep)}…${value.slice(at)}`;
}

/**
 * A URL with its secret parts masked:
 * - Discord `https://discord.com/api/webhooks/123456/token` → `https://discord.com/api/webhooks/12…/****`
 * - Slack `https://hooks.slack.com/services/T0001/B0001/XXXX` → `https://hooks.slack.com/services/T0…/****`
 * - anything else: the origin (credentials removed), a short lower-case first path word (`/hooks/`), `/****`.
 */
export function maskUrl(value: string): string {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    return STARS;
  }
  const origin = `${u.protocol}//${u.username || u.password ? `${STARS}@` : ''}${u.host}`;
  const parts = u.pathname.split('/').filter(Boolean);
  const rest = parts.length > 0 || u.search || u.hash ? `/${STARS}` : '';
  const discord = /^(\/api(?:\/v\d+)?\/webhooks\/)(\d+)\//.exec(u.pathname);
  if (discord) return `${origin}${discord[1]}${discord[2].slice(0, 2)}…/${STARS}`;
  if (parts[0] === 'services' && parts.length >= 2) return `${origin}/services/${parts[1].slice(0, 2)}…/${STARS}`;
  if (parts.length > 1 && /^[a-z][a-z_-]{0,11}$/.test(parts[0])) return `${origin}/${parts[0]}/${STARS}`;
  return `${origin}${rest}`;
}

/** Masks a ChannelTarget address by its look: URL, email address, phone number, other. */
export function maskAddress(value: string): string {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) return maskUrl(value);
  if (value.includes('@')) return value.split(',').map((v) => maskEmail(v.trim())).join(', ');
  if (/^\+?[\d\s().-]{7,}$/.test(value)) return maskPhone(value);
  return STARS;
}

const URL_RE = /\b[a-z][a-z0-9+.-]*:\/\/[^\s"'<>]+/gi;
const EMAIL_RE = /[\w.+-]+@[\w-]+(?:\.[\w-]+)+/g;
const PHONE_RE = /\+\d[\d\s-]{6,18}\d/g;
/** An HTTP credential quoted back by a provider (`Authorization: Basic …` / `Bearer …`). */
const AUTH_RE = /\b(Basic|Bearer)\s+(?=[\w+/=.~-]*[\d+/=.])[\w+/=.~-]{12,}/gi;

/**
 * Scrubs known secrets from text, then masks any URL, email address and E.164-looking phone
 * number left in it (provider answers quote them back: Twilio names the `To` number, SMTP servers
 * the recipient). The secrets list is the last line of defence; channels also build their
 * messages from masked values in the first place.
 */
export class Redactor {
  private readonly secrets: { value: string; masked: string }[] = [];

  constructor(secrets: Iterable<{ value: string | undefined | null; masked?: string }> = []) {
    for (const s of secrets) this.add(s.value, s.masked);
  }

  /** Adds a secret, with its URL-encoded and base64 forms. Values under 4 characters are ignored. */
  add(value: string | undefined | null, masked = STARS): this {
    if (!value || value.length < 4) return this;
    const forms = new Set([value, encodeURIComponent(value), Buffer.from(value).toString('base64')]);
    for (const f of forms) if (!this.secrets.some((s) => s.value === f)) this.secrets.push({ value: f, masked });
    // Longest first, so a URL is replaced before the token inside it.
    this.secrets.sort((a, b) => b.value.length - a.value.length);
    return this;
  }

  /** A new Redactor holding the secrets of this one and of `other`. */
  merge(other: Redactor): Redactor {
    const r = new Redactor();
    for (const s of [...this.secrets, ...other.secrets]) if (!r.secrets.some((x) => x.value === s.value)) r.secrets.push(s);
    r.secrets.sort((a, b) => b.value.length - a.value.length);
    return r;
  }

  redact(text: string): string {
    let out = text;
    for (const s of this.secrets) out = out.split(s.value).join(s.masked);
    return out
      .replace(AUTH_RE, `$1 ${STARS}`)
      .replace(URL_RE, (m) => (m.includes(STARS) ? m : maskUrl(m)))
      .replace(EMAIL_RE, (m) => maskEmail(m))
      .replace(PHONE_RE, (m) => maskPhone(m));
  }
}

/** A short, single-line, masked excerpt of a provider's answer body for an error message. */
export function excerpt(body: string, redactor: Redactor, max = 200): string {
  // Redacted whole, then cut (a cut secret would no longer be recognised).
  const oneLine = redactor.redact(body.replace(/\s+/g, ' ').trim());
  return oneLine.length > max ? `${oneLine.slice(0, max)}…` : oneLine;
}

/** A Redactor for a webhook URL: the URL, its path, its last segment (the token), credentials, query. */
export function urlSecrets(url: string, redactor: Redactor = new Redactor()): Redactor {
  redactor.add(url, maskUrl(url));
  try {
    const u = new URL(url);
    redactor.add(u.pathname).add(u.pathname.split('/').filter(Boolean).pop());
    redactor.add(u.password).add(u.username).add(u.search.slice(1));
    // What node sends for credentials in the URL: `Authorization: Basic base64(user:pass)`, decoded.
    if (u.username || u.password) redactor.add(`${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`);
    for (const v of u.searchParams.values()) redactor.add(v);
  } catch {
    // not a URL: the whole string was added
  }
  return redactor;
}
