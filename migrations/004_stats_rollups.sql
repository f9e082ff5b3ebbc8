-- Hourly rollups behind the statistics (src/stats/, docs/stats.md).
--
-- Aggregating JSONB over millions of `logs` rows takes seconds; these tables hold, per UTC hour,
-- what each statistic needs. One AFTER INSERT ... FOR EACH STATEMENT trigger with a transition
-- table keeps them current: it fires for COPY and INSERT alike, so every write path (the SDK
-- writer, the server's group commit, the idempotent fallback) maintains them set-based, once per
-- batch, in the batch's own transaction. Queries read whole hours here and the partial-hour edges
-- of a range from `logs`, so answers are exact.
--
-- Durations are kept as log-scale histograms: `bucket` = floor(8 * log2(ms)), i.e. 8 buckets per
-- doubling; -32767 holds 0 ms and -32768 events without a duration. Reporting a bucket's geometric
-- midpoint bounds the relative error of a percentile by 2^(1/16) - 1 ≈ 4.43%.
--
-- Rollups keep counting events that retention later removes from `logs`; retention prunes them
-- with the same cutoff (pruneRollups in src/stats/prune.ts).

-- 8 / ln(2) = 11.541560327111707: 8 buckets per doubling.
CREATE FUNCTION vigil_stats_bucket(ms double precision) RETURNS smallint
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  AS $$ SELECT CASE WHEN ms IS NULL THEN -32768 WHEN ms <= 0 THEN -32767
                    ELSE floor(ln(ms) * 11.541560327111707)::smallint END $$;

-- A JSON number as double precision; NULL for anything else, so a stray value can never make an
-- insert into `logs` fail.
CREATE FUNCTION vigil_stats_number(v jsonb) RETURNS double precision
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  AS $$ SELECT CASE WHEN jsonb_typeof(v) = 'number' THEN v::double precision END $$;

-- model_called: calls, tokens and cost per model and provider.
CREATE TABLE stats_costs_hourly (
  hour        timestamptz NOT NULL,
  model_name  text        NOT NULL,
  provider    text        NOT NULL,
  calls       bigint      NOT NULL,
  tokens      bigint      NOT NULL,
  cost_usd    numeric     NOT NULL,   -- exact decimal sums of the JSON numbers
  PRIMARY KEY (hour, model_name, provider)
) WITH (fillfactor = 80);

-- agent_executed: executions, successes and an execution-time histogram per agent.
CREATE TABLE stats_agents_hourly (
  hour         timestamptz      NOT NULL,
  agent_name   text             NOT NULL,
  bucket       smallint         NOT NULL,
  executions   bigint           NOT NULL,
  successes    bigint           NOT NULL,
  time_ms_sum  double precision NOT NULL,
  PRIMARY KEY (hour, agent_name, bucket)
) WITH (fillfactor = 80);

-- task_created / task_completed / task_failed: counts, and the completion-time histogram.
CREATE TABLE stats_tasks_hourly (
  hour         timestamptz      NOT NULL,
  event_type   text             NOT NULL,
  bucket       smallint         NOT NULL,
  tasks        bigint           NOT NULL,
  time_ms_sum  double precision NOT NULL,
  PRIMARY KEY (hour, event_type, bucket)
) WITH (fillfactor = 80);

-- cache_operation: operations, hits and misses per operation.
CREATE TABLE stats_cache_hourly (
  hour        timestamptz NOT NULL,
  operation   text        NOT NULL,
  operations  bigint      NOT NULL,
  hits        bigint      NOT NULL,
  misses      bigint      NOT NULL,
  PRIMARY KEY (hour, operation)
) WITH (fillfactor = 80);

-- error and task_failed: counts per component and error type ('' = none: task_failed has no
-- component, and its error_type is optional; validated events never carry an empty string).
CREATE TABLE stats_errors_hourly (
  hour        timestamptz NOT NULL,
  event_type  text        NOT NULL,
  component   text        NOT NULL,
  error_type  text        NOT NULL,
  errors      bigint      NOT NULL,
  PRIMARY KEY (hour, event_type, component, error_type)
) WITH (fillfactor = 80);

-- permission_denied: denials per user and resource.
CREATE TABLE stats_security_hourly (
  hour      timestamptz NOT NULL,
  user_id   text        NOT NULL,
  resource  text        NOT NULL,
  denials   bigint      NOT NULL,
  PRIMARY KEY (hour, user_id, resource)
) WITH (fillfactor = 80);

-- database_query: an execution-time histogram per table.
CREATE TABLE stats_database_hourly (
  hour         timestamptz      NOT NULL,
  table_name   text             NOT NULL,
  bucket       smallint         NOT NULL,
  queries      bigint           NOT NULL,
  time_ms_sum  double precision NOT NULL,
  PRIMARY KEY (hour, table_name, bucket)
) WITH (fillfactor = 80);

-- Adds a batch of new rows (`new_rows`: "timestamp", event_type, log_metadata) to the rollups.
-- Each statement groups the batch's rows of its event types, then upserts in key order, so that
-- concurrent writers lock rollup rows in the same order and cannot deadlock. A duration is read
-- from the JSON once, in a MATERIALIZED CTE (inlined, vigil_stats_bucket would re-read it three
-- times). The hour is date_bin's: independent of the session's time zone. On a 5,000-row batch
-- the transition table and the seven statements together cost about a fifth of the COPY itself
-- (bench/stats.ts; the breakdown is in docs/stats.md).
CREATE FUNCTION vigil_stats_rollup() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO stats_costs_hourly AS s (hour, model_name, provider, calls, tokens, cost_usd)
  SELECT date_bin('1 hour', "timestamp", '2000-01-01 00:00:00+00'),
         coalesce(log_metadata ->> 'model_name', ''), coalesce(log_metadata ->> 'provider', ''), count(*),
         coalesce(sum(vigil_stats_number(log_metadata -> 'tokens_used')), 0)::bigint,
         coalesce(sum((log_metadata ->> 'cost_usd')::numeric) FILTER (WHERE jsonb_typeof(log_metadata -> 'cost_usd') = 'number'), 0)
    FROM new_rows WHERE event_type = 'model_called'
   GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
  ON CONFLICT (hour, model_name, provider) DO UPDATE
     SET calls = s.calls + excluded.calls, tokens = s.tokens + excluded.tokens, cost_usd = s.cost_usd + excluded.cost_usd;

  WITH r AS MATERIALIZED (
    SELECT date_bin('1 hour', "timestamp", '2000-01-01 00:00:00+00') AS hour, coalesce(log_metadata ->> 'agent_name', '') AS agent_name,
           lower(log_metadata ->> 'status') = 'success' AS ok, vigil_stats_number(log_metadata -> 'execution_time_ms') AS ms
      FROM new_rows WHERE event_type = 'agent_executed')
  INSERT INTO stats_agents_hourly AS s (hour, agent_name, bucket, executions, successes, time_ms_sum)
  SELECT hour, agent_name, vigil_stats_bucket(ms), count(*), count(*) FILTER (WHERE ok), coalesce(sum(ms), 0)
    FROM r GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
  ON CONFLICT (hour, agent_name, bucket) DO UPDATE
     SET executions = s.executions + excluded.executions, successes = s.successes + excluded.successes,
         time_ms_sum = s.time_ms_sum + excluded.time_ms_sum;

  -- Only task_completed carries a duration; the others all fall in bucket -32768 (none).
  WITH r AS MATERIALIZED (
    SELECT date_bin('1 hour', "timestamp", '2000-01-01 00:00:00+00') AS hour, event_type,
           vigil_stats_number(log_metadata -> 'execution_time_ms') AS ms
      FROM new_rows WHERE event_type IN ('task_created', 'task_completed', 'task_failed'))
  INSERT INTO stats_tasks_hourly AS s (hour, event_type, bucket, tasks, time_ms_sum)
  SELECT hour, event_type, vigil_stats_bucket(ms), count(*), coalesce(sum(ms), 0)
    FROM r GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
  ON CONFLICT (hour, event_type, bucket) DO UPDATE
     SET tasks = s.tasks + excluded.tasks, time_ms_sum = s.time_ms_sum + excluded.time_ms_sum;

  INSERT INTO stats_cache_hourly AS s (hour, operation, operations, hits, misses)
  SELECT date_bin('1 hour', "timestamp", '2000-01-01 00:00:00+00'), coalesce(log_metadata ->> 'operation', ''),
         count(*), count(*) FILTER (WHERE lower(log_metadata ->> 'hit_miss') = 'hit'),
         count(*) FILTER (WHERE lower(log_metadata ->> 'hit_miss') = 'miss')
    FROM new_rows WHERE event_type = 'cache_operation'
   GROUP BY 1, 2 ORDER BY 1, 2
  ON CONFLICT (hour, operation) DO UPDATE
     SET operations = s.operations + excluded.operations, hits = s.hits + excluded.hits, misses = s.misses + excluded.misses;

  INSERT INTO stats_errors_hourly AS s (hour, event_type, component, error_type, errors)
  SELECT date_bin('1 hour', "timestamp", '2000-01-01 00:00:00+00'), event_type,
         coalesce(log_metadata ->> 'component', ''), coalesce(log_metadata ->> 'error_type', ''), count(*)
    FROM new_rows WHERE event_type IN ('error', 'task_failed')
   GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
  ON CONFLICT (hour, event_type, component, error_type) DO UPDATE SET errors = s.errors + excluded.errors;

  INSERT INTO stats_security_hourly AS s (hour, user_id, resource, denials)
  SELECT date_bin('1 hour', "timestamp", '2000-01-01 00:00:00+00'),
         coalesce(log_metadata ->> 'user_id', ''), coalesce(log_metadata ->> 'resource', ''), count(*)
    FROM new_rows WHERE event_type = 'permission_denied'
   GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
  ON CONFLICT (hour, user_id, resource) DO UPDATE SET denials = s.denials + excluded.denials;

  WITH r AS MATERIALIZED (
    SELECT date_bin('1 hour', "timestamp", '2000-01-01 00:00:00+00') AS hour, coalesce(log_metadata ->> 'table_name', '') AS table_name,
           vigil_stats_number(log_metadata -> 'execution_time_ms') AS ms
      FROM new_rows WHERE event_type = 'database_query')
  INSERT INTO stats_database_hourly AS s (hour, table_name, bucket, queries, time_ms_sum)
  SELECT hour, table_name, vigil_stats_bucket(ms), count(*), coalesce(sum(ms), 0)
    FROM r GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
  ON CONFLICT (hour, table_name, bucket) DO UPDATE
     SET queries = s.queries + excluded.queries, time_ms_sum = s.time_ms_sum + excluded.time_ms_sum;

  RETURN NULL;
END;
$$;

-- Created before the backfill: it locks `logs` against concurrent writers until this migration
-- commits, so no row is counted twice or missed.
CREATE TRIGGER logs_stats_rollup
  AFTER INSERT ON logs
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION vigil_stats_rollup();

-- Backfill the rows stored before this migration, through the same function: a scratch table
-- with the three columns it reads, and the same trigger.
CREATE TEMPORARY TABLE stats_backfill ("timestamp" timestamptz NOT NULL, event_type text NOT NULL, log_metadata jsonb NOT NULL);
CREATE TRIGGER stats_backfill_rollup
  AFTER INSERT ON stats_backfill
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION vigil_stats_rollup();
INSERT INTO stats_backfill SELECT "timestamp", event_type, log_metadata FROM logs;
DROP TABLE stats_backfill;
