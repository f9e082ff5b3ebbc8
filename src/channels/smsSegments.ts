/**
 * SMS encoding and segment arithmetic (3GPP TS 23.038). A text made only of the GSM-7 alphabet
 * is sent in 7-bit units: 160 per single message, 153 per part of a multi-part one, and the
 * extension characters (`^ { } \ [ ~ ] | €` and form feed) take two units (escape + char) and never
 * straddle two parts. Any other character makes the whole message UCS-2: 70 UTF-16 units alone,
 * 67 per part, surrogate pairs kept in one part. Each part is billed.
 */

const GSM7_BASIC =
  '@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà';
const GSM7_EXTENSION = '\f^{}\\[~]|€';

const BASIC = new Set(GSM7_BASIC);
const EXTENSION = new Set(GSM7_EXTENSION);

export type SmsEncoding = 'GSM-7' | 'UCS-2';

export interface SegmentCount {
  encoding: SmsEncoding;
  /** 7-bit units (GSM-7) or UTF-16 units (UCS-2). */
  units: number;
  segments: number;
}

export const GSM7_SINGLE = 160;
export const GSM7_PART = 153;
export const UCS2_SINGLE = 70;
export const UCS2_PART = 67;
/** Twilio accepts a Body of at most 1600 characters (10 parts of GSM-7 text). */
export const TWILIO_MAX_BODY = 1600;

export function isGsm7(text: string): boolean {
  for (const ch of text) if (!BASIC.has(ch) && !EXTENSION.has(ch)) return false;
  return true;
}

/** Counts a text's encoding, units and billed segments. */
export function countSegments(text: string): SegmentCount {
  if (isGsm7(text)) {
    const sizes = [...text].map((ch) => (EXTENSION.has(ch) ? 2 : 1));
    const units = sizes.reduce((a, b) => a + b, 0);
    return { encoding: 'GSM-7', units, segments: units <= GSM7_SINGLE ? 1 : pack(sizes, GSM7_PART) };
  }
  const sizes = [...text].map((ch) => ch.length);
  const units = text.length;
  return { encoding: 'UCS-2', units, segments: units <= UCS2_SINGLE ? 1 : pack(sizes, UCS2_PART) };
}

/** Parts needed when indivisible items of `sizes` are packed in order into parts of `part` units. */
function pack(sizes: number[], part: number): number {
  let parts = 1;
  let used = 0;
  for (const s of sizes) {
    if (used + s > part) {
      parts++;
      used = 0;
    }
    used += s;
  }
  return parts;
}

/** Typographic characters replaced by GSM-7 look-alikes, so one curly quote does not make a text UCS-2 (Twilio's "smart encoding"). */
const SMART: [RegExp, string][] = [
  [/[\u2018\u2019\u201A\u201B\u2032\u00B4`]/g, "'"],
  [/[\u201C\u201D\u201E\u201F\u2033\u00AB\u00BB]/g, '"'],
  [/[\u2010-\u2015\u2212]/g, '-'],
  [/\u2026/g, '...'],
  [/[\u00A0\u2000-\u200A\u202F\u205F\u3000]/g, ' '],
  [/[\u200B-\u200D\u2060\uFEFF]/g, ''],
  [/\u2022/g, '-'],
];

export function smartEncode(text: string): string {
  let out = text;
  for (const [re, to] of SMART) out = out.replace(re, to);
  return out;
}

/**
 * Shortens a text to fit in `maxSegments` parts (and Twilio's 1600 characters), ending it with
 * `...` (GSM-7, which `…` is not) or `…` (UCS-2) when cut. Whole code points only.
 */
export function fitToSegments(text: string, maxSegments: number): string {
  const fits = (t: string): boolean => t.length <= TWILIO_MAX_BODY && countSegments(t).segments <= maxSegments;
  if (fits(text)) return text;
  const cps = [...text];
  const suffix = isGsm7(text) ? '...' : '…';
  let lo = 0;
  let hi = cps.length;
  // The largest prefix length whose shortened form fits (fitting shrinks monotonically with length).
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (fits(cps.slice(0, mid).join('').trimEnd() + suffix)) lo = mid;
    else hi = mid - 1;
  }
  return cps.slice(0, lo).join('').trimEnd() + suffix;
}
