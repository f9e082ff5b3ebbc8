-- The audit trail. Keeps the design report's columns (id, level, message, timestamp,
-- log_metadata) and adds what queries need: event_type and a monotonically increasing seq.
CREATE TABLE logs (
  id            uuid        PRIMARY KEY,          -- UUIDv7, stamped when the event is accepted
  seq           bigint      GENERATED ALWAYS AS IDENTITY,
  level         varchar(16) NOT NULL CHECK (level IN ('DEBUG', 'INFO', 'WARNING', 'ERROR', 'CRITICAL')),
  message       text        NOT NULL,
  "timestamp"   timestamptz NOT NULL,
  event_type    text        NOT NULL,
  log_metadata  jsonb       NOT NULL CHECK (log_metadata ->> 'event_type' = event_type)
);

-- Ordering and cursors.
CREATE UNIQUE INDEX logs_seq_idx ON logs (seq);
-- Time ranges.
CREATE INDEX logs_timestamp_idx ON logs ("timestamp");
-- Event type + time.
CREATE INDEX logs_event_type_timestamp_idx ON logs (event_type, "timestamp");
-- JSONB containment (log_metadata @> '{"task_id": "..."}'). A larger pending list makes
-- bulk inserts cheaper; it is merged into the index in the background by autovacuum.
CREATE INDEX logs_metadata_idx ON logs USING gin (log_metadata jsonb_path_ops) WITH (gin_pending_list_limit = 16384);

-- Append-only: UPDATE, DELETE and TRUNCATE are refused. The retention path alone may delete,
-- by setting vigil.allow_log_removal = 'on' for its own transaction.
CREATE FUNCTION vigil_logs_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' AND current_setting('vigil.allow_log_removal', true) = 'on' THEN
    RETURN OLD;
  END IF;
  RAISE EXCEPTION 'logs is append-only: % is refused', TG_OP
    USING ERRCODE = 'insufficient_privilege',
          HINT = 'Rows leave the audit trail only through retention (vigil retention).';
END;
$$;

CREATE TRIGGER logs_append_only
  BEFORE UPDATE OR DELETE ON logs
  FOR EACH ROW EXECUTE FUNCTION vigil_logs_append_only();

CREATE TRIGGER logs_no_truncate
  BEFORE TRUNCATE ON logs
  FOR EACH STATEMENT EXECUTE FUNCTION vigil_logs_append_only();
