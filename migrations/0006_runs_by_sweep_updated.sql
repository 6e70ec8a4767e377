-- Watchers (Sweeps.WatchSweep) poll each open sweep for the runs updated
-- since their last look, every half second, in (updated_at, id) order and
-- in batches. Without this index that read filtered every run of the sweep
-- (100,000 for the largest); with it, it reads only the recent changes.
CREATE INDEX runs_by_sweep_updated ON runs (sweep_id, updated_at, id);
