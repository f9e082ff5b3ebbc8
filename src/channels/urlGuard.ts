/**
 * The outbound URL guard (SSRF): a channel may only reach http(s) URLs whose host resolves to
 * public addresses. Private, loopback, link-local, unique-local, CGNAT, multicast, reserved and
 * unspecified addresses — IPv4 and IPv6, IPv4-mapped/-compatible/NAT64 forms included — are
 * refused unless the host name, the address or a CIDR containing it is allow-listed.
 *
 * The guard resolves the name once and hands the checked addresses to the connection (`lookup`),
 * so a second DNS answer (rebinding) cannot send the request elsewhere. Redirects are never
 * followed by the HTTP helper.
 */
import { lookup as dnsLookup } from 'node:dns/promises';
import { isIP, type LookupFunction } from 'node:net';
import { maskUrl } from './mask.js';

/**
 * DNS answers that say "not now" rather than "no such name": the delivery is retried later.
 * (ENOTFOUND, a name that does not exist, stays a refusal: a wrong host in the configuration.)
 */
const TRANSIENT_DNS_CODES = new Set(['EAI_AGAIN', 'EAI_MEMORY', 'EAI_SYSTEM', 'ETIMEOUT', 'ETIMEDOUT', 'ESERVFAIL', 'ECONNREFUSED', 'EREFUSED', 'ECANCELLED']);

/** The host's name could not be resolved for now (the resolver failed or timed out): retry later. */
export class DnsUnavailableError extends Error {
  override readonly name = 'DnsUnavailableError';
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
  }
}

export class UrlRefusedError extends Error {
  override readonly name = 'UrlRefusedError';
  constructor(message: string) {
    super(message);
  }
}

export interface UrlGuardOptions {
  /**
   * Host names (exact, case-insensitive), IP addresses and CIDRs (`127.0.0.1`, `10.0.0.0/8`,
   * `::1`, `fd00::/8`) that may be reached although they are not public. Default: none.
   */
  allow?: string[];
  /** Resolves a host name to all its addresses (injectable for tests of the policy). */
  resolve?: (host: string) => Promise<{ address: string; family: number }[]>;
}

export interface ResolvedTarget {
  /** Shared by every check of the same URL string: read it, never change it. */
  readonly url: URL;
  /** The checked addresses, to connect to and nothing else (shared likewise). */
  readonly addresses: readonly { address: string; family: 4 | 6 }[];
}

/** What check() keeps of a URL string (see UrlGuard.parsed). */
interface ParsedUrl {
  url: URL;
  /** Lower case, IPv6 brackets removed. */
  host: string;
  /** The URL masked, for messages. */
  shown: string;
  /** The checked address when the host is an IP address. */
  pinned: ResolvedTarget['addresses'] | null;
}

/** Distinct URL strings whose reading is kept; past this many the cache starts afresh. */
const MAX_CACHED_URLS = 256;

interface Range {
  bytes: number[];
  bits: number;
  label: string;
}

const V4_BLOCKED: [string, string][] = [
  ['0.0.0.0/8', 'an unspecified ("this network") address'],
  ['10.0.0.0/8', 'a private address'],
  ['100.64.0.0/10', 'a CGNAT (shared) address'],
  ['127.0.0.0/8', 'a loopback address'],
  ['169.254.0.0/16', 'a link-local address'],
  ['172.16.0.0/12', 'a private address'],
  ['192.0.0.0/24', 'a reserved address'],
  ['192.0.2.0/24', 'a documentation address'],
  ['192.168.0.0/16', 'a private address'],
  ['198.18.0.0/15', 'a reserved (benchmarking) address'],
  ['198.51.100.0/24', 'a documentation address'],
  ['203.0.113.0/24', 'a documentation address'],
  ['224.0.0.0/4', 'a multicast address'],
  ['240.0.0.0/4', 'a reserved address'],
];
const V6_BLOCKED: [string, string][] = [
  ['::/128', 'an unspecified address'],
  ['::1/128', 'a loopback address'],
  ['100::/64', 'a discard-only address'],
  ['2001:db8::/32', 'a documentation address'],
  ['fc00::/7', 'a unique-local address'],
  ['fe80::/10', 'a link-local address'],
  ['fec0::/10', 'a site-local address'],
  ['ff00::/8', 'a multicast address'],
];
/** IPv6 forms that carry an IPv4 address in their last 32 bits: checked as that IPv4 address. */
const V6_EMBEDDING_V4 = ['::ffff:0:0/96', '::/96', '64:ff9b::/96'].map((c) => parseCidr(c));

const RANGES: Range[] = [...V4_BLOCKED, ...V6_BLOCKED].map(([cidr, label]) => ({ ...parseCidr(cidr), label }));

/** Parses an IPv4 or IPv6 address into 4 or 16 bytes; throws on anything else. */
export function parseIp(ip: string): number[] {
  const v = isIP(ip);
  if (v === 4) return ip.split('.').map(Number);
  if (v !== 6) throw new Error(`not an IP address: ${ip}`);
  let s = ip.split('%')[0];
  const tail: number[] = [];
  const m = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (m) {
    tail.push(...m[1].split('.').map(Number));
    s = s.slice(0, m.index) + '0:0';
  }
  const [head, rest] = s.includes('::') ? s.split('::') : [s, undefined];
  const h = head ? head.split(':') : [];
  const r = rest !== undefined && rest !== '' ? rest.split(':') : [];
  const groups = rest === undefined ? h : [...h, ...Array(8 - h.length - r.length).fill('0'), ...r];
  const bytes = groups.flatMap((g) => {
    const n = parseInt(g, 16);
    return [n >> 8, n & 0xff];
  });
  if (tail.length) bytes.splice(12, 4, ...tail);
  return bytes;
}

function parseCidr(cidr: string): { bytes: number[]; bits: number } {
  const [ip, len] = cidr.split('/');
  const bytes = parseIp(ip);
  const bits = len === undefined ? bytes.length * 8 : Number(len);
  if (!Number.isInteger(bits) || bits < 0 || bits > bytes.length * 8) throw new Error(`bad prefix length in ${cidr}`);
  return { bytes, bits };
}

function inRange(bytes: number[], r: { bytes: number[]; bits: number }): boolean {
  if (bytes.length !== r.bytes.length) return false;
  for (let i = 0, left = r.bits; left > 0; i++, left -= 8) {
    const mask = left >= 8 ? 0xff : (0xff << (8 - left)) & 0xff;
    if ((bytes[i] & mask) !== (r.bytes[i] & mask)) return false;
  }
  return true;
}

/** Why an address is not public (`a loopback address`), or null when it is public. */
export function classifyAddress(ip: string): string | null {
  let bytes = parseIp(ip);
  if (bytes.length === 16 && V6_EMBEDDING_V4.some((r) => inRange(bytes, r)) && !inRange(bytes, parseCidr('::/127'))) {
    bytes = bytes.slice(12);
  }
  const hit = RANGES.find((r) => inRange(bytes, r));
  if (hit) return hit.label;
  if (bytes.length === 4 && bytes.every((b) => b === 255)) return 'the broadcast address';
  return null;
}

export class UrlGuard {
  private readonly hosts = new Set<string>();
  private readonly cidrs: { bytes: number[]; bits: number }[] = [];
  private readonly resolve: NonNullable<UrlGuardOptions['resolve']>;
  private readonly urls = new Map<string, ParsedUrl>();

  constructor(options: UrlGuardOptions = {}) {
    for (const entry of options.allow ?? []) {
      const e = entry.trim().toLowerCase().replace(/^\[(.*)\]$/, '$1');
      if (!e) continue;
      const ip = e.split('/')[0];
      if (isIP(ip)) {
        try {
          this.cidrs.push(parseCidr(e));
        } catch (err) {
          throw new Error(`outbound allow-list entry "${entry}": ${(err as Error).message}`, { cause: err });
        }
      } else if (e.includes('/')) {
        throw new Error(`outbound allow-list entry "${entry}" is neither a host name, an IP address nor a CIDR`);
      } else this.hosts.add(e);
    }
    this.resolve = options.resolve ?? ((host) => dnsLookup(host, { all: true, verbatim: true }));
  }

  /** True when the address is public or allow-listed. */
  addressAllowed(ip: string): boolean {
    const bytes = parseIp(ip);
    if (this.cidrs.some((c) => inRange(bytes, c))) return true;
    // An allow-listed IPv4 range also admits its IPv4-mapped IPv6 form.
    if (bytes.length === 16 && inRange(bytes, V6_EMBEDDING_V4[0]) && this.cidrs.some((c) => inRange(bytes.slice(12), c))) return true;
    return classifyAddress(ip) === null;
  }

  /**
   * Checks a URL and resolves its host; throws UrlRefusedError (with a masked URL) when the
   * scheme is not http(s), the name does not exist, or any address is not allowed, and
   * DnsUnavailableError when the resolver could not answer for now.
   */
  async check(raw: string | URL): Promise<ResolvedTarget> {
    const p = typeof raw === 'string' ? this.parsed(raw) : this.parse(raw);
    // A host given as an address: the verdict was reached once, it depends on nothing else.
    if (p.pinned) return { url: p.url, addresses: p.pinned };
    const addresses = await this.resolveHost(p.host, p.shown);
    this.refuseUnless(p, addresses);
    return { url: p.url, addresses };
  }

  /**
   * A URL string's parse, masked form and host, made once per distinct string (they were a
   * twentieth of an HTTP channel's CPU time per send); with its checked addresses when the host is
   * an IP address. A host name is still resolved and its addresses checked at every call: what DNS
   * answers may change (rebinding), only the string's own reading does not. The allow-list is fixed
   * for the guard's life, so nothing here outlives it. Refused URLs are not kept.
   */
  private parsed(raw: string): ParsedUrl {
    let p = this.urls.get(raw);
    if (!p) {
      let url: URL;
      try {
        url = new URL(raw);
      } catch {
        throw new UrlRefusedError('invalid URL');
      }
      p = this.parse(url);
      if (this.urls.size >= MAX_CACHED_URLS) this.urls.clear();
      this.urls.set(raw, p);
    }
    return p;
  }

  private parse(url: URL): ParsedUrl {
    const shown = maskUrl(url.href);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new UrlRefusedError(`refused ${shown}: only http and https URLs may be called`);
    }
    const host = url.hostname.replace(/^\[(.*)\]$/, '$1').toLowerCase();
    const p: ParsedUrl = { url, host, shown, pinned: null };
    const literal = isIP(host);
    if (literal) {
      const addresses = [{ address: host, family: literal as 4 | 6 }];
      this.refuseUnless(p, addresses);
      p.pinned = addresses;
    }
    return p;
  }

  private refuseUnless(p: ParsedUrl, addresses: ResolvedTarget['addresses']): void {
    if (this.hosts.has(p.host)) return;
    for (const a of addresses) {
      if (!this.addressAllowed(a.address)) {
        throw new UrlRefusedError(
          `refused ${p.shown}: ${p.host} resolves to ${classifyAddress(a.address)} (${a.address}); allow-list the host or its range to reach it`,
        );
      }
    }
  }

  /** Resolves and checks a host name (for SMTP); the same rules as `check`. */
  async checkHost(host: string): Promise<ResolvedTarget['addresses']> {
    const h = host.replace(/^\[(.*)\]$/, '$1').toLowerCase();
    const addresses = await this.resolveHost(h, h);
    if (!this.hosts.has(h)) {
      for (const a of addresses) {
        if (!this.addressAllowed(a.address)) {
          throw new UrlRefusedError(`refused host ${h}: it resolves to ${classifyAddress(a.address)} (${a.address}); allow-list it to reach it`);
        }
      }
    }
    return addresses;
  }

  private async resolveHost(host: string, shown: string): Promise<ResolvedTarget['addresses']> {
    const literal = isIP(host);
    if (literal) return [{ address: host, family: literal as 4 | 6 }];
    let found: { address: string; family: number }[];
    try {
      found = await this.resolve(host);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'error';
      if (TRANSIENT_DNS_CODES.has(code)) throw new DnsUnavailableError(`cannot resolve the host of ${shown} for now (${code}); will retry`, code);
      throw new UrlRefusedError(`cannot resolve the host of ${shown} (${code})`);
    }
    if (found.length === 0) throw new UrlRefusedError(`cannot resolve the host of ${shown} (no address)`);
    return found.map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }));
  }
}

/** A `lookup` for net/http that answers only with the already checked addresses. */
export function pinnedLookup(addresses: ResolvedTarget['addresses']): LookupFunction {
  return ((_host: string, options: { all?: boolean; family?: number | string }, callback: (...args: unknown[]) => void) => {
    const fam = options?.family === 'IPv6' || options?.family === 6 ? 6 : options?.family === 'IPv4' || options?.family === 4 ? 4 : 0;
    const list = fam ? addresses.filter((a) => a.family === fam) : addresses;
    if (list.length === 0) {
      const err = Object.assign(new Error('no checked address of the requested family'), { code: 'ENOTFOUND' });
      callback(err, options?.all ? [] : '', 0);
    } else if (options?.all) callback(null, list);
    else callback(null, list[0].address, list[0].family);
  }) as unknown as LookupFunction;
}
