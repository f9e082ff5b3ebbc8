-- The outbox: one row per (notification, channel target), written in the transaction that changed
-- the intervention, so nothing is lost between deciding and sending. Workers claim due rows with
-- FOR UPDATE SKIP LOCKED; every attempt is kept.
CREATE TABLE deliveries (
  id               uuid        PRIMARY KEY,           -- UUIDv7; the idempotency key (webhook-id)
  seq              bigint      GENERATED ALWAYS AS IDENTITY,
  intervention_id  uuid,                              -- null for `vigil notify test`
  channel          text        NOT NULL,
  target           text        NOT NULL,              -- the configured target's name, never its address
  route            text        NOT NULL DEFAULT '',
  reason           text        NOT NULL DEFAULT '',   -- why it notifies: first_time, level_rose, ...
  level            text        NOT NULL,
  notification     jsonb       NOT NULL,              -- what the channel renders
  status           text        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sending', 'sent', 'dead')),
  attempts         integer     NOT NULL DEFAULT 0,
  max_attempts     integer     NOT NULL,
  next_attempt_at  timestamptz NOT NULL,
  locked_by        text,                              -- the worker sending it
  locked_until     timestamptz,                       -- its lease; an expired lease is reclaimed
  last_status      text,                              -- provider status of the last attempt
  last_error       text,                              -- masked, secret-free
  fallback_channel text,                              -- used when this delivery is dead
  fallback_of      uuid REFERENCES deliveries (id),
  created_at       timestamptz NOT NULL,
  sent_at          timestamptz,
  dead_at          timestamptz
);
CREATE UNIQUE INDEX deliveries_seq_idx ON deliveries (seq);
CREATE INDEX deliveries_due_idx ON deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX deliveries_lease_idx ON deliveries (locked_until) WHERE status = 'sending';
CREATE INDEX deliveries_intervention_idx ON deliveries (intervention_id);
CREATE INDEX deliveries_status_seq_idx ON deliveries (status, seq);
CREATE INDEX deliveries_channel_seq_idx ON deliveries (channel, seq);

CREATE TABLE delivery_attempts (
  delivery_id     uuid             NOT NULL REFERENCES deliveries (id),
  attempt         integer          NOT NULL,
  started_at      timestamptz      NOT NULL,
  duration_ms     double precision NOT NULL,
  outcome         text             NOT NULL CHECK (outcome IN ('ok', 'retryable', 'permanent')),
  provider_status text,
  error           text,
  worker          text             NOT NULL,
  PRIMARY KEY (delivery_id, attempt)
);
