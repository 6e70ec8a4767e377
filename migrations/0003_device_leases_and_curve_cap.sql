-- Hardening at real scale (issue: real numbers and hostile input).
--
-- 1. A device holds at most one live lease. Live attempts that break this
--    (only possible before this migration) end as expired, newest kept, and
--    their runs are queued again like any expired lease.
WITH ranked AS (
  SELECT id, row_number() OVER (PARTITION BY worker_id, device_index ORDER BY id DESC) AS rn
  FROM attempts WHERE outcome IS NULL),
e AS (
  UPDATE attempts a SET outcome = 'expired', reason = 'duplicate_device_lease',
    message = 'another live lease on the same device was newer', finished_at = now()
  FROM ranked WHERE a.id = ranked.id AND ranked.rn > 1 RETURNING a.run_id)
UPDATE runs r SET failures = r.failures + 1,
  state = CASE WHEN r.failures + 1 >= r.max_attempts THEN 'failed' ELSE 'queued' END,
  finished_at = CASE WHEN r.failures + 1 >= r.max_attempts THEN now() END,
  last_error = 'duplicate_device_lease: another live lease on the same device was newer',
  not_before = now(), updated_at = now()
FROM e WHERE r.id = e.run_id AND r.state IN ('leased', 'running');

CREATE UNIQUE INDEX attempts_one_live_per_device ON attempts (worker_id, device_index)
  WHERE outcome IS NULL;

-- 2. A server-side cap on curve points per run needs the count at hand.
ALTER TABLE runs ADD COLUMN curve_points integer NOT NULL DEFAULT 0;
UPDATE runs r SET curve_points = c.n
FROM (SELECT run_id, count(*) AS n FROM curve_points GROUP BY run_id) c
WHERE r.id = c.run_id;
