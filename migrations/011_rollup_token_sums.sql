-- Token sums in the cost rollups are numeric: an hour's bigint sum could overflow under a flood of
-- large counts, and then every later model_called event of that hour would be refused by the
-- rollup trigger. (Each event's count is at most 1e12, so a batch's sum still fits the bigint the
-- triggers compute before adding it here.)
ALTER TABLE stats_costs_hourly ALTER COLUMN tokens TYPE numeric;
ALTER TABLE stats_cost_task_hourly ALTER COLUMN tokens TYPE numeric;
