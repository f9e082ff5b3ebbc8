-- The stream-rule evaluator's position in `logs`, per evaluator name. Rows are read by `seq`;
-- `safe_seq` is the highest seq below which every row has been evaluated (or its seq was given
-- up as a hole: a rolled-back insert), `high_seq` the highest seq evaluated. Rows between the two
-- are read again on each pass, so a transaction that took a lower seq but committed after a
-- higher one is still evaluated (rule_hits' primary key makes the re-read harmless).
-- The row is locked (FOR UPDATE SKIP LOCKED) by the one process evaluating at a time.
CREATE TABLE rule_cursor (
  name        text        PRIMARY KEY,
  safe_seq    bigint      NOT NULL,
  high_seq    bigint      NOT NULL,
  gap_since   timestamptz,                          -- when the hole just above safe_seq was first seen
  updated_at  timestamptz NOT NULL
);

-- The server's evaluator starts where the trail is now: rules apply to events committed from here on.
INSERT INTO rule_cursor (name, safe_seq, high_seq, updated_at)
SELECT 'stream_rules', coalesce(max(seq), 0), coalesce(max(seq), 0), now() FROM logs;
