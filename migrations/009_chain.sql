-- The hash chain (src/trust/chain.ts): each row Vigil commits gets its position in the chain and
-- its hash. Rows stored before this migration keep NULL in both; `vigil verify` counts them apart.
ALTER TABLE logs ADD COLUMN chain_pos bigint, ADD COLUMN chain_hash bytea;

-- The head of the chain: one row, locked by each writing transaction (writers serialise per batch).
-- seq: the seq of the row at pos; legacy_seq: the highest seq stored before the chain began.
CREATE TABLE vigil_chain (
  one        boolean     PRIMARY KEY DEFAULT true CHECK (one),
  pos        bigint      NOT NULL,
  hash       bytea       NOT NULL,
  seq        bigint,
  legacy_seq bigint      NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO vigil_chain (pos, hash, legacy_seq)
SELECT 0, decode(repeat('00', 32), 'hex'), coalesce(max(seq), 0) FROM logs;

-- Signed statements about the chain (src/trust/checkpoints.ts):
--   checkpoint: the row at chain_pos had hash `hash` (the head when it was taken);
--   anchor:     retention removed the rows at positions from_pos..chain_pos; `hash` is the hash of
--               the last of them, from which the chain goes on.
CREATE TABLE vigil_checkpoints (
  id          bigserial   PRIMARY KEY,
  kind        text        NOT NULL CHECK (kind IN ('checkpoint', 'anchor')),
  from_pos    bigint      CHECK ((kind = 'anchor') = (from_pos IS NOT NULL)),
  chain_pos   bigint      NOT NULL,
  seq         bigint,
  hash        bytea       NOT NULL,
  created_at  timestamptz NOT NULL,
  key_id      text        NOT NULL,
  public_key  text        NOT NULL,
  signature   text        NOT NULL
);
CREATE INDEX vigil_checkpoints_pos_idx ON vigil_checkpoints (kind, chain_pos);

-- On PostgreSQL `logs` is partitioned by month (migration 010): makes the partition of the month
-- starting at `month` exist. A no-op while `logs` is a plain table (the embedded database).
CREATE FUNCTION vigil_logs_ensure_partition(month date) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  part text := 'logs_' || to_char(month, 'YYYY_MM');
BEGIN
  IF (SELECT c.relkind FROM pg_class c WHERE c.oid = 'logs'::regclass) <> 'p' OR to_regclass(part) IS NOT NULL THEN
    RETURN;
  END IF;
  EXECUTE format('CREATE TABLE %I PARTITION OF logs FOR VALUES FROM (%L) TO (%L)', part,
                 month::timestamp AT TIME ZONE 'UTC', (month + interval '1 month')::timestamp AT TIME ZONE 'UTC');
END;
$$;

-- The start of every write to `logs`: locks the chain head until the transaction ends, makes the
-- partitions of the rows' months exist, and returns the head (and whether `logs` is partitioned).
-- Writers take the head before any lock on `logs`, so writers never wait for each other in a
-- circle. Making a partition here (a month with none yet; the next month is made ahead, without
-- the head) asks for ACCESS EXCLUSIVE on `logs` while holding the head: a transaction that read
-- `logs` and then waits for the head (the rule evaluator writing an audit event) can then deadlock
-- with it; PostgreSQL aborts one of the two, and both retry.
CREATE FUNCTION vigil_chain_begin(months date[]) RETURNS TABLE (pos bigint, hash bytea, partitioned boolean) LANGUAGE plpgsql AS $$
DECLARE
  m date;
BEGIN
  PERFORM 1 FROM vigil_chain c FOR UPDATE;
  FOREACH m IN ARRAY coalesce(months, '{}'::date[]) LOOP
    PERFORM vigil_logs_ensure_partition(date_trunc('month', m)::date);
  END LOOP;
  RETURN QUERY SELECT c.pos, c.hash, (SELECT k.relkind = 'p' FROM pg_class k WHERE k.oid = 'logs'::regclass) FROM vigil_chain c;
END;
$$;
