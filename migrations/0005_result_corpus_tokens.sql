-- The result's corpus_tokens (worker/TRAINER_PROTOCOL.md, `result`): the
-- training split's size in tokens as the trainer used it, after any
-- data.unique_tokens cap; predictions count their target's epochs on it.
-- NULL when the trainer did not say (older trainers, imported results).
ALTER TABLE runs ADD COLUMN corpus_tokens bigint;
