/** The shapes the dashboard reads from the API (docs/api.md, docs/stats.md). */

export interface StoredEvent {
  id: string;
  level: string;
  message: string;
  timestamp: string;
  log_metadata: Record<string, unknown> & { event_type: string };
}

export interface EventPage {
  events: StoredEvent[];
  next_cursor: string | null;
  head_cursor: string | null;
}

// The statistics' JSON shapes are the server's own (type-only: nothing of the server is bundled).
export type { CostFigures, CostsStats, DurationFigures, AgentsStats, TasksStats, ErrorsStats } from '../../src/stats/types';

export type InterventionLevel = 'INFO' | 'WARNING' | 'URGENT' | 'CRITICAL';
export const INTERVENTION_LEVELS: InterventionLevel[] = ['CRITICAL', 'URGENT', 'WARNING', 'INFO'];

export interface Intervention {
  id: string;
  task_id: string | null;
  reasons: string[];
  level: InterventionLevel;
  title: string;
  message: string;
  context: Record<string, unknown>;
  dedupe_key: string;
  source: string;
  status: 'open' | 'acknowledged' | 'resolved';
  occurrences: number;
  first_seen: string;
  last_seen: string;
  acknowledged_by: string | null;
  acknowledged_at: string | null;
  resolved_by: string | null;
  resolved_at: string | null;
}

export interface Occurrence {
  id: number;
  at: string;
  level: string;
  reasons: { code: string; level: string; detail: string }[] | string[];
  source: string;
  context: Record<string, unknown>;
}

export interface DeliveryAttempt {
  attempt: number;
  started_at: string;
  worker?: string;
  duration_ms: number;
  outcome: string;
  provider_status: string | null;
  error: string | null;
}

export interface Delivery {
  id: string;
  intervention_id: string | null;
  channel: string;
  target: string;
  target_masked: string;
  route?: string;
  reason?: string;
  level?: string;
  title?: string;
  status: 'pending' | 'sending' | 'sent' | 'dead';
  attempt_count: number;
  max_attempts: number;
  next_attempt_at?: string | null;
  last_status?: string | null;
  last_error?: string | null;
  created_at: string;
  sent_at?: string | null;
  dead_at?: string | null;
  /** With ?attempts=true, and always for one delivery. */
  attempts?: DeliveryAttempt[];
}

export interface InterventionDetail {
  intervention: Intervention;
  occurrences: Occurrence[];
  notifications: { id: number; at: string; reason: string; level: string; channels: string[]; routes: string[]; silenced_by: string[]; deliveries: number }[];
  deliveries: { id: string; channel: string; route: string; why: string; level: string; created_at: string; state: string }[];
}

export interface Matcher {
  field: string;
  op?: string;
  value?: unknown;
}

export interface Silence {
  id: string;
  matchers: Matcher[];
  starts_at: string;
  ends_at: string;
  created_by: string;
  comment: string;
  created_at: string;
  expired_by: string | null;
  expired_at: string | null;
}

export interface InboxNotification {
  id: string;
  title: string;
  message: string;
  notification_type: string;
  is_read: boolean;
  created_at: string;
  read_at: string | null;
  action_url: string | null;
  metadata: Record<string, unknown>;
}
