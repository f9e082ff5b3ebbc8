-- API keys of the HTTP API. Only a SHA-256 hash of each key is stored: keys are 256-bit random
-- strings, so a plain hash is as strong as a slow one and costs nothing per request.
CREATE TABLE api_keys (
  id                    uuid        PRIMARY KEY,
  name                  text        NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  key_hash              text        NOT NULL UNIQUE,          -- hex SHA-256 of the whole key
  prefix                text        NOT NULL,                 -- the key's first characters, to recognise it
  scopes                text[]      NOT NULL CHECK (scopes <@ ARRAY['ingest', 'read', 'admin', 'respond']::text[] AND cardinality(scopes) > 0),
  rate_limit_per_minute integer     CHECK (rate_limit_per_minute >= 0),  -- NULL: the server's default; 0: unlimited
  created_at            timestamptz NOT NULL DEFAULT now(),
  revoked_at            timestamptz
);

CREATE INDEX api_keys_active_idx ON api_keys (created_at) WHERE revoked_at IS NULL;
