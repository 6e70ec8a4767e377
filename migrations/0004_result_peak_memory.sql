-- The result's peak_memory_bytes (worker/TRAINER_PROTOCOL.md, `result`):
-- the succeeding attempt's peak memory; NULL when its trainer did not say.
ALTER TABLE runs ADD COLUMN peak_memory_bytes bigint;
