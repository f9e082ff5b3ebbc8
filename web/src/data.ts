/** Requests several pages share: lists of interventions and deliveries, thresholds, event counts. */
import { api, ApiError, type Query } from './api';
import type { Delivery, EventPage, Intervention, StoredEvent } from './types';

/** At most this many events are read to draw the events-per-minute chart. */
export const EVENTS_PER_MINUTE_CAP = 5_000;

export async function listInterventions(query: Query, signal?: AbortSignal): Promise<Intervention[]> {
  const b = await api<{ interventions?: Intervention[]; items?: Intervention[] }>('/v1/interventions', { query, signal });
  return b.interventions ?? b.items ?? [];
}

export async function listDeliveries(query: Query, signal?: AbortSignal): Promise<Delivery[]> {
  const b = await api<{ deliveries?: Delivery[]; items?: Delivery[] }>('/v1/deliveries', { query, signal });
  return b.deliveries ?? b.items ?? [];
}

/** The monthly budget in USD, and whether it came from the server (else the default of 100). */
export async function budget(signal?: AbortSignal): Promise<{ usd: number; fromServer: boolean }> {
  try {
    const b = await api<Record<string, unknown>>('/v1/thresholds', { signal });
    const t = (b.thresholds as Record<string, unknown> | undefined) ?? b;
    const v = t.budget_threshold ?? t.budget_usd ?? t.budget_limit;
    if (typeof v === 'number') return { usd: v, fromServer: true };
  } catch (err) {
    if (!(err instanceof ApiError) || err.status === 401) throw err;
  }
  return { usd: 100, fromServer: false };
}

/** Events since `since`, newest first, up to `cap`, following the cursor. */
export async function eventsSince(since: Date, cap: number, signal?: AbortSignal): Promise<{ events: StoredEvent[]; capped: boolean }> {
  const out: StoredEvent[] = [];
  let cursor: string | null | undefined;
  do {
    const page = await api<EventPage>('/v1/events', { query: { since: since.toISOString(), limit: 1000, cursor: cursor ?? undefined }, signal });
    out.push(...page.events);
    cursor = page.next_cursor;
  } while (cursor && out.length < cap);
  return { events: out, capped: Boolean(cursor) };
}

/** The API's answer when a route is not on this server yet: a 404 on the endpoint itself. */
export const isMissingRoute = (err: unknown): boolean => err instanceof ApiError && err.status === 404 && err.code === 40401;
