-- Interventions: stream-rule state, the intervention lifecycle, its notifications, silences.

-- Every event a stream rule counted, once per (rule, event): a batch delivered twice (a retried
-- commit) cannot be counted twice. Counts and sums over a window are computed from here.
CREATE TABLE rule_hits (
  rule_id    text             NOT NULL,
  event_id   uuid             NOT NULL,
  group_key  text             NOT NULL,            -- the group_by field's value, '' when ungrouped
  bucket     text             NOT NULL,            -- calendar period start (2026-01-01), '' otherwise
  at         timestamptz      NOT NULL,            -- the event's timestamp
  value      double precision NOT NULL,            -- 1 for counts, the summed field otherwise
  PRIMARY KEY (rule_id, event_id)
);
CREATE INDEX rule_hits_group_idx ON rule_hits (rule_id, group_key, bucket, at);

-- Per rule, group and period: the highest tier already fired, so each tier fires once.
CREATE TABLE rule_state (
  rule_id     text             NOT NULL,
  group_key   text             NOT NULL,
  bucket      text             NOT NULL,
  fired_tier  integer          NOT NULL DEFAULT -1,  -- index into the rule's tiers; -1: none fired
  value       double precision NOT NULL DEFAULT 0,  -- the aggregate when last evaluated
  last_at     timestamptz,                          -- newest event counted (end of a sliding window)
  updated_at  timestamptz      NOT NULL,
  PRIMARY KEY (rule_id, group_key, bucket)
);

CREATE TABLE interventions (
  id               uuid        PRIMARY KEY,         -- UUIDv7
  seq              bigint      GENERATED ALWAYS AS IDENTITY,
  task_id          text,
  reasons          text[]      NOT NULL,            -- reason codes, first seen first
  level            text        NOT NULL CHECK (level IN ('INFO', 'WARNING', 'URGENT', 'CRITICAL')),
  title            text        NOT NULL,
  message          text        NOT NULL,
  context          jsonb       NOT NULL DEFAULT '{}',
  dedupe_key       text        NOT NULL,
  source           text        NOT NULL,            -- check, manual, rule:<id>
  status           text        NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'acknowledged', 'resolved')),
  occurrences      integer     NOT NULL DEFAULT 1,
  first_seen       timestamptz NOT NULL,
  last_seen        timestamptz NOT NULL,
  level_since      timestamptz NOT NULL,            -- escalate-after counts from here
  last_notified_at timestamptz,                     -- the repeat interval counts from here
  acknowledged_by  text,
  acknowledged_at  timestamptz,
  resolved_by      text,
  resolved_at      timestamptz
);
CREATE UNIQUE INDEX interventions_seq_idx ON interventions (seq);
-- At most one intervention per dedupe key is not resolved: a trigger adds an occurrence to it.
CREATE UNIQUE INDEX interventions_active_dedupe_idx ON interventions (dedupe_key) WHERE status <> 'resolved';
CREATE INDEX interventions_status_seq_idx ON interventions (status, seq);
CREATE INDEX interventions_task_idx ON interventions (task_id);

-- Each trigger of an intervention (the first included).
CREATE TABLE intervention_occurrences (
  id              bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  intervention_id uuid        NOT NULL REFERENCES interventions (id),
  at              timestamptz NOT NULL,
  level           text        NOT NULL,
  reasons         jsonb       NOT NULL,             -- [{code, level, detail}]
  source          text        NOT NULL,
  context         jsonb       NOT NULL DEFAULT '{}'
);
CREATE INDEX intervention_occurrences_idx ON intervention_occurrences (intervention_id, id);

-- Each routing decision that notified (or would have, when silenced): why, where, and who muted it.
CREATE TABLE intervention_notifications (
  id              bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  intervention_id uuid        NOT NULL REFERENCES interventions (id),
  at              timestamptz NOT NULL,
  reason          text        NOT NULL CHECK (reason IN ('first_time', 'level_rose', 'repeat_interval', 'escalated')),
  level           text        NOT NULL,
  channels        text[]      NOT NULL,
  routes          text[]      NOT NULL,
  silenced_by     uuid[]      NOT NULL DEFAULT '{}',
  deliveries      integer     NOT NULL
);
CREATE INDEX intervention_notifications_idx ON intervention_notifications (intervention_id, id);

-- Silences: matchers with a time range; a matching intervention is recorded but not sent.
CREATE TABLE silences (
  id          uuid        PRIMARY KEY,
  matchers    jsonb       NOT NULL,                 -- [{field, op, value}]
  starts_at   timestamptz NOT NULL,
  ends_at     timestamptz NOT NULL CHECK (ends_at >= starts_at),
  created_by  text        NOT NULL,
  comment     text        NOT NULL DEFAULT '',
  created_at  timestamptz NOT NULL,
  expired_by  text,
  expired_at  timestamptz
);
CREATE INDEX silences_ends_at_idx ON silences (ends_at);
