#include "server/store/sweep_store.h"

#include <absl/status/status.h>

#include <cmath>
#include <map>
#include <nlohmann/json.hpp>

#include "common/enums/proto_enums.h"
#include "common/logging.h"

namespace ladder::store {
namespace {
// Sweeps of at least this many runs refresh the runs table's statistics.
constexpr size_t kAnalyzeAfterRuns = 1000;

using nlohmann::json;

// runs.state / sweeps.state as stored -> the wire; UNSPECIFIED for a name
// not in the table (none: the CHECK constraints hold the same names).
v1::RunState RunStateFromName(const std::string& name) {
  auto s = enums::Parse<enums::RunState>(name);
  return s ? enums::ToProto(*s) : v1::RUN_STATE_UNSPECIFIED;
}

v1::SweepState SweepStateFromName(const std::string& name) {
  auto s = enums::Parse<enums::SweepState>(name);
  return s ? enums::ToProto(*s) : v1::SWEEP_STATE_UNSPECIFIED;
}

// Columns read for a run, in the order RunFromRow expects.
#define RUN_COLUMNS                                                                     \
  "r.id, r.sweep_id, r.ordinal, r.family, r.state, r.config::text, r.shape, "           \
  "r.planned_params, r.planned_non_embedding, r.planned_tokens, r.planned_flops, "      \
  "r.planned_flops_6nd, r.memory_bytes, r.attempts, r.max_attempts, r.tokens_done, "    \
  "COALESCE(r.last_train_loss, 'NaN'), COALESCE(r.tokens_per_second, 0), "              \
  "COALESCE(r.params, 0), COALESCE(r.non_embedding_params, 0), COALESCE(r.tokens, 0), " \
  "COALESCE(r.unique_tokens, 0), COALESCE(r.epochs, 0), COALESCE(r.flops, 0), "         \
  "COALESCE(r.flops_6nd, 0), COALESCE(r.final_eval_loss, 'NaN'), "                      \
  "COALESCE(r.wall_seconds, 0), COALESCE(r.device, ''), COALESCE(r.trainer, ''), "      \
  "COALESCE(r.simulated, false), "                                                      \
  "COALESCE((SELECT w.name FROM attempts a JOIN workers w ON w.id = a.worker_id "       \
  "          WHERE a.run_id = r.id ORDER BY a.number DESC LIMIT 1), ''), "              \
  "COALESCE(r.last_error, '') "

v1::Run RunFromRow(const pqxx::row& row) {
  v1::Run r;
  int i = 0;
  r.set_id(row[i++].as<int64_t>());
  r.set_sweep_id(row[i++].as<int64_t>());
  r.set_ordinal(row[i++].as<int>());
  r.set_family(row[i++].as<std::string>());
  r.set_state(RunStateFromName(row[i++].as<std::string>()));
  r.set_config_json(row[i++].as<std::string>());
  r.set_shape(row[i++].as<std::string>());
  r.set_planned_params(row[i++].as<int64_t>());
  r.set_planned_non_embedding_params(row[i++].as<int64_t>());
  r.set_planned_tokens(row[i++].as<int64_t>());
  r.set_planned_flops(row[i++].as<double>());
  r.set_planned_flops_6nd(row[i++].as<double>());
  r.set_memory_bytes(row[i++].as<int64_t>());
  r.set_attempts(row[i++].as<int>());
  r.set_max_attempts(row[i++].as<int>());
  r.set_tokens_done(row[i++].as<int64_t>());
  r.set_last_train_loss(row[i++].as<double>());
  r.set_tokens_per_second(row[i++].as<double>());
  r.set_params(row[i++].as<int64_t>());
  r.set_non_embedding_params(row[i++].as<int64_t>());
  r.set_tokens(row[i++].as<int64_t>());
  r.set_unique_tokens(row[i++].as<int64_t>());
  r.set_epochs(row[i++].as<double>());
  r.set_flops(row[i++].as<double>());
  r.set_flops_6nd(row[i++].as<double>());
  r.set_final_eval_loss(row[i++].as<double>());
  r.set_wall_seconds(row[i++].as<double>());
  r.set_device(row[i++].as<std::string>());
  r.set_trainer(row[i++].as<std::string>());
  r.set_simulated(row[i++].as<bool>());
  r.set_worker_name(row[i++].as<std::string>());
  r.set_last_error(row[i++].as<std::string>());
  return r;
}

const PgStatement kInsertSweep(
    "insert_sweep",
    "INSERT INTO sweeps (name, kind, families, spec_yaml, spec, priority, max_attempts) "
    "VALUES ($1, $2, $3::text[], $4, $5::jsonb, $6, $7) RETURNING id");

// Sweep columns plus run counts and FLOP progress, for one or many sweeps.
constexpr char kSweepSelect[] =
    "SELECT s.id, s.name, s.kind, array_to_string(s.families, ','), s.state, s.priority, "
    "  s.max_attempts, s.spec_yaml, s.spec::text, "
    "  (extract(epoch FROM s.created_at) * 1000)::bigint, "
    "  COALESCE((extract(epoch FROM s.finished_at) * 1000)::bigint, 0), "
    "  COALESCE(c.queued, 0), COALESCE(c.leased, 0), COALESCE(c.running, 0), "
    "  COALESCE(c.succeeded, 0), COALESCE(c.failed, 0), COALESCE(c.cancelled, 0), "
    "  COALESCE(c.total, 0), COALESCE(c.planned_flops, 0), COALESCE(c.done_flops, 0), "
    "  COALESCE(c.partial_flops, 0) "
    "FROM sweeps s LEFT JOIN LATERAL ("
    "  SELECT count(*) FILTER (WHERE state = 'queued') AS queued, "
    "         count(*) FILTER (WHERE state = 'leased') AS leased, "
    "         count(*) FILTER (WHERE state = 'running') AS running, "
    "         count(*) FILTER (WHERE state = 'succeeded') AS succeeded, "
    "         count(*) FILTER (WHERE state = 'failed') AS failed, "
    "         count(*) FILTER (WHERE state = 'cancelled') AS cancelled, "
    "         count(*) AS total, sum(planned_flops) AS planned_flops, "
    "         sum(COALESCE(NULLIF(flops, 0), planned_flops)) FILTER (WHERE state = 'succeeded') AS "
    "done_flops, "
    "         sum(CASE WHEN state IN ('leased', 'running') "
    "                  THEN planned_flops * LEAST(1.0, tokens_done::float8 / "
    "GREATEST(planned_tokens, 1)) "
    "                  WHEN state IN ('queued') THEN 0 ELSE planned_flops END) AS partial_flops "
    "  FROM runs WHERE sweep_id = s.id) c ON true ";

v1::Sweep SweepFromRow(const pqxx::row& row) {
  v1::Sweep s;
  int i = 0;
  s.set_id(row[i++].as<int64_t>());
  s.set_name(row[i++].as<std::string>());
  s.set_kind(row[i++].as<std::string>());
  const std::string fams = row[i++].as<std::string>();
  size_t start = 0;
  while (start <= fams.size() && !fams.empty()) {
    size_t comma = fams.find(',', start);
    s.add_families(
        fams.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  s.set_state(SweepStateFromName(row[i++].as<std::string>()));
  s.set_priority(row[i++].as<int>());
  s.set_max_attempts(row[i++].as<int>());
  s.set_spec_yaml(row[i++].as<std::string>());
  s.set_spec_json(row[i++].as<std::string>());
  s.set_created_unix_ms(row[i++].as<int64_t>());
  s.set_finished_unix_ms(row[i++].as<int64_t>());
  v1::RunCounts* c = s.mutable_counts();
  c->set_queued(row[i++].as<int64_t>());
  c->set_leased(row[i++].as<int64_t>());
  c->set_running(row[i++].as<int64_t>());
  c->set_succeeded(row[i++].as<int64_t>());
  c->set_failed(row[i++].as<int64_t>());
  c->set_cancelled(row[i++].as<int64_t>());
  c->set_total(row[i++].as<int64_t>());
  s.set_planned_flops(row[i++].as<double>());
  s.set_done_flops(row[i++].as<double>());
  // Progress by planned FLOPs: ended runs count whole, live runs by tokens done.
  const double progressed = row[i++].as<double>();
  s.set_progress(s.planned_flops() > 0
                     ? std::min(1.0, progressed / s.planned_flops())
                     : (c->total() > 0 && c->succeeded() == c->total() ? 1.0 : 0.0));
  return s;
}

absl::StatusOr<v1::Sweep> ReadSweep(pqxx::work& txn, int64_t id) {
  pqxx::result rows = txn.exec_params(std::string(kSweepSelect) + "WHERE s.id = $1", id);
  if (rows.empty()) return absl::NotFoundError("sweep " + std::to_string(id) + " does not exist");
  return SweepFromRow(rows[0]);
}

}  // namespace

absl::StatusOr<v1::Sweep> SweepStore::CreateSweep(const NewSweep& sweep,
                                                  const std::vector<NewRun>& runs) {
  v1::Sweep out;
  absl::Status st = pool_->Transact("create sweep", [&](pqxx::work& txn) -> absl::Status {
    const int64_t id =
        txn.exec_prepared1(kInsertSweep.name, sweep.name, std::string(enums::Name(sweep.kind)),
                           PgArrayLiteral(sweep.families), sweep.spec_yaml, sweep.spec_json,
                           sweep.priority, sweep.max_attempts)[0]
            .as<int64_t>();
    // COPY, row by row from the vector: no statement text or JSON document
    // holding every run (a 100,000-run sweep's was 70 MB, parsed again by
    // jsonb_to_recordset), and PostgreSQL's fastest way in.
    pqxx::stream_to copy(
        txn, "runs",
        std::vector<std::string>{"sweep_id", "ordinal", "family", "config", "shape",
                                 "planned_params", "planned_non_embedding", "planned_tokens",
                                 "planned_flops", "planned_flops_6nd", "memory_bytes",
                                 "device_kind", "priority", "max_attempts"});
    for (const NewRun& r : runs) {
      copy << std::make_tuple(id, r.ordinal, r.family, r.config_json, r.shape, r.planned_params,
                              r.planned_non_embedding, r.planned_tokens, r.planned_flops,
                              r.planned_flops_6nd, r.memory_bytes, sweep.device, sweep.priority,
                              sweep.max_attempts);
    }
    copy.complete();
    auto stored = ReadSweep(txn, id);
    if (!stored.ok()) return stored.status();
    out = *std::move(stored);
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  // A large sweep changes the queue's statistics at once; without fresh ones
  // the planner sorts every queued run for each lease (tens of ms apiece)
  // instead of walking the runs_queue index, until autovacuum gets to it.
  if (runs.size() >= kAnalyzeAfterRuns) {
    absl::Status analyzed = pool_->WithConnection("analyze runs", [](pqxx::connection& c) {
      pqxx::nontransaction txn(c);
      txn.exec0("ANALYZE runs");
      txn.commit();
      return absl::OkStatus();
    });
    if (!analyzed.ok()) LOG_WARN << "after creating sweep " << out.id() << ": " << analyzed;
  }
  return out;
}

absl::StatusOr<v1::Sweep> SweepStore::CreateImportedSweep(const v1::ImportResultsRequest& req) {
  std::vector<std::string> families;
  json rows = json::array();
  for (int i = 0; i < req.results_size(); ++i) {
    const auto& r = req.results(i);
    if (std::find(families.begin(), families.end(), r.family()) == families.end())
      families.push_back(r.family());
    const double six_nd = 6.0 * r.params() * r.tokens();
    const double flops = r.flops() > 0 ? r.flops() : six_nd;
    json result = {{"family", r.family()},         {"params", r.params()},
                   {"tokens", r.tokens()},         {"flops", flops},
                   {"final_loss", r.final_loss()}, {"unique_tokens", r.unique_tokens()}};
    json config = json::object();
    // The budget and seed go where planned runs keep theirs (plan.budget,
    // train.seed), so the fits (isoflop groups by plan.budget), plot and
    // export read imported runs like any other; 0 means not given.
    if (r.budget() > 0) {
      result["budget"] = r.budget();
      config["plan"] = {{"budget", r.budget()}};
    }
    if (r.seed() != 0) {
      result["seed"] = r.seed();
      config["train"] = {{"seed", r.seed()}};
    }
    config["imported"] = std::move(result);
    rows.push_back({{"ordinal", i},
                    {"family", r.family()},
                    {"config", std::move(config)},
                    {"shape", "imported"},
                    {"params", std::llround(r.params())},
                    {"tokens", std::llround(r.tokens())},
                    {"unique_tokens", std::llround(r.unique_tokens())},
                    {"epochs", r.unique_tokens() > 0 ? r.tokens() / r.unique_tokens() : 1.0},
                    {"flops", flops},
                    {"flops_6nd", six_nd},
                    {"loss", r.final_loss()}});
  }
  json spec = {{"name", req.name()},
               {"kind", enums::Name(enums::SweepKind::kImported)},
               {"families", families},
               {"results", req.results_size()}};
  v1::Sweep out;
  absl::Status st = pool_->Transact("import results", [&](pqxx::work& txn) -> absl::Status {
    const int64_t id =
        txn.exec_params1(
               "INSERT INTO sweeps (name, kind, families, spec_yaml, spec, state, finished_at) "
               "VALUES ($1, 'imported', $2::text[], $3, $4::jsonb, 'succeeded', now()) RETURNING "
               "id",
               req.name(), PgArrayLiteral(families),
               "# imported: " + std::to_string(req.results_size()) + " results trained elsewhere\n",
               spec.dump())[0]
            .as<int64_t>();
    txn.exec_params0(
        "INSERT INTO runs (sweep_id, ordinal, family, config, shape, planned_params, "
        "planned_non_embedding, "
        "  planned_tokens, planned_flops, planned_flops_6nd, memory_bytes, max_attempts, state, "
        "  params, non_embedding_params, tokens, unique_tokens, epochs, flops, flops_6nd, "
        "final_eval_loss, "
        "  trainer, simulated, tokens_done, finished_at) "
        "SELECT $1, x.ordinal, x.family, x.config, x.shape, x.params, x.params, x.tokens, x.flops, "
        "x.flops_6nd, "
        "  0, 1, 'succeeded', x.params, x.params, x.tokens, x.unique_tokens, x.epochs, x.flops, "
        "x.flops_6nd, "
        "  x.loss, 'imported', false, x.tokens, now() "
        "FROM jsonb_to_recordset($2::jsonb) AS x(ordinal integer, family text, config jsonb, shape "
        "text, "
        "  params bigint, tokens bigint, unique_tokens bigint, epochs float8, flops float8, "
        "flops_6nd float8, "
        "  loss float8)",
        id, rows.dump());
    auto sweep = ReadSweep(txn, id);
    if (!sweep.ok()) return sweep.status();
    out = *std::move(sweep);
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return out;
}

absl::StatusOr<v1::Sweep> SweepStore::GetSweep(int64_t sweep_id) {
  v1::Sweep out;
  absl::Status st = pool_->Transact("get sweep", [&](pqxx::work& txn) -> absl::Status {
    auto s = ReadSweep(txn, sweep_id);
    if (!s.ok()) return s.status();
    out = *std::move(s);
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return out;
}

absl::StatusOr<v1::SweepState> SweepStore::GetSweepState(int64_t sweep_id) {
  v1::SweepState out = v1::SWEEP_STATE_UNSPECIFIED;
  absl::Status st = pool_->Transact("get sweep state", [&](pqxx::work& txn) -> absl::Status {
    pqxx::result rows = txn.exec_params("SELECT state FROM sweeps WHERE id = $1", sweep_id);
    if (rows.empty())
      return absl::NotFoundError("sweep " + std::to_string(sweep_id) + " does not exist");
    out = SweepStateFromName(rows[0][0].as<std::string>());
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return out;
}

absl::StatusOr<std::vector<v1::Sweep>> SweepStore::ListSweeps(bool active_only, int limit) {
  std::vector<v1::Sweep> out;
  absl::Status st = pool_->Transact("list sweeps", [&](pqxx::work& txn) -> absl::Status {
    std::string sql = kSweepSelect;
    if (active_only) sql += "WHERE s.state = 'active' ";
    sql += "ORDER BY s.id DESC LIMIT $1";
    for (const auto& row : txn.exec_params(sql, limit > 0 ? limit : 100))
      out.push_back(SweepFromRow(row));
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return out;
}

absl::StatusOr<v1::Sweep> SweepStore::CancelSweep(int64_t sweep_id) {
  v1::Sweep out;
  absl::Status st = pool_->Transact("cancel sweep", [&](pqxx::work& txn) -> absl::Status {
    pqxx::result s = txn.exec_params("SELECT state FROM sweeps WHERE id = $1 FOR UPDATE", sweep_id);
    if (s.empty())
      return absl::NotFoundError("sweep " + std::to_string(sweep_id) + " does not exist");
    const std::string state = s[0][0].as<std::string>();
    if (enums::Parse<enums::SweepState>(state) != enums::SweepState::kActive) {
      return absl::FailedPreconditionError("sweep " + std::to_string(sweep_id) +
                                           " already ended (" + state + ")");
    }
    // Runs first: locking them waits for a lease being granted right now
    // (and later leases skip them), so the attempts statement, which reads
    // a fresh snapshot, sees every attempt such a lease created.
    txn.exec_params0(
        "UPDATE runs SET state = 'cancelled', finished_at = now(), updated_at = now() "
        "WHERE sweep_id = $1 AND state IN ('queued', 'leased', 'running')",
        sweep_id);
    txn.exec_params0(
        "UPDATE attempts a SET outcome = 'cancelled', reason = 'cancelled', "
        "  message = 'sweep cancelled', finished_at = now() "
        "FROM runs r WHERE r.id = a.run_id AND r.sweep_id = $1 AND a.outcome IS NULL",
        sweep_id);
    txn.exec_params0("UPDATE sweeps SET state = 'cancelled', finished_at = now() WHERE id = $1",
                     sweep_id);
    auto sweep = ReadSweep(txn, sweep_id);
    if (!sweep.ok()) return sweep.status();
    out = *std::move(sweep);
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return out;
}

namespace {
constexpr char kFinishSweepSql[] =
    "UPDATE sweeps s SET finished_at = now(), state = CASE WHEN EXISTS "
    "  (SELECT 1 FROM runs WHERE sweep_id = s.id AND state = 'failed') THEN 'failed' ELSE "
    "'succeeded' END "
    "WHERE s.state = 'active' AND NOT EXISTS "
    "  (SELECT 1 FROM runs WHERE sweep_id = s.id AND state IN ('queued', 'leased', 'running')) ";
}  // namespace

absl::Status SweepStore::FinishSweepIfDone(int64_t sweep_id) {
  return pool_->Transact("finish sweep", [&](pqxx::work& txn) -> absl::Status {
    txn.exec_params0(std::string(kFinishSweepSql) + "AND s.id = $1", sweep_id);
    return absl::OkStatus();
  });
}

absl::Status SweepStore::FinishDoneSweeps() {
  return pool_->Transact("finish sweeps", [&](pqxx::work& txn) -> absl::Status {
    txn.exec0(kFinishSweepSql);
    return absl::OkStatus();
  });
}

absl::StatusOr<std::vector<v1::Run>> SweepStore::ListRuns(int64_t sweep_id,
                                                          std::optional<enums::RunState> state) {
  const std::string state_name = state ? std::string(enums::Name(*state)) : std::string();
  std::vector<v1::Run> out;
  absl::Status st = pool_->Transact("list runs", [&](pqxx::work& txn) -> absl::Status {
    if (txn.exec_params("SELECT 1 FROM sweeps WHERE id = $1", sweep_id).empty()) {
      return absl::NotFoundError("sweep " + std::to_string(sweep_id) + " does not exist");
    }
    pqxx::result rows =
        txn.exec_params("SELECT " RUN_COLUMNS
                        "FROM runs r WHERE r.sweep_id = $1 AND ($2 = '' OR r.state = $2) "
                        "ORDER BY r.ordinal",
                        sweep_id, state_name);
    out.reserve(rows.size());
    for (const auto& row : rows) out.push_back(RunFromRow(row));
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return out;
}

absl::StatusOr<SweepStore::RunPage> SweepStore::ListRunsPage(int64_t sweep_id,
                                                             std::optional<enums::RunState> state,
                                                             int64_t after_ordinal, int limit) {
  const std::string state_name = state ? std::string(enums::Name(*state)) : std::string();
  RunPage out;
  absl::Status st = pool_->Transact("list runs", [&](pqxx::work& txn) -> absl::Status {
    if (txn.exec_params("SELECT 1 FROM sweeps WHERE id = $1", sweep_id).empty()) {
      return absl::NotFoundError("sweep " + std::to_string(sweep_id) + " does not exist");
    }
    // Ordinals are unique within a sweep, so the ordinal alone is the key.
    // One more row than asked tells whether another page follows.
    pqxx::result rows = txn.exec_params(
        "SELECT " RUN_COLUMNS
        "FROM runs r WHERE r.sweep_id = $1 AND ($2 = '' OR r.state = $2) AND r.ordinal > $3 "
        "ORDER BY r.ordinal LIMIT $4",
        sweep_id, state_name, after_ordinal, limit + 1);
    out.more = static_cast<int>(rows.size()) > limit;
    out.runs.reserve(std::min<size_t>(rows.size(), limit));
    for (const auto& row : rows) {
      if (static_cast<int>(out.runs.size()) == limit) break;
      out.runs.push_back(RunFromRow(row));
    }
    out.total = txn.exec_params1(
                       "SELECT count(*) FROM runs WHERE sweep_id = $1 AND ($2 = '' OR state = $2)",
                       sweep_id, state_name)[0]
                    .as<int64_t>();
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return out;
}

absl::StatusOr<std::vector<v1::Run>> SweepStore::ListRunsForWatch(int64_t sweep_id, int limit,
                                                                  int64_t* now_ms) {
  std::vector<v1::Run> out;
  absl::Status st = pool_->Transact("list runs for watch", [&](pqxx::work& txn) -> absl::Status {
    *now_ms = txn.exec("SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint")[0][0]
                  .as<int64_t>();
    // The live runs (few: one per device) through runs_by_sweep, then the
    // first by ordinal through the (sweep_id, ordinal) index; each part is
    // bounded, never a sort of the whole sweep.
    pqxx::result rows = txn.exec_params(
        "(SELECT " RUN_COLUMNS
        " FROM runs r WHERE r.sweep_id = $1 AND r.state IN ('leased', 'running') "
        " ORDER BY r.ordinal LIMIT $2) "
        "UNION ALL "
        "(SELECT " RUN_COLUMNS
        " FROM runs r WHERE r.sweep_id = $1 AND r.state NOT IN ('leased', 'running') "
        " ORDER BY r.ordinal LIMIT $2)",
        sweep_id, limit);
    for (const auto& row : rows) {
      if (static_cast<int>(out.size()) == limit) break;
      out.push_back(RunFromRow(row));
    }
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return out;
}

absl::StatusOr<std::vector<SweepStore::RunChange>> SweepStore::ListRunChangesSince(
    int64_t sweep_id, int64_t since_ms, const RunChange* after, int limit, int64_t* now_ms) {
  std::vector<RunChange> out;
  absl::Status st = pool_->Transact("list run changes", [&](pqxx::work& txn) -> absl::Status {
    *now_ms = txn.exec("SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint")[0][0]
                  .as<int64_t>();
    // Keyset on (updated_at, id), the runs_by_sweep_updated index's order:
    // a run changed by the thousands in one transaction (a cancel) all
    // share one updated_at, so the id keeps each batch's start exact.
    constexpr char kColumns[] =
        "SELECT r.id, r.state, r.tokens_done, r.attempts, "
        "  (extract(epoch FROM r.updated_at) * 1000)::bigint, "
        "  (extract(epoch FROM r.updated_at) * 1000000)::bigint "
        "FROM runs r WHERE r.sweep_id = $1 AND r.updated_at >= to_timestamp($2::float8 / 1000) ";
    pqxx::result rows =
        after == nullptr
            ? txn.exec_params(std::string(kColumns) + "ORDER BY r.updated_at, r.id LIMIT $3",
                              sweep_id, since_ms, limit)
            : txn.exec_params(std::string(kColumns) +
                                  "AND (r.updated_at, r.id) > (timestamptz 'epoch' + $4::bigint * "
                                  "interval '1 microsecond', $5::bigint) "
                                  "ORDER BY r.updated_at, r.id LIMIT $3",
                              sweep_id, since_ms, limit, after->updated_unix_us, after->id);
    out.reserve(rows.size());
    for (const auto& row : rows) {
      RunChange c;
      c.id = row[0].as<int64_t>();
      c.state = RunStateFromName(row[1].as<std::string>());
      c.tokens_done = row[2].as<int64_t>();
      c.attempts = row[3].as<int>();
      c.updated_unix_ms = row[4].as<int64_t>();
      c.updated_unix_us = row[5].as<int64_t>();
      out.push_back(c);
    }
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return out;
}

absl::StatusOr<std::vector<v1::Run>> SweepStore::ListRunsById(const std::vector<int64_t>& ids) {
  std::vector<v1::Run> out;
  if (ids.empty()) return out;
  absl::Status st = pool_->Transact("list runs by id", [&](pqxx::work& txn) -> absl::Status {
    pqxx::result rows = txn.exec_params(
        "SELECT " RUN_COLUMNS "FROM runs r WHERE r.id = ANY($1::bigint[]) ORDER BY r.ordinal",
        PgArrayLiteral(ids));
    out.reserve(rows.size());
    for (const auto& row : rows) out.push_back(RunFromRow(row));
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return out;
}

absl::StatusOr<v1::Run> SweepStore::GetRun(int64_t run_id, bool include_curve) {
  v1::Run out;
  absl::Status st = pool_->Transact("get run", [&](pqxx::work& txn) -> absl::Status {
    pqxx::result rows =
        txn.exec_params("SELECT " RUN_COLUMNS "FROM runs r WHERE r.id = $1", run_id);
    if (rows.empty())
      return absl::NotFoundError("run " + std::to_string(run_id) + " does not exist");
    out = RunFromRow(rows[0]);
    for (const auto& row : txn.exec_params(
             "SELECT a.id, a.number, a.worker_id, w.name, a.device_index, "
             "  (extract(epoch FROM a.leased_at) * 1000)::bigint, "
             "  COALESCE((extract(epoch FROM a.finished_at) * 1000)::bigint, 0), "
             "  COALESCE(a.outcome, ''), COALESCE(a.reason, ''), COALESCE(a.message, '') "
             "FROM attempts a JOIN workers w ON w.id = a.worker_id WHERE a.run_id = $1 ORDER BY "
             "a.number",
             run_id)) {
      v1::Attempt* a = out.add_attempt_history();
      a->set_id(row[0].as<int64_t>());
      a->set_number(row[1].as<int>());
      a->set_worker_id(row[2].as<int64_t>());
      a->set_worker_name(row[3].as<std::string>());
      a->set_device_index(row[4].as<int>());
      a->set_leased_unix_ms(row[5].as<int64_t>());
      a->set_finished_unix_ms(row[6].as<int64_t>());
      a->set_outcome(row[7].as<std::string>());
      a->set_reason(row[8].as<std::string>());
      a->set_message(row[9].as<std::string>());
    }
    if (include_curve) {
      for (const auto& row : txn.exec_params(
               "SELECT step, tokens, flops, COALESCE(train_loss, 'NaN'), eval_loss IS NOT NULL, "
               "  COALESCE(eval_loss, 0), COALESCE(lr, 0), COALESCE(tokens_per_second, 0) "
               "FROM curve_points WHERE run_id = $1 ORDER BY step",
               run_id)) {
        v1::CurvePoint* p = out.add_curve();
        p->set_step(row[0].as<int64_t>());
        p->set_tokens(row[1].as<int64_t>());
        p->set_flops(row[2].as<double>());
        p->set_train_loss(row[3].as<double>());
        p->set_has_eval_loss(row[4].as<bool>());
        p->set_eval_loss(row[5].as<double>());
        p->set_lr(row[6].as<double>());
        p->set_tokens_per_second(row[7].as<double>());
      }
    }
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return out;
}

}  // namespace ladder::store
