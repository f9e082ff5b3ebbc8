-- API keys' rate limits, shared by every server on one PostgreSQL (src/http/plugins/sharedRateCounts.ts):
-- requests per key and one-minute window (window_start: the window's number, ms since the epoch
-- divided by its length). Each server adds what it counted about once a second and reads the total.
-- Windows older than the previous one are deleted as servers go.
CREATE TABLE rate_limit_counts (
  key_id text NOT NULL,
  window_start bigint NOT NULL,
  count bigint NOT NULL,
  PRIMARY KEY (key_id, window_start)
);
