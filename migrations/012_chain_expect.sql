-- A writer that knows where the chain head is (its own last write left it there) sends its next
-- batch already chained, in one round trip (src/events/insertEvents.ts): this takes the chain lock
-- like vigil_chain_begin and fails with SQLSTATE VG001, so that nothing of the batch is written,
-- when the head is not where the writer expects (another writer moved it). The writer then writes
-- the batch again the usual way, chained from the head it finds.
CREATE FUNCTION vigil_chain_expect(months date[], expect_pos bigint, expect_hash bytea) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  head record;
BEGIN
  SELECT b.pos, b.hash INTO head FROM vigil_chain_begin(months) b;
  IF head.pos IS DISTINCT FROM expect_pos OR head.hash IS DISTINCT FROM expect_hash THEN
    RAISE EXCEPTION 'the chain head is at %, not at % as this writer expected', head.pos, expect_pos USING ERRCODE = 'VG001';
  END IF;
END;
$$;
