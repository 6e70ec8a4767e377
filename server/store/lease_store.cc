#include "server/store/lease_store.h"

#include <absl/status/status.h>
#include <openssl/rand.h>

#include <cmath>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>

#include "common/enums/enums.h"
#include "common/logging.h"
#include "common/protocol/bounded_json.h"
#include "common/protocol/run_config.h"
#include "common/protocol/trainer_events.h"
#include "server/store/lease_sql.h"
#include "server/store/result_check.h"

namespace ladder::store {
namespace {

using nlohmann::json;

const PgStatement kRegisterWorker(
    "register_worker",
    "INSERT INTO workers (name, hostname, devices, max_memory_bytes, trainer, state, "
    "last_heartbeat_at) "
    "VALUES ($1, $2, $3::jsonb, $4, $5, 'active', " LADDER_NOW("$6") ") "
    "ON CONFLICT (name) DO UPDATE SET hostname = excluded.hostname, devices = excluded.devices, "
    "  max_memory_bytes = excluded.max_memory_bytes, trainer = excluded.trainer, state = 'active', "
    "  registered_at = now(), last_heartbeat_at = " LADDER_NOW("$6") " "
    "RETURNING id");

// Ends the live attempts of a (re-)registering worker and requeues their runs.
const PgStatement kOrphanAttempts(
    "orphan_attempts",
    "WITH e AS ("
    "  UPDATE attempts SET outcome = 'expired', reason = 'worker_restarted', "
    "    message = 'the worker registered again while this attempt was live', finished_at = now() "
    "  WHERE worker_id = $1 AND outcome IS NULL RETURNING run_id) "
    "UPDATE runs r SET failures = r.failures + 1, "
    "  state = CASE WHEN r.failures + 1 >= r.max_attempts THEN 'failed' ELSE 'queued' END, "
    "  finished_at = CASE WHEN r.failures + 1 >= r.max_attempts THEN now() END, "
    "  last_error = 'worker_restarted: the worker registered again while this run was live', "
    "  not_before = " LADDER_NOW("$2") ", updated_at = now() "
    "FROM e WHERE r.id = e.run_id AND r.state IN ('leased', 'running') RETURNING r.sweep_id");

// One statement: pick the best queued run that fits the device, mark it
// leased and create its attempt.
const PgStatement kLeaseRun(
    "lease_run",
    "WITH dev AS ("
    "  SELECT (d->>'memory_bytes')::bigint AS mem, d->>'kind' AS kind "
    "  FROM workers w, jsonb_array_elements(w.devices) d "
    "  WHERE w.id = $1 AND w.state = 'active' AND (d->>'index')::int = $2), "
    // The device's limits as scalars, so the plan walks runs_queue in order
    // and stops at the first run that fits (no join, no sort).
    "c AS ("
    "  SELECT r.id FROM runs r "
    "  WHERE r.state = 'queued' AND r.not_before <= " LADDER_NOW("$5") " "
    "    AND r.memory_bytes <= (SELECT mem FROM "
    "dev) "
    "    AND (r.device_kind = 'any' OR r.device_kind = (SELECT kind FROM dev)) "
    // One live lease per device (also a unique index, for racing calls).
    "    AND NOT EXISTS (SELECT 1 FROM attempts l WHERE l.worker_id = $1 AND l.device_index = $2 "
    "                    AND l.outcome IS NULL) "
    "  ORDER BY r.priority DESC, r.id LIMIT 1 FOR UPDATE OF r SKIP LOCKED), "
    "u AS ("
    "  UPDATE runs SET state = 'leased', attempts = runs.attempts + 1, updated_at = now() "
    "  FROM c WHERE runs.id = c.id RETURNING runs.id, runs.sweep_id, runs.attempts, runs.config), "
    "ins AS ("
    "  INSERT INTO attempts (run_id, number, worker_id, device_index, lease_token, "
    "lease_expires_at) "
    "  SELECT u.id, u.attempts, $1, $2, $3, " LADDER_NOW("$5") " + $4 * interval '1 millisecond' "
    "  FROM u "
    "  RETURNING id, run_id, number, lease_expires_at) "
    "SELECT ins.id, ins.run_id, ins.number, (extract(epoch FROM ins.lease_expires_at) * "
    "1000)::bigint, "
    "  u.config::text, u.sweep_id "
    "FROM ins JOIN u ON u.id = ins.run_id");

// A lease batch's slots, in order: the worker's state (NULL: unknown), the
// device's memory and kind (NULL: no such device), its live attempt and
// whether that attempt's trainer never reported (its lease never reached
// the worker).
const PgStatement kLeaseSlots(
    "lease_slots",
    "SELECT t.ord, w.state, (dev.d->>'memory_bytes')::bigint, dev.d->>'kind', live.id, "
    "  live.unseen "
    "FROM unnest($1::bigint[], $2::int[]) WITH ORDINALITY AS t(wid, di, ord) "
    "LEFT JOIN workers w ON w.id = t.wid "
    "LEFT JOIN LATERAL (SELECT d FROM jsonb_array_elements(w.devices) d "
    "                   WHERE (d->>'index')::int = t.di LIMIT 1) dev ON true "
    "LEFT JOIN LATERAL (SELECT a.id, a.started_at IS NULL AS unseen FROM attempts a "
    "                   WHERE a.worker_id = t.wid AND a.device_index = t.di "
    "                   AND a.outcome IS NULL ORDER BY a.id LIMIT 1) live ON true "
    "ORDER BY t.ord");

// The live leases $1 given again (a lost answer): their ttl renewed, rows as
// kLeaseClaim's plus the token.
const PgStatement kRedeliverLeases(
    "redeliver_leases",
    "UPDATE attempts a SET lease_expires_at = GREATEST(a.lease_expires_at, " LADDER_NOW("$3") " + "
    "  $2 * interval '1 millisecond') "
    "FROM runs r WHERE a.id = ANY($1::bigint[]) AND a.outcome IS NULL AND a.started_at IS NULL "
    "  AND r.id = a.run_id "
    "RETURNING a.id, a.run_id, a.number, (extract(epoch FROM a.lease_expires_at) * 1000)::bigint, "
    "  r.config::text, r.sweep_id, a.lease_token");

// The best queued runs ready now, up to $1, locked for this batch (runs_queue
// order; other batches skip them).
const PgStatement kLeaseCandidates(
    "lease_candidates",
    "SELECT id, memory_bytes, device_kind FROM runs "
    "WHERE state = 'queued' AND not_before <= " LADDER_NOW("$2") " "
    "ORDER BY priority DESC, id LIMIT $1 FOR UPDATE SKIP LOCKED");

// Leases the matched runs ($1) to their devices ($2 workers, $3 device
// indexes, $4 tokens): one statement for the batch, rows as kLeaseRun's.
const PgStatement kLeaseClaim(
    "lease_claim",
    "WITH t AS (SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::int[], $4::text[]) "
    "           AS t(run_id, worker_id, device_index, token)), "
    "u AS ("
    "  UPDATE runs SET state = 'leased', attempts = runs.attempts + 1, updated_at = now() "
    "  FROM t WHERE runs.id = t.run_id RETURNING runs.id, runs.sweep_id, runs.attempts, "
    "runs.config), "
    "ins AS ("
    "  INSERT INTO attempts (run_id, number, worker_id, device_index, lease_token, "
    "lease_expires_at) "
    "  SELECT u.id, u.attempts, t.worker_id, t.device_index, t.token, "
    "    " LADDER_NOW("$6") " + $5 * interval '1 millisecond' "
    "  FROM u JOIN t ON t.run_id = u.id "
    "  RETURNING id, run_id, number, lease_expires_at) "
    "SELECT ins.id, ins.run_id, ins.number, (extract(epoch FROM ins.lease_expires_at) * "
    "1000)::bigint, u.config::text, u.sweep_id "
    "FROM ins JOIN u ON u.id = ins.run_id");

// Locks the attempt, then its run (the same order as lease expiry).
const PgStatement kLockAttempt("lock_attempt",
                               "SELECT run_id, COALESCE(outcome, ''), lease_token = $2 FROM "
                               "attempts WHERE id = $1 FOR UPDATE");
// The last column says whether another run of the sweep is still queued:
// then the sweep cannot end with this attempt (that run's own end will check).
#define LADDER_LOCKED_RUN_COLUMNS                                         \
  "sweep_id, state, failures, max_attempts, family, "                     \
  "  planned_tokens, planned_flops, "                                     \
  "  CASE WHEN jsonb_typeof(config->'train'->'batch_tokens') = 'number' " \
  "       THEN (config->'train'->>'batch_tokens')::float8 ELSE 0 END "
const PgStatement kLockRun("lock_run", "SELECT " LADDER_LOCKED_RUN_COLUMNS
                                       "FROM runs WHERE id = $1 FOR UPDATE");

// A completion batch's locks: its attempts, then their runs, each in id order
// (the order of lease expiry), so batches on several coordinators cannot
// deadlock each other.
const PgStatement kLockAttempts(
    "lock_attempts",
    "SELECT t.ord, a.run_id, COALESCE(a.outcome, ''), a.lease_token = t.token "
    "FROM unnest($1::bigint[], $2::text[]) WITH ORDINALITY AS t(id, token, ord) "
    "JOIN attempts a ON a.id = t.id ORDER BY a.id FOR UPDATE OF a");
const PgStatement kLockRuns("lock_runs", "SELECT id, " LADDER_LOCKED_RUN_COLUMNS
                                         "FROM runs WHERE id = ANY($1::bigint[]) "
                                         "ORDER BY id FOR UPDATE");

// Of the sweeps $1, those with a queued run other than the runs $2: they
// cannot end with these runs (that run's own end will check). Once per
// sweep, not per run: a check per run reads the sweep's index again and
// again, and near a big sweep's end it dominated a batch.
const PgStatement kSweepsStillQueued(
    "sweeps_still_queued",
    "SELECT s.id FROM unnest($1::bigint[]) AS s(id) "
    "WHERE EXISTS (SELECT 1 FROM runs q WHERE q.sweep_id = s.id AND q.state = 'queued' "
    "              AND q.id <> ALL($2::bigint[]))");

const PgStatement kSucceedAttempts(
    "succeed_attempts",
    "UPDATE attempts SET outcome = 'succeeded', finished_at = now() WHERE id = ANY($1::bigint[])");

std::string ColumnText(int64_t v) { return std::to_string(v); }
std::string ColumnText(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}
std::string ColumnText(const std::string& v) { return v; }
std::string ColumnText(bool v) { return v ? "true" : "false"; }
std::string ColumnText(const json& v) { return StorableDump(v); }

std::string SqlType(protocol::FieldType type) {
  switch (type) {
    case protocol::FieldType::kInteger:
      return "bigint";
    case protocol::FieldType::kNumber:
      return "double precision";
    case protocol::FieldType::kString:
      return "text";
    case protocol::FieldType::kBool:
      return "boolean";
    case protocol::FieldType::kObject:
      return "jsonb";
  }
  return "text";
}

// Stores a batch of results, one row per run: $1 run ids, $2 attempt ids,
// $3 results (JSON text), $4 tokens, then one text array per typed column.
// The typed columns come from the protocol's field table (common/protocol/
// trainer_events.h), in table order: a new result field needs its row there
// and a migration adding its column, nothing here.
std::string StoreResultsSql() {
  std::string arrays = "$1::bigint[], $2::bigint[], $3::text[], $4::bigint[]";
  std::string names = "run_id, attempt_id, result, tokens";
  std::string sets =
      "UPDATE runs r SET state = 'succeeded', succeeded_attempt_id = x.attempt_id, "
      "  finished_at = now(), updated_at = now(), result = x.result::jsonb, "
      "  tokens_done = x.tokens, last_error = NULL, "
      "  trainer = COALESCE(a.started->>'trainer', w.trainer)";
  int parameter = 5;
  for (const auto& field : protocol::EventSchema<protocol::ResultEvent>::Fields()) {
    if (field.column_name().empty()) continue;
    const std::string c = "c" + std::to_string(parameter);
    arrays += ", $" + std::to_string(parameter++) + "::text[]";
    names += ", " + c;
    sets += ", " + std::string(field.column_name()) + " = x." + c + "::" + SqlType(field.type());
  }
  return sets + " FROM unnest(" + arrays + ") AS x(" + names +
         ") JOIN attempts a ON a.id = x.attempt_id LEFT JOIN workers w ON w.id = a.worker_id "
         "WHERE r.id = x.run_id";
}

const std::string& StoreResultsSqlText() {
  static const std::string sql = StoreResultsSql();
  return sql;
}

const PgStatement kStoreResults("store_results", StoreResultsSqlText().c_str());

// The values of the result's typed columns, in StoreResultsSql's order, as text
// (nullopt: NULL).
std::vector<std::optional<std::string>> ResultColumnValues(const protocol::ResultEvent& r) {
  std::vector<std::optional<std::string>> values;
  for (const auto& field : protocol::EventSchema<protocol::ResultEvent>::Fields()) {
    if (field.column_name().empty()) continue;
    values.push_back(std::visit(
        [&](auto member) -> std::optional<std::string> {
          const auto& v = r.*member;
          using T = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<T, std::optional<int64_t>> ||
                        std::is_same_v<T, std::optional<double>>) {
            if (!v) return std::nullopt;
            return ColumnText(*v);
          } else {
            return ColumnText(v);
          }
        },
        field.member));
  }
  return values;
}

const PgStatement kEndAttempt(
    "end_attempt",
    "UPDATE attempts SET outcome = $2, reason = $3, message = $4, finished_at = now() "
    "WHERE id = $1");

const PgStatement kRequeueRun(
    "requeue_run",
    "UPDATE runs SET state = 'queued', failures = failures + $2, "
    "  not_before = " LADDER_NOW("$5") " + $3 * interval '1 millisecond', last_error = $4, "
    "  updated_at = now() "
    "WHERE id = $1");

const PgStatement kFailRun(
    "fail_run",
    "UPDATE runs SET state = 'failed', failures = failures + 1, last_error = $2, "
    "  finished_at = now(), updated_at = now() WHERE id = $1");

const PgStatement kExpireLeases(
    "expire_leases",
    "WITH e AS ("
    "  UPDATE attempts SET outcome = 'expired', reason = 'lease_expired', "
    "    message = 'no heartbeat or report before the lease expired', finished_at = now() "
    "  WHERE id IN (SELECT id FROM attempts WHERE outcome IS NULL "
    "               AND lease_expires_at <= " LADDER_NOW("$2") " "
    "               ORDER BY lease_expires_at LIMIT $1 FOR UPDATE SKIP LOCKED) "
    "  RETURNING run_id) "
    "UPDATE runs r SET failures = r.failures + 1, "
    "  state = CASE WHEN r.failures + 1 >= r.max_attempts THEN 'failed' ELSE 'queued' END, "
    "  finished_at = CASE WHEN r.failures + 1 >= r.max_attempts THEN now() END, "
    "  last_error = 'lease_expired: no heartbeat or report before the lease expired', "
    "  not_before = " LADDER_NOW("$2") ", updated_at = now() "
    "FROM e WHERE r.id = e.run_id AND r.state IN ('leased', 'running') RETURNING r.sweep_id");

// Gives every live lease at least one more ttl ($1 ms) from now.
const PgStatement kExtendLiveLeases(
    "extend_live_leases",
    "UPDATE attempts SET lease_expires_at = "
    "  GREATEST(lease_expires_at, " LADDER_NOW("$2") " + $1 * interval '1 millisecond') "
    "WHERE outcome IS NULL");

const PgStatement kMarkGone(
    "mark_gone",
    "UPDATE workers SET state = 'gone' WHERE state <> 'gone' "
    "AND last_heartbeat_at < " LADDER_NOW("$2") " - $1 * interval '1 millisecond'");

using enums::AttemptOutcome;
using enums::RunState;

std::string OutcomeName(AttemptOutcome o) { return std::string(enums::Name(o)); }

struct LockedAttempt {
  int64_t run_id = 0;
  std::optional<AttemptOutcome> outcome;  // nullopt: the attempt is live
  int64_t sweep_id = 0;
  RunState run_state = RunState::kQueued;
  int failures = 0;
  int max_attempts = 0;
  std::string family;
  bool others_queued = false;
  PlannedLimits plan;
};

// The attempt's part of a lock row (run id, outcome, token check), from
// column `at` on; NOT_FOUND or PERMISSION_DENIED as the caller would say.
absl::StatusOr<LockedAttempt> ReadLockedAttempt(const pqxx::row& a, int at, int64_t attempt_id) {
  if (!a[at + 2].as<bool>()) {
    return absl::PermissionDeniedError("lease_token: does not match attempt " +
                                       std::to_string(attempt_id));
  }
  LockedAttempt l;
  l.run_id = a[at].as<int64_t>();
  const auto outcome = a[at + 1].as<std::string>();
  if (!outcome.empty()) {
    l.outcome = enums::Parse<AttemptOutcome>(outcome);
    if (!l.outcome) return absl::InternalError("attempt outcome '" + outcome + "' is unknown");
  }
  return l;
}

// The run's part (LADDER_LOCKED_RUN_COLUMNS from column `at` on) into `l`.
absl::Status ReadLockedRun(const pqxx::row& r, int at, LockedAttempt* l) {
  l->sweep_id = r[at].as<int64_t>();
  const auto state = enums::Parse<RunState>(r[at + 1].as<std::string>());
  if (!state)
    return absl::InternalError("run state '" + r[at + 1].as<std::string>() + "' is unknown");
  l->run_state = *state;
  l->failures = r[at + 2].as<int>();
  l->max_attempts = r[at + 3].as<int>();
  l->family = r[at + 4].as<std::string>();
  l->plan.tokens = r[at + 5].as<int64_t>();
  l->plan.flops = r[at + 6].as<double>();
  l->plan.batch_tokens = static_cast<int64_t>(std::min(r[at + 7].as<double>(), 9e18));
  return absl::OkStatus();
}

// Locks attempt and run; checks the token. Returns NOT_FOUND or
// PERMISSION_DENIED; the outcome is left for the caller to judge.
absl::StatusOr<LockedAttempt> Lock(pqxx::work& txn, int64_t attempt_id, const std::string& token) {
  pqxx::result a = txn.exec_prepared(kLockAttempt.name, attempt_id, token);
  if (a.empty())
    return absl::NotFoundError("attempt " + std::to_string(attempt_id) + " does not exist");
  auto l = ReadLockedAttempt(a[0], 0, attempt_id);
  if (!l.ok()) return l.status();
  if (absl::Status st = ReadLockedRun(txn.exec_prepared1(kLockRun.name, l->run_id), 0, &*l);
      !st.ok()) {
    return st;
  }
  l->others_queued =
      !txn.exec_prepared(kSweepsStillQueued.name, PgArrayLiteral(std::vector<int64_t>{l->sweep_id}),
                         PgArrayLiteral(std::vector<int64_t>{l->run_id}))
           .empty();
  return l;
}

// Whether a batch that failed as a whole should be tried again one request
// at a time: not when the database is down (every one would fail the same).
bool SplitAfterBatchFailure(const absl::Status& st) {
  return st.code() != absl::StatusCode::kUnavailable &&
         st.code() != absl::StatusCode::kDeadlineExceeded;
}

// A granted lease from a claim row (attempt id, run id, number, expiry ms,
// config, sweep id).
absl::StatusOr<v1::Lease> LeaseFromRow(const pqxx::row& row, int32_t device_index,
                                       const std::string& token) {
  v1::Lease l;
  l.set_attempt_id(row[0].as<int64_t>());
  l.set_run_id(row[1].as<int64_t>());
  l.set_attempt_number(row[2].as<int>());
  l.set_expires_unix_ms(row[3].as<int64_t>());
  l.set_sweep_id(row[5].as<int64_t>());
  l.set_device_index(device_index);
  // Stored per run; run_id, sweep_id and attempt are per attempt.
  std::string config, error;
  if (!protocol::StampAttempt(row[4].as<std::string>(),
                              {l.run_id(), l.sweep_id(), l.attempt_number()}, &config, &error)) {
    return absl::InternalError("the stored config of run " + std::to_string(l.run_id()) + " is " +
                               error);
  }
  l.set_config_json(std::move(config));
  l.set_lease_token(token);
  return l;
}

}  // namespace

std::string NewLeaseToken() {
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof bytes) != 1) {
    // OpenSSL's CSPRNG failing is not recoverable here; abort loudly.
    std::abort();
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char b : bytes) {
    out += kHex[b >> 4];
    out += kHex[b & 15];
  }
  return out;
}

bool IsPermanentFailure(const std::string& reason) {
  return reason == "bad_config" || reason == "data";
}

std::chrono::milliseconds RetryBackoff(int failures, std::chrono::milliseconds base,
                                       std::chrono::milliseconds max) {
  const double doubled =
      static_cast<double>(base.count()) * std::pow(2.0, std::max(failures, 1) - 1);
  return std::chrono::milliseconds(
      static_cast<int64_t>(std::min(static_cast<double>(max.count()), doubled)));
}

LeaseStore::Now::Now(const Clock* clock) {
  if (clock == nullptr) return;
  text_ = std::to_string(
      std::chrono::duration_cast<std::chrono::microseconds>(clock->WallNow().time_since_epoch())
          .count());
}

absl::StatusOr<int64_t> LeaseStore::RegisterWorker(const v1::RegisterWorkerRequest& req) {
  json devices = json::array();
  int64_t max_mem = 0;
  for (const auto& d : req.devices()) {
    devices.push_back({{"index", d.index()},
                       {"kind", d.kind()},
                       {"model", d.model()},
                       {"memory_bytes", d.memory_bytes()},
                       {"threads", d.threads()}});
    max_mem = std::max(max_mem, d.memory_bytes());
  }
  int64_t id = 0;
  const Now now(clock_);
  absl::Status st = pool_->Transact("register worker", [&](pqxx::work& txn) -> absl::Status {
    id = txn.exec_prepared1(kRegisterWorker.name, req.name(), req.hostname(), devices.dump(),
                            max_mem, req.trainer(), now.get())[0]
             .as<int64_t>();
    txn.exec_prepared(kOrphanAttempts.name, id, now.get());
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return id;
}

absl::StatusOr<v1::LeaseRunResponse> LeaseStore::LeaseRun(int64_t worker_id, int32_t device_index) {
  return std::move(LeaseRuns({LeaseAsk{worker_id, {device_index}, false}})[0]);
}

std::vector<absl::StatusOr<v1::LeaseRunResponse>> LeaseStore::LeaseRuns(
    const std::vector<LeaseAsk>& asks) {
  // One slot per (request, device), in request order.
  struct Slot {
    size_t ask = 0;
    size_t position = 0;  // in the request's device list
    int32_t device = 0;
    std::string token;
    bool eligible = false;  // active worker, known free device
    int64_t memory = 0;
    std::string kind;
    std::optional<pqxx::row> claimed;  // the claim row, once granted
    int64_t live_attempt = 0;          // the device's live lease, given again
    std::string live_token;            // and its token
  };
  std::vector<Slot> slots;
  std::vector<int64_t> slot_workers;
  std::vector<int32_t> slot_devices;
  for (size_t i = 0; i < asks.size(); ++i) {
    for (size_t k = 0; k < asks[i].devices.size(); ++k) {
      Slot s;
      s.ask = i;
      s.position = k;
      s.device = asks[i].devices[k];
      s.token = NewLeaseToken();
      slots.push_back(std::move(s));
      slot_workers.push_back(asks[i].worker_id);
      slot_devices.push_back(asks[i].devices[k]);
    }
  }
  const auto field = [&](const Slot& s) {
    return asks[s.ask].several ? "device_indexes[" + std::to_string(s.position) + "]"
                               : std::string("device_index");
  };
  std::vector<absl::StatusOr<v1::LeaseRunResponse>> out;
  const Now now(clock_);
  const int64_t ttl_ms = settings_.ttl.count();
  absl::Status st = pool_->Transact("lease runs", [&](pqxx::work& txn) -> absl::Status {
    out.assign(asks.size(), v1::LeaseRunResponse{});
    std::vector<bool> failed(asks.size(), false);
    const auto fail = [&](size_t ask, absl::Status why) {
      if (failed[ask]) return;
      failed[ask] = true;
      out[ask] = std::move(why);
    };
    // Which slots may lease: the worker active, the device its own and free,
    // and no earlier slot of this batch on the same device.
    std::set<std::pair<int64_t, int32_t>> seen;
    size_t row_index = 0;
    for (const auto& row : txn.exec_prepared(kLeaseSlots.name, PgArrayLiteral(slot_workers),
                                             PgArrayLiteral(slot_devices))) {
      Slot& s = slots[row_index++];
      s.claimed.reset();
      s.eligible = false;
      s.live_attempt = 0;
      if (failed[s.ask]) continue;  // an earlier device of the request was refused
      const int64_t worker = asks[s.ask].worker_id;
      if (row[1].is_null()) {
        fail(s.ask, absl::NotFoundError("worker_id: worker " + std::to_string(worker) +
                                        " is not registered"));
        continue;
      }
      if (row[2].is_null()) {
        fail(s.ask, absl::NotFoundError(field(s) + ": worker " + std::to_string(worker) +
                                        " has no device " + std::to_string(s.device)));
        continue;
      }
      if (!seen.insert({worker, s.device}).second) {
        fail(s.ask, absl::FailedPreconditionError(
                        field(s) + ": device " + std::to_string(s.device) + " of worker " +
                        std::to_string(worker) +
                        " is asked for twice at once; a device runs one attempt at a time"));
        continue;
      }
      const std::string state = row[1].as<std::string>();
      if (state == "draining") out[s.ask]->set_drain(true);
      if (!row[4].is_null() && !row[5].as<bool>()) {
        // The worker runs it (its trainer reported): a second trainer must not.
        fail(s.ask, absl::FailedPreconditionError(
                        field(s) + ": device " + std::to_string(s.device) + " of worker " +
                        std::to_string(worker) + " already holds the live lease of attempt " +
                        row[4].as<std::string>() + "; a device runs one attempt at a time"));
        continue;
      }
      if (!row[4].is_null()) {
        // The device's live lease, granted but never reported on: its answer
        // was lost (a coordinator died mid-call), so it is given again.
        s.live_attempt = row[4].as<int64_t>();
        continue;
      }
      if (state != "active") continue;
      s.eligible = true;
      s.memory = row[2].as<int64_t>();
      s.kind = row[3].as<std::string>();
    }
    std::vector<int64_t> live;
    for (const auto& s : slots)
      if (s.live_attempt != 0 && !failed[s.ask]) live.push_back(s.live_attempt);
    if (!live.empty()) {
      std::map<int64_t, pqxx::row> again;
      for (const auto& row :
           txn.exec_prepared(kRedeliverLeases.name, PgArrayLiteral(live), ttl_ms, now.get())) {
        again.emplace(row[0].as<int64_t>(), row);
      }
      for (auto& s : slots) {
        auto it = s.live_attempt != 0 ? again.find(s.live_attempt) : again.end();
        if (it == again.end()) continue;
        s.claimed = it->second;
        s.live_token = it->second[6].as<std::string>();
      }
    }
    std::vector<Slot*> open;
    for (auto& s : slots)
      if (s.eligible && !failed[s.ask]) open.push_back(&s);
    // The granted leases, new or given again, into the answers.
    const auto deliver = [&]() -> absl::Status {
      for (const auto& s : slots) {
        if (!s.claimed || failed[s.ask]) continue;
        auto lease = LeaseFromRow(*s.claimed, s.device, s.live_attempt ? s.live_token : s.token);
        if (!lease.ok()) return lease.status();
        v1::LeaseRunResponse& r = *out[s.ask];
        if (!r.granted()) *r.mutable_lease() = *lease;
        r.set_granted(true);
        *r.add_leases() = *std::move(lease);
      }
      return absl::OkStatus();
    };
    if (open.empty()) return deliver();
    // The best queued runs, one per open slot at most, matched in request
    // order to the first slot they fit.
    struct Candidate {
      int64_t id;
      int64_t memory;
      std::string kind;
      bool taken = false;
    };
    std::vector<Candidate> candidates;
    for (const auto& row :
         txn.exec_prepared(kLeaseCandidates.name, static_cast<int64_t>(open.size()), now.get())) {
      candidates.push_back({row[0].as<int64_t>(), row[1].as<int64_t>(), row[2].as<std::string>()});
    }
    std::vector<int64_t> run_ids, workers;
    std::vector<int32_t> devices;
    std::vector<std::string> tokens;
    std::map<int64_t, Slot*> by_run;
    std::vector<Slot*> unmatched;
    for (Slot* s : open) {
      bool matched = false;
      for (auto& c : candidates) {
        if (c.taken || c.memory > s->memory || (c.kind != "any" && c.kind != s->kind)) continue;
        c.taken = true;
        matched = true;
        run_ids.push_back(c.id);
        workers.push_back(asks[s->ask].worker_id);
        devices.push_back(s->device);
        tokens.push_back(s->token);
        by_run[c.id] = s;
        break;
      }
      if (!matched) unmatched.push_back(s);
    }
    if (!run_ids.empty()) {
      for (const auto& row :
           txn.exec_prepared(kLeaseClaim.name, PgArrayLiteral(run_ids), PgArrayLiteral(workers),
                             PgArrayLiteral(devices), PgArrayLiteral(tokens), ttl_ms, now.get())) {
        by_run.at(row[1].as<int64_t>())->claimed = row;
      }
    }
    // Fewer candidates than open slots: the queue holds nothing more for
    // them now. Otherwise a slot the claimed runs did not fit searches on.
    if (candidates.size() == open.size()) {
      for (Slot* s : unmatched) {
        pqxx::result rows = txn.exec_prepared(kLeaseRun.name, asks[s->ask].worker_id, s->device,
                                              s->token, ttl_ms, now.get());
        if (!rows.empty()) s->claimed = rows[0];
      }
    }
    return deliver();
  });
  if (st.ok()) return out;
  if (asks.size() > 1 && SplitAfterBatchFailure(st)) {
    // Refused as a whole (e.g. two calls raced for one device and the unique
    // index stopped one): each request on its own.
    out.clear();
    for (const auto& ask : asks) out.push_back(std::move(LeaseRuns({ask})[0]));
    return out;
  }
  if (st.code() == absl::StatusCode::kAlreadyExists && asks.size() == 1) {
    // Two calls for one device raced past the check: the unique index on
    // live attempts per device stopped the second.
    st = absl::FailedPreconditionError(
        std::string(asks[0].several ? "device_indexes" : "device_index") + ": a device of worker " +
        std::to_string(asks[0].worker_id) +
        " already holds a live lease; a device runs one attempt at a time");
  }
  out.assign(asks.size(), st);
  return out;
}

absl::StatusOr<AttemptEnd> LeaseStore::CompleteAttempt(const v1::CompleteAttemptRequest& req) {
  return std::move(CompleteAttempts({&req})[0]);
}

std::vector<absl::StatusOr<AttemptEnd>> LeaseStore::CompleteAttempts(
    const std::vector<const v1::CompleteAttemptRequest*>& requests) {
  const size_t n = requests.size();
  std::vector<absl::StatusOr<AttemptEnd>> out;
  // Why a result cannot be stored, per request; its attempt then fails.
  std::vector<std::string> refused;
  std::vector<int64_t> ids;
  std::vector<std::string> tokens;
  for (const auto* r : requests) {
    ids.push_back(r->attempt_id());
    tokens.push_back(r->lease_token());
  }
  absl::Status st = pool_->Transact("complete attempts", [&](pqxx::work& txn) -> absl::Status {
    out.assign(n, absl::NotFoundError(""));
    refused.assign(n, std::string());
    std::vector<std::optional<LockedAttempt>> locked(n);
    for (size_t i = 0; i < n; ++i) {
      out[i] = absl::NotFoundError("attempt " + std::to_string(ids[i]) + " does not exist");
    }
    std::vector<int64_t> run_ids;
    for (const auto& row :
         txn.exec_prepared(kLockAttempts.name, PgArrayLiteral(ids), PgArrayLiteral(tokens))) {
      const size_t i = row[0].as<size_t>() - 1;
      auto l = ReadLockedAttempt(row, 1, ids[i]);
      if (!l.ok()) {
        out[i] = l.status();
        continue;
      }
      run_ids.push_back(l->run_id);
      locked[i] = *std::move(l);
    }
    std::map<int64_t, pqxx::row> runs;
    std::set<int64_t> still_queued;  // sweeps with a queued run outside this batch
    if (!run_ids.empty()) {
      std::set<int64_t> sweep_ids;
      for (const auto& row : txn.exec_prepared(kLockRuns.name, PgArrayLiteral(run_ids))) {
        runs.emplace(row[0].as<int64_t>(), row);
        sweep_ids.insert(row[1].as<int64_t>());
      }
      for (const auto& row : txn.exec_prepared(
               kSweepsStillQueued.name,
               PgArrayLiteral(std::vector<int64_t>(sweep_ids.begin(), sweep_ids.end())),
               PgArrayLiteral(run_ids))) {
        still_queued.insert(row[0].as<int64_t>());
      }
    }
    // The accepted results, stored together below.
    std::vector<int64_t> store_runs, store_attempts, store_tokens;
    std::vector<std::optional<std::string>> store_json;
    std::vector<std::vector<std::optional<std::string>>> store_columns;
    std::map<int64_t, size_t> first_of_attempt;  // a repeat within the batch
    std::set<int64_t> succeeded_runs;            // one result per run, even within a batch
    for (size_t i = 0; i < n; ++i) {
      if (!locked[i]) continue;
      LockedAttempt& l = *locked[i];
      if (absl::Status rs = ReadLockedRun(runs.at(l.run_id), 1, &l); !rs.ok()) return rs;
      l.others_queued = still_queued.count(l.sweep_id) > 0;
      AttemptEnd end;
      end.run_id = l.run_id;
      end.sweep_id = l.sweep_id;
      end.family = l.family;
      end.sweep_may_be_done = !l.others_queued;
      if (auto [it, fresh] = first_of_attempt.emplace(ids[i], i); !fresh) {
        // The same completion twice in one batch: the second is a repeat.
        const size_t first = it->second;
        if (out[first].ok() && refused[first].empty()) {
          end.already_recorded = true;
          out[i] = end;
        } else {
          out[i] = out[first].ok() ? absl::FailedPreconditionError(
                                         "attempt " + std::to_string(ids[i]) +
                                         " was reported twice at once; the first report decides")
                                   : out[first].status();
        }
        continue;
      }
      if (l.outcome == AttemptOutcome::kSucceeded) {
        end.already_recorded = true;
        out[i] = end;
        continue;
      }
      bool late_but_latest = false;
      if (l.outcome == AttemptOutcome::kExpired && l.run_state == RunState::kQueued) {
        // Expired but not yet leased again: this is still the newest attempt.
        late_but_latest = txn.exec_params1(
                                 "SELECT max(number) = (SELECT number FROM attempts WHERE id = $2) "
                                 "FROM attempts WHERE run_id = $1",
                                 l.run_id, ids[i])[0]
                              .as<bool>();
      }
      if (l.outcome && !late_but_latest) {
        out[i] = absl::FailedPreconditionError("attempt " + std::to_string(ids[i]) +
                                               " is no longer current (" + OutcomeName(*l.outcome) +
                                               "); its result was not recorded");
        continue;
      }
      if ((!late_but_latest && !IsLive(l.run_state)) || succeeded_runs.count(l.run_id)) {
        out[i] = absl::FailedPreconditionError(
            "run " + std::to_string(l.run_id) + " is " +
            std::string(succeeded_runs.count(l.run_id) ? "succeeded" : enums::Name(l.run_state)) +
            "; the result was not recorded");
        continue;
      }
      auto result = CheckResult(requests[i]->result_json(), l.plan);
      if (!result.ok()) {
        refused[i] = std::string(result.status().message());
        out[i] = end;
        continue;  // nothing written; the attempt is failed after the commit
      }
      if (late_but_latest) {
        txn.exec_params0(
            "UPDATE attempts SET reason = NULL, message = 'completed after its lease expired' "
            "WHERE id = $1",
            ids[i]);
      }
      const protocol::ResultEvent& typed = result->result;
      succeeded_runs.insert(l.run_id);
      store_runs.push_back(l.run_id);
      store_attempts.push_back(ids[i]);
      store_json.push_back(StorableDump(result->json));
      store_tokens.push_back(typed.tokens);
      std::vector<std::optional<std::string>> columns = ResultColumnValues(typed);
      if (store_columns.empty()) store_columns.resize(columns.size());
      for (size_t c = 0; c < columns.size(); ++c) store_columns[c].push_back(std::move(columns[c]));
      end.run_ended = true;
      end.flops = typed.flops;
      end.wall_seconds = typed.wall_seconds;
      end.tokens_per_second =
          end.wall_seconds > 0 ? static_cast<double>(typed.tokens) / end.wall_seconds : 0;
      out[i] = end;
    }
    if (store_runs.empty()) return absl::OkStatus();
    txn.exec_prepared0(kSucceedAttempts.name, PgArrayLiteral(store_attempts));
    std::vector<std::string> params = {PgArrayLiteral(store_runs), PgArrayLiteral(store_attempts),
                                       PgArrayLiteral(store_json), PgArrayLiteral(store_tokens)};
    for (const auto& column : store_columns) params.push_back(PgArrayLiteral(column));
    std::vector<const char*> raw;
    for (const auto& p : params) raw.push_back(p.c_str());
    txn.exec_prepared0(kStoreResults.name, pqxx::prepare::make_dynamic_params(raw));
    return absl::OkStatus();
  });
  if (!st.ok()) {
    if (n > 1 && SplitAfterBatchFailure(st)) {
      out.clear();
      for (const auto* r : requests) out.push_back(std::move(CompleteAttempts({r})[0]));
      return out;
    }
    out.assign(n, st);
    return out;
  }
  for (size_t i = 0; i < n; ++i) {
    if (refused[i].empty()) continue;
    // The attempt cannot succeed with this result: fail it (bad_result,
    // retried like a crash), so it is not left live and heartbeated
    // forever, then tell the worker why.
    v1::FailAttemptRequest fail;
    fail.set_attempt_id(ids[i]);
    fail.set_lease_token(tokens[i]);
    fail.set_reason("bad_result");
    fail.set_message(refused[i]);
    auto failed = FailAttempt(fail);
    if (!failed.ok() && failed.status().code() != absl::StatusCode::kFailedPrecondition) {
      out[i] = failed.status();
    } else {
      out[i] = absl::InvalidArgumentError(refused[i]);
    }
  }
  return out;
}

absl::StatusOr<AttemptEnd> LeaseStore::FailAttempt(const v1::FailAttemptRequest& req) {
  if (req.reason().empty()) return absl::InvalidArgumentError("reason: must not be empty");
  if (req.reason().size() > 64) return absl::InvalidArgumentError("reason: longer than 64 bytes");
  const std::string reason = StorableText(req.reason(), 64);
  const std::string message = StorableText(req.message(), 4096);
  const Now now(clock_);
  AttemptEnd end;
  absl::Status st = pool_->Transact("fail attempt", [&](pqxx::work& txn) -> absl::Status {
    auto locked = Lock(txn, req.attempt_id(), req.lease_token());
    if (!locked.ok()) return locked.status();
    end = AttemptEnd{};
    end.run_id = locked->run_id;
    end.sweep_id = locked->sweep_id;
    end.family = locked->family;
    end.sweep_may_be_done = !locked->others_queued;
    if (locked->outcome && *locked->outcome != AttemptOutcome::kSucceeded) {
      // Already ended (a repeated report, or the lease ran out first): nothing to do.
      end.already_recorded = true;
      return absl::OkStatus();
    }
    if (locked->outcome == AttemptOutcome::kSucceeded) {
      return absl::FailedPreconditionError("attempt " + std::to_string(req.attempt_id()) +
                                           " already succeeded; it cannot fail");
    }
    const bool live_run = IsLive(locked->run_state);
    const std::string error = reason + ": " + message;
    if (reason == "drained" || reason == "cancelled") {
      txn.exec_prepared0(
          kEndAttempt.name, req.attempt_id(),
          OutcomeName(reason == "drained" ? AttemptOutcome::kReleased : AttemptOutcome::kCancelled),
          reason, message);
      if (live_run) {
        txn.exec_prepared0(kRequeueRun.name, locked->run_id, 0, int64_t{0}, error, now.get());
        end.will_retry = true;
      }
      return absl::OkStatus();
    }
    txn.exec_prepared0(kEndAttempt.name, req.attempt_id(), OutcomeName(AttemptOutcome::kFailed),
                       reason, message);
    if (!live_run) return absl::OkStatus();
    const int failures = locked->failures + 1;
    if (IsPermanentFailure(reason) || failures >= locked->max_attempts) {
      txn.exec_prepared0(kFailRun.name, locked->run_id, error);
      end.run_ended = true;
    } else {
      const auto backoff = RetryBackoff(failures, settings_.retry_backoff, settings_.max_backoff);
      txn.exec_prepared0(kRequeueRun.name, locked->run_id, 1, static_cast<int64_t>(backoff.count()),
                         error, now.get());
      end.will_retry = true;
    }
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return end;
}

absl::StatusOr<LeaseStore::Expired> LeaseStore::ExpireLeases(int limit) {
  Expired out;
  const Now now(clock_);
  absl::Status st = pool_->Transact("expire leases", [&](pqxx::work& txn) -> absl::Status {
    out = Expired{};
    for (const auto& row : txn.exec_prepared(kExpireLeases.name, limit, now.get())) {
      ++out.attempts;
      const int64_t s = row[0].as<int64_t>();
      if (std::find(out.sweeps.begin(), out.sweeps.end(), s) == out.sweeps.end())
        out.sweeps.push_back(s);
    }
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return out;
}

absl::StatusOr<int> LeaseStore::ExtendLiveLeasesForRestart() {
  int n = 0;
  const Now now(clock_);
  absl::Status st = pool_->Transact("extend live leases", [&](pqxx::work& txn) -> absl::Status {
    n = static_cast<int>(txn.exec_prepared0(kExtendLiveLeases.name,
                                            static_cast<int64_t>(settings_.ttl.count()), now.get())
                             .affected_rows());
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return n;
}

absl::StatusOr<int> LeaseStore::MarkSilentWorkersGone(std::chrono::milliseconds silence) {
  int n = 0;
  const Now now(clock_);
  absl::Status st = pool_->Transact("mark gone workers", [&](pqxx::work& txn) -> absl::Status {
    n = static_cast<int>(
        txn.exec_prepared0(kMarkGone.name, static_cast<int64_t>(silence.count()), now.get())
            .affected_rows());
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return n;
}

}  // namespace ladder::store
