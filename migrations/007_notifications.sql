-- People and their inboxes: users, the tokens that sign them in (only a SHA-256 hash is kept, like
-- API keys), in-app notifications (the seed's columns), their Web Push subscriptions, and the
-- server's VAPID key pair.
CREATE TABLE users (
  id         uuid        PRIMARY KEY,                   -- UUIDv7
  name       text        NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 200),
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE user_tokens (
  id         uuid        PRIMARY KEY,
  user_id    uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  token_hash text        NOT NULL UNIQUE,               -- hex SHA-256 of the whole token
  prefix     text        NOT NULL,                      -- the token's first characters, to recognise it
  created_at timestamptz NOT NULL DEFAULT now(),
  revoked_at timestamptz
);
CREATE INDEX user_tokens_user_idx ON user_tokens (user_id);

-- In-app notifications. `id` orders them (keyset cursor); notification_type is `intervention_<level>`.
CREATE TABLE notifications (
  id                bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  user_id           uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  title             text        NOT NULL,
  message           text        NOT NULL,
  notification_type text        NOT NULL,
  is_read           boolean     NOT NULL DEFAULT false,
  created_at        timestamptz NOT NULL DEFAULT now(),
  read_at           timestamptz,
  action_url        text,
  metadata          jsonb       NOT NULL DEFAULT '{}'::jsonb,
  delivery_id       uuid                                -- the outbox delivery that made it: a retry adds no second row
);
CREATE INDEX notifications_user_idx ON notifications (user_id, id);
CREATE INDEX notifications_unread_idx ON notifications (user_id, id) WHERE NOT is_read;
CREATE UNIQUE INDEX notifications_delivery_idx ON notifications (delivery_id, user_id);

CREATE TABLE push_subscriptions (
  id           uuid        PRIMARY KEY,
  user_id      uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  endpoint     text        NOT NULL UNIQUE,
  subscription jsonb       NOT NULL,                    -- the browser's PushSubscription.toJSON(); secret
  created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX push_subscriptions_user_idx ON push_subscriptions (user_id);

-- The server's VAPID key pair, made on first start unless the config supplies one. One row.
CREATE TABLE vapid_keys (
  id          integer     PRIMARY KEY CHECK (id = 1),
  public_key  text        NOT NULL,
  private_key text        NOT NULL,                     -- secret
  created_at  timestamptz NOT NULL DEFAULT now()
);
