-- Ladder schema, version 1. Migrations are numbered and forward-only; the
-- coordinator applies the missing ones at start under an advisory lock and
-- records each in schema_migrations. Text values of state/outcome/kind
-- columns are part of the stored format: do not rename them.

CREATE TABLE sweeps (
  id            bigserial PRIMARY KEY,
  name          text NOT NULL,
  kind          text NOT NULL CHECK (kind IN ('ladder','isoflop','grid','data_constrained','imported')),
  families      text[] NOT NULL,
  spec_yaml     text NOT NULL,            -- verbatim, as submitted
  spec          jsonb NOT NULL,           -- parsed and normalised
  priority      integer NOT NULL DEFAULT 0,
  max_attempts  integer NOT NULL DEFAULT 3 CHECK (max_attempts >= 1),
  state         text NOT NULL DEFAULT 'active'
                CHECK (state IN ('active','succeeded','failed','cancelled')),
  created_at    timestamptz NOT NULL DEFAULT now(),
  finished_at   timestamptz
);
CREATE INDEX sweeps_active ON sweeps (id) WHERE state = 'active';

CREATE TABLE workers (
  id                 bigserial PRIMARY KEY,
  name               text NOT NULL UNIQUE,
  hostname           text NOT NULL,
  devices            jsonb NOT NULL,      -- [{index, kind, model, memory_bytes, threads}]
  max_memory_bytes   bigint NOT NULL DEFAULT 0,
  trainer            text NOT NULL,
  state              text NOT NULL DEFAULT 'active' CHECK (state IN ('active','draining','gone')),
  registered_at      timestamptz NOT NULL DEFAULT now(),
  last_heartbeat_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE runs (
  id                      bigserial PRIMARY KEY,
  sweep_id                bigint NOT NULL REFERENCES sweeps(id),
  ordinal                 integer NOT NULL,   -- position in the deterministic expansion
  family                  text NOT NULL,
  config                  jsonb NOT NULL,     -- the full run configuration
  shape                   text NOT NULL,
  -- planned
  planned_params          bigint NOT NULL,
  planned_non_embedding   bigint NOT NULL,
  planned_tokens          bigint NOT NULL,
  planned_flops           double precision NOT NULL,   -- exact count
  planned_flops_6nd       double precision NOT NULL,
  memory_bytes            bigint NOT NULL,
  device_kind             text NOT NULL DEFAULT 'any' CHECK (device_kind IN ('any','cpu','cuda')),
  priority                integer NOT NULL DEFAULT 0,  -- copied from the sweep
  -- scheduling
  state                   text NOT NULL DEFAULT 'queued'
                          CHECK (state IN ('queued','leased','running','succeeded','failed','cancelled')),
  attempts                integer NOT NULL DEFAULT 0,  -- leased so far
  failures                integer NOT NULL DEFAULT 0,  -- attempts that failed or expired
  max_attempts            integer NOT NULL,            -- failures allowed before the run fails
  not_before              timestamptz NOT NULL DEFAULT now(),  -- retry back-off
  -- live
  tokens_done             bigint NOT NULL DEFAULT 0,
  last_train_loss         double precision,
  tokens_per_second       double precision,
  -- results, written once by the succeeding attempt
  succeeded_attempt_id    bigint,
  params                  bigint,
  non_embedding_params    bigint,
  tokens                  bigint,
  unique_tokens           bigint,
  epochs                  double precision,
  flops                   double precision,
  flops_6nd               double precision,
  final_eval_loss         double precision,
  wall_seconds            double precision,
  device                  text,
  trainer                 text,
  simulated               boolean,
  result                  jsonb,
  last_error              text,
  created_at              timestamptz NOT NULL DEFAULT now(),
  updated_at              timestamptz NOT NULL DEFAULT now(),
  finished_at             timestamptz,
  UNIQUE (sweep_id, ordinal)
);
-- Lease claiming: the best queued run, by priority then age.
CREATE INDEX runs_queue ON runs (priority DESC, id) WHERE state = 'queued';
CREATE INDEX runs_by_sweep ON runs (sweep_id, state);

CREATE TABLE attempts (
  id                bigserial PRIMARY KEY,
  run_id            bigint NOT NULL REFERENCES runs(id),
  number            integer NOT NULL,
  worker_id         bigint NOT NULL REFERENCES workers(id),
  device_index      integer NOT NULL,
  lease_token       text NOT NULL,
  leased_at         timestamptz NOT NULL DEFAULT now(),
  lease_expires_at  timestamptz NOT NULL,
  started_at        timestamptz,
  started           jsonb,              -- the trainer's `started` event
  finished_at       timestamptz,
  outcome           text CHECK (outcome IN ('succeeded','failed','expired','cancelled','released')),
  reason            text,
  message           text,
  UNIQUE (run_id, number)
);
-- Lease expiry scans only live attempts.
CREATE INDEX attempts_live ON attempts (lease_expires_at) WHERE outcome IS NULL;
CREATE INDEX attempts_by_worker ON attempts (worker_id) WHERE outcome IS NULL;

-- The loss curve of each run. A resumed attempt continues the same curve:
-- a step reported again replaces the earlier point.
CREATE TABLE curve_points (
  run_id             bigint NOT NULL REFERENCES runs(id),
  step               bigint NOT NULL,
  attempt_id         bigint NOT NULL REFERENCES attempts(id),
  tokens             bigint NOT NULL,
  flops              double precision NOT NULL,
  train_loss         double precision,
  eval_loss          double precision,
  lr                 double precision,
  tokens_per_second  double precision,
  PRIMARY KEY (run_id, step)
);

-- Fits are versioned: every refit is a new row.
CREATE TABLE fits (
  id                      bigserial PRIMARY KEY,
  sweep_id                bigint NOT NULL REFERENCES sweeps(id),
  family                  text NOT NULL,
  form                    text NOT NULL,
  version                 integer NOT NULL,
  status                  text NOT NULL CHECK (status IN ('ok','insufficient_data','failed')),
  reason                  text,
  parameters              jsonb NOT NULL,   -- {name: {estimate, lower, upper}}
  details                 jsonb NOT NULL DEFAULT '{}'::jsonb,
  runs_used               integer NOT NULL,
  rmse_log_loss           double precision,
  holdout_relative_error  double precision,
  bootstrap_resamples     integer NOT NULL DEFAULT 0,
  fit_seconds             double precision NOT NULL,
  flops_count             text NOT NULL DEFAULT 'exact',
  max_trained_flops       double precision,
  created_at              timestamptz NOT NULL DEFAULT now(),
  UNIQUE (sweep_id, family, form, version)
);

-- Bearer tokens for clients; only a salted hash of the secret is stored.
CREATE TABLE api_tokens (
  id          bigserial PRIMARY KEY,
  name        text NOT NULL,
  scopes      text[] NOT NULL,
  salt        bytea NOT NULL,
  hash        bytea NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  revoked_at  timestamptz
);
