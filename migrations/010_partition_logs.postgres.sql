-- PostgreSQL only: `logs` becomes a table partitioned by month of "timestamp" (UTC), so retention
-- drops whole old partitions instead of deleting rows. The rows stored so far move over as they are.
--
-- A partitioned table's unique keys must hold the partition key: the primary key is
-- (id, "timestamp"), and seq is indexed without a unique constraint (an identity, unique by
-- construction). Writers look ids up under the chain lock where a client's id could come twice
-- (src/events/insertEvents.ts). Partitions are made by vigil_logs_ensure_partition, from the writer
-- (vigil_chain_begin) and ahead of time for the current and next month.
--
-- Writers COPY a batch whose events fall in one month straight into that month's partition: COPY
-- into a partitioned parent with transition-table triggers inserts row by row, several times
-- slower. So each partition gets its own statement-level rollup triggers (they fire for statements
-- naming the partition; the parent's fire for statements naming the parent, never both), the
-- TRUNCATE guard, and a default drawing seq from the parent's identity sequence (PostgreSQL 15 and
-- 16 do not give partitions the identity; 17 does, and then the default is not needed).
-- A migration that adds a trigger on `logs` must add it to the partitions and to this function too.
CREATE OR REPLACE FUNCTION vigil_logs_ensure_partition(month date) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  part text := 'logs_' || to_char(month, 'YYYY_MM');
BEGIN
  IF (SELECT c.relkind FROM pg_class c WHERE c.oid = 'logs'::regclass) <> 'p' OR to_regclass(part) IS NOT NULL THEN
    RETURN;
  END IF;
  EXECUTE format('CREATE TABLE %I PARTITION OF logs FOR VALUES FROM (%L) TO (%L)', part,
                 month::timestamp AT TIME ZONE 'UTC', (month + interval '1 month')::timestamp AT TIME ZONE 'UTC');
  IF (SELECT a.attidentity FROM pg_attribute a WHERE a.attrelid = to_regclass(part) AND a.attname = 'seq') = '' THEN
    EXECUTE format('ALTER TABLE %I ALTER COLUMN seq SET DEFAULT nextval(%L::regclass)', part, pg_get_serial_sequence('logs', 'seq'));
  END IF;
  EXECUTE format('CREATE TRIGGER logs_no_truncate BEFORE TRUNCATE ON %I FOR EACH STATEMENT EXECUTE FUNCTION vigil_logs_append_only()', part);
  EXECUTE format('CREATE TRIGGER logs_stats_rollup AFTER INSERT ON %I REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION vigil_stats_rollup()', part);
  EXECUTE format('CREATE TRIGGER logs_stats_cost_task_rollup AFTER INSERT ON %I REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION vigil_stats_cost_task_rollup()', part);
END;
$$;

ALTER TABLE logs RENAME TO logs_unpartitioned;
ALTER INDEX logs_pkey RENAME TO logs_unpartitioned_pkey;
ALTER INDEX logs_seq_idx RENAME TO logs_unpartitioned_seq_idx;
ALTER INDEX logs_timestamp_idx RENAME TO logs_unpartitioned_timestamp_idx;
ALTER INDEX logs_event_type_timestamp_idx RENAME TO logs_unpartitioned_event_type_timestamp_idx;
ALTER INDEX logs_metadata_idx RENAME TO logs_unpartitioned_metadata_idx;

CREATE TABLE logs (
  id            uuid        NOT NULL,
  seq           bigint      GENERATED ALWAYS AS IDENTITY,
  level         varchar(16) NOT NULL CHECK (level IN ('DEBUG', 'INFO', 'WARNING', 'ERROR', 'CRITICAL')),
  message       text        NOT NULL,
  "timestamp"   timestamptz NOT NULL,
  event_type    text        NOT NULL,
  log_metadata  jsonb       NOT NULL CHECK (log_metadata ->> 'event_type' = event_type),
  chain_pos     bigint,
  chain_hash    bytea,
  PRIMARY KEY (id, "timestamp")
) PARTITION BY RANGE ("timestamp");

CREATE INDEX logs_seq_idx ON logs (seq);
CREATE INDEX logs_timestamp_idx ON logs ("timestamp");
CREATE INDEX logs_event_type_timestamp_idx ON logs (event_type, "timestamp");
CREATE INDEX logs_metadata_idx ON logs USING gin (log_metadata jsonb_path_ops) WITH (gin_pending_list_limit = 16384);

-- The months holding rows, this month and the next.
SELECT vigil_logs_ensure_partition(m::date)
  FROM (SELECT DISTINCT date_trunc('month', "timestamp" AT TIME ZONE 'UTC') AS m FROM logs_unpartitioned
        UNION SELECT date_trunc('month', now() AT TIME ZONE 'UTC')
        UNION SELECT date_trunc('month', now() AT TIME ZONE 'UTC') + interval '1 month') months;

INSERT INTO logs (id, seq, level, message, "timestamp", event_type, log_metadata, chain_pos, chain_hash) OVERRIDING SYSTEM VALUE
SELECT id, seq, level, message, "timestamp", event_type, log_metadata, chain_pos, chain_hash FROM logs_unpartitioned ORDER BY seq;
SELECT setval(pg_get_serial_sequence('logs', 'seq'), coalesce((SELECT max(seq) FROM logs), 0) + 1, false);

DROP TABLE logs_unpartitioned;

-- The same triggers as before on the parent, created after the copy (the rollups already count
-- those rows; the partitions' own triggers do not fire for statements naming the parent).
CREATE TRIGGER logs_append_only
  BEFORE UPDATE OR DELETE ON logs
  FOR EACH ROW EXECUTE FUNCTION vigil_logs_append_only();
CREATE TRIGGER logs_no_truncate
  BEFORE TRUNCATE ON logs
  FOR EACH STATEMENT EXECUTE FUNCTION vigil_logs_append_only();
CREATE TRIGGER logs_stats_rollup
  AFTER INSERT ON logs
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION vigil_stats_rollup();
CREATE TRIGGER logs_stats_cost_task_rollup
  AFTER INSERT ON logs
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION vigil_stats_cost_task_rollup();
