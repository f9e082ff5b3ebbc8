-- Cost per task type: `model_called` may name the task it was made for (task_id, task_type);
-- spend, tokens and calls are rolled up per UTC hour and task type, like the other statistics
-- (a statement-level trigger with a transition table: once per batch, for every write path).
CREATE TABLE stats_cost_task_hourly (
  hour       timestamptz NOT NULL,
  task_type  text        NOT NULL,   -- '' when the call named no task type
  calls      bigint      NOT NULL,
  tokens     bigint      NOT NULL,
  cost_usd   numeric     NOT NULL,   -- exact decimal sums of the JSON numbers
  PRIMARY KEY (hour, task_type)
) WITH (fillfactor = 80);

CREATE FUNCTION vigil_stats_cost_task_rollup() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO stats_cost_task_hourly AS s (hour, task_type, calls, tokens, cost_usd)
  SELECT date_bin('1 hour', "timestamp", '2000-01-01 00:00:00+00'), coalesce(log_metadata ->> 'task_type', ''), count(*),
         coalesce(sum(vigil_stats_number(log_metadata -> 'tokens_used')), 0)::bigint,
         coalesce(sum((log_metadata ->> 'cost_usd')::numeric) FILTER (WHERE jsonb_typeof(log_metadata -> 'cost_usd') = 'number'), 0)
    FROM new_rows WHERE event_type = 'model_called'
   GROUP BY 1, 2 ORDER BY 1, 2
  ON CONFLICT (hour, task_type) DO UPDATE
     SET calls = s.calls + excluded.calls, tokens = s.tokens + excluded.tokens, cost_usd = s.cost_usd + excluded.cost_usd;
  RETURN NULL;
END;
$$;

CREATE TRIGGER logs_stats_cost_task_rollup
  AFTER INSERT ON logs
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION vigil_stats_cost_task_rollup();

-- Events stored before this migration (creating the trigger locked out writers until commit).
INSERT INTO stats_cost_task_hourly (hour, task_type, calls, tokens, cost_usd)
SELECT date_bin('1 hour', "timestamp", '2000-01-01 00:00:00+00'), coalesce(log_metadata ->> 'task_type', ''), count(*),
       coalesce(sum(vigil_stats_number(log_metadata -> 'tokens_used')), 0)::bigint,
       coalesce(sum((log_metadata ->> 'cost_usd')::numeric) FILTER (WHERE jsonb_typeof(log_metadata -> 'cost_usd') = 'number'), 0)
  FROM logs WHERE event_type = 'model_called'
 GROUP BY 1, 2;
