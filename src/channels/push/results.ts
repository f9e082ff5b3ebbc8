/**
 * What the three push providers share on top of the channels' HTTP helper (../http.ts): the
 * result a provider returns (the channel adds the duration), the reading of a request that got no
 * answer, and the parsing of a JSON error body.
 */
import type { SendResult } from '../channel.js';
import { HttpFailure } from '../http.js';

export type ProviderResult = Omit<SendResult, 'durationMs'>;

/**
 * A request that got no HTTP answer: a URL the guard refused is permanent (the target or the
 * config must change); a timeout, an abort or a network error is retryable.
 */
export function failureResult(err: HttpFailure, prefix = ''): ProviderResult {
  return { outcome: err.kind === 'refused' ? 'permanent' : 'retryable', status: err.code ?? err.kind, error: `${prefix}${err.message}` };
}

/** Reads a JSON answer body; an empty or non-JSON body gives an empty object. */
export function parseJsonBody(body: string): Record<string, unknown> {
  try {
    const v: unknown = JSON.parse(body);
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

export { HttpFailure };
