#include "server/store/lease_store.h"

#include <absl/status/status.h>
#include <openssl/rand.h>

#include <cmath>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>

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

const PgStatement kWorkerState(
    "worker_state",
    "SELECT state, devices @> jsonb_build_array(jsonb_build_object('index', $2::int)), "
    "  (SELECT min(a.id) FROM attempts a WHERE a.worker_id = $1 AND a.device_index = $2 "
    "   AND a.outcome IS NULL) "
    "FROM workers WHERE id = $1");

// Locks the attempt, then its run (the same order as lease expiry).
const PgStatement kLockAttempt("lock_attempt",
                               "SELECT run_id, COALESCE(outcome, ''), lease_token = $2 FROM "
                               "attempts WHERE id = $1 FOR UPDATE");
// The last column says whether another run of the sweep is still queued:
// then the sweep cannot end with this attempt (that run's own end will check).
const PgStatement kLockRun("lock_run",
                           "SELECT sweep_id, state, failures, max_attempts, family, "
                           "  EXISTS (SELECT 1 FROM runs q WHERE q.sweep_id = runs.sweep_id "
                           "          AND q.state = 'queued' AND q.id <> runs.id), "
                           "  planned_tokens, planned_flops, "
                           "  CASE WHEN jsonb_typeof(config->'train'->'batch_tokens') = 'number' "
                           "       THEN (config->'train'->>'batch_tokens')::float8 ELSE 0 END "
                           "FROM runs WHERE id = $1 FOR UPDATE");

const PgStatement kSucceedAttempt("succeed_attempt",
                                  "UPDATE attempts SET outcome = 'succeeded', finished_at = now() "
                                  "WHERE id = $1");

std::string ColumnText(int64_t v) { return std::to_string(v); }
std::string ColumnText(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}
std::string ColumnText(const std::string& v) { return v; }
std::string ColumnText(bool v) { return v ? "true" : "false"; }
std::string ColumnText(const json& v) { return StorableDump(v); }

// The result's typed columns come from the protocol's field table
// (common/protocol/trainer_events.h), one parameter each from $5 on, in
// table order: a new result field needs its row there and a migration
// adding its column, nothing here.
std::string StoreResultSql() {
  std::string sql =
      "UPDATE runs r SET state = 'succeeded', succeeded_attempt_id = $2, finished_at = now(), "
      "  updated_at = now(), result = $3::jsonb, tokens_done = $4, last_error = NULL, "
      "  trainer = COALESCE((SELECT a.started->>'trainer' FROM attempts a WHERE a.id = $2), "
      "                     (SELECT w.trainer FROM attempts a JOIN workers w ON w.id = a.worker_id "
      "                      WHERE a.id = $2))";
  int parameter = 5;
  for (const auto& field : protocol::EventSchema<protocol::ResultEvent>::Fields()) {
    if (field.column_name().empty()) continue;
    sql += ", " + std::string(field.column_name()) + " = $" + std::to_string(parameter++);
  }
  return sql + " WHERE r.id = $1";
}

const std::string& StoreResultSqlText() {
  static const std::string sql = StoreResultSql();
  return sql;
}

const PgStatement kStoreResult("store_result", StoreResultSqlText().c_str());

// The values of the result's columns, in StoreResultSql's order, as text
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

// Locks attempt and run; checks the token. Returns NOT_FOUND or
// PERMISSION_DENIED; the outcome is left for the caller to judge.
absl::StatusOr<LockedAttempt> Lock(pqxx::work& txn, int64_t attempt_id, const std::string& token) {
  pqxx::result a = txn.exec_prepared(kLockAttempt.name, attempt_id, token);
  if (a.empty())
    return absl::NotFoundError("attempt " + std::to_string(attempt_id) + " does not exist");
  if (!a[0][2].as<bool>()) {
    return absl::PermissionDeniedError("lease_token: does not match attempt " +
                                       std::to_string(attempt_id));
  }
  LockedAttempt l;
  l.run_id = a[0][0].as<int64_t>();
  const auto outcome = a[0][1].as<std::string>();
  if (!outcome.empty()) {
    l.outcome = enums::Parse<AttemptOutcome>(outcome);
    if (!l.outcome) return absl::InternalError("attempt outcome '" + outcome + "' is unknown");
  }
  pqxx::row r = txn.exec_prepared1(kLockRun.name, l.run_id);
  l.sweep_id = r[0].as<int64_t>();
  const auto state = enums::Parse<RunState>(r[1].as<std::string>());
  if (!state) return absl::InternalError("run state '" + r[1].as<std::string>() + "' is unknown");
  l.run_state = *state;
  l.failures = r[2].as<int>();
  l.max_attempts = r[3].as<int>();
  l.family = r[4].as<std::string>();
  l.others_queued = r[5].as<bool>();
  l.plan.tokens = r[6].as<int64_t>();
  l.plan.flops = r[7].as<double>();
  l.plan.batch_tokens = static_cast<int64_t>(std::min(r[8].as<double>(), 9e18));
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
  v1::LeaseRunResponse out;
  const std::string token = NewLeaseToken();
  const Now now(clock_);
  // One statement claims the run and creates its attempt (atomic by itself),
  // so no transaction block around it: two round trips fewer per lease.
  absl::Status st = pool_->Autocommit("lease run", [&](pqxx::nontransaction& txn) -> absl::Status {
    pqxx::result rows = txn.exec_prepared(kLeaseRun.name, worker_id, device_index, token,
                                          static_cast<int64_t>(settings_.ttl.count()), now.get());
    if (!rows.empty()) {
      out.set_granted(true);
      v1::Lease* l = out.mutable_lease();
      l->set_attempt_id(rows[0][0].as<int64_t>());
      l->set_run_id(rows[0][1].as<int64_t>());
      l->set_attempt_number(rows[0][2].as<int>());
      l->set_expires_unix_ms(rows[0][3].as<int64_t>());
      l->set_sweep_id(rows[0][5].as<int64_t>());
      // Stored per run; run_id, sweep_id and attempt are per attempt.
      std::string config, error;
      if (!protocol::StampAttempt(rows[0][4].as<std::string>(),
                                  {l->run_id(), l->sweep_id(), l->attempt_number()}, &config,
                                  &error)) {
        return absl::InternalError("the stored config of run " + std::to_string(l->run_id()) +
                                   " is " + error);
      }
      l->set_config_json(std::move(config));
      l->set_lease_token(token);
      return absl::OkStatus();
    }
    // Nothing granted: say why if the worker or device is the reason.
    pqxx::result w = txn.exec_prepared(kWorkerState.name, worker_id, device_index);
    if (w.empty())
      return absl::NotFoundError("worker_id: worker " + std::to_string(worker_id) +
                                 " is not registered");
    if (!w[0][1].as<bool>()) {
      return absl::NotFoundError("device_index: worker " + std::to_string(worker_id) +
                                 " has no device " + std::to_string(device_index));
    }
    if (!w[0][2].is_null()) {
      return absl::FailedPreconditionError(
          "device_index: device " + std::to_string(device_index) + " of worker " +
          std::to_string(worker_id) + " already holds the live lease of attempt " +
          w[0][2].as<std::string>() + "; a device runs one attempt at a time");
    }
    out.set_drain(w[0][0].as<std::string>() == "draining");
    return absl::OkStatus();
  });
  if (st.code() == absl::StatusCode::kAlreadyExists) {
    // Two calls for one device raced past the check: the unique index on
    // live attempts per device stopped the second.
    return absl::FailedPreconditionError("device_index: device " + std::to_string(device_index) +
                                         " of worker " + std::to_string(worker_id) +
                                         " already holds a live lease; a device runs one attempt "
                                         "at a time");
  }
  if (!st.ok()) return st;
  return out;
}

absl::StatusOr<AttemptEnd> LeaseStore::CompleteAttempt(const v1::CompleteAttemptRequest& req) {
  AttemptEnd end;
  std::string refused;  // why the result cannot be stored; the attempt then fails
  absl::Status st = pool_->Transact("complete attempt", [&](pqxx::work& txn) -> absl::Status {
    refused.clear();
    auto locked = Lock(txn, req.attempt_id(), req.lease_token());
    if (!locked.ok()) return locked.status();
    end = AttemptEnd{};
    end.run_id = locked->run_id;
    end.sweep_id = locked->sweep_id;
    end.family = locked->family;
    end.sweep_may_be_done = !locked->others_queued;
    if (locked->outcome == AttemptOutcome::kSucceeded) {
      end.already_recorded = true;
      return absl::OkStatus();
    }
    bool late_but_latest = false;
    if (locked->outcome == AttemptOutcome::kExpired && locked->run_state == RunState::kQueued) {
      // Expired but not yet leased again: this is still the newest attempt.
      late_but_latest = txn.exec_params1(
                               "SELECT max(number) = (SELECT number FROM attempts WHERE id = $2) "
                               "FROM attempts WHERE run_id = $1",
                               locked->run_id, req.attempt_id())[0]
                            .as<bool>();
    }
    if (locked->outcome && !late_but_latest) {
      return absl::FailedPreconditionError(
          "attempt " + std::to_string(req.attempt_id()) + " is no longer current (" +
          OutcomeName(*locked->outcome) + "); its result was not recorded");
    }
    if (!late_but_latest && !IsLive(locked->run_state)) {
      return absl::FailedPreconditionError("run " + std::to_string(locked->run_id) + " is " +
                                           std::string(enums::Name(locked->run_state)) +
                                           "; the result was not recorded");
    }
    auto result = CheckResult(req.result_json(), locked->plan);
    if (!result.ok()) {
      refused = std::string(result.status().message());
      return absl::OkStatus();  // nothing written; the attempt is failed below
    }
    if (late_but_latest) {
      txn.exec_params0(
          "UPDATE attempts SET reason = NULL, message = 'completed after its lease expired' "
          "WHERE id = $1",
          req.attempt_id());
    }
    txn.exec_prepared0(kSucceedAttempt.name, req.attempt_id());
    const protocol::ResultEvent& typed = result->result;
    const std::vector<std::optional<std::string>> columns = ResultColumnValues(typed);
    std::vector<const char*> column_params;  // nullptr: NULL
    for (const auto& c : columns) column_params.push_back(c ? c->c_str() : nullptr);
    txn.exec_prepared0(kStoreResult.name, locked->run_id, req.attempt_id(),
                       StorableDump(result->json), typed.tokens,
                       pqxx::prepare::make_dynamic_params(column_params));
    end.run_ended = true;
    end.flops = typed.flops;
    end.wall_seconds = typed.wall_seconds;
    end.tokens_per_second =
        end.wall_seconds > 0 ? static_cast<double>(typed.tokens) / end.wall_seconds : 0;
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  if (!refused.empty()) {
    // The attempt cannot succeed with this result: fail it (bad_result,
    // retried like a crash), so it is not left live and heartbeated
    // forever, then tell the worker why.
    v1::FailAttemptRequest fail;
    fail.set_attempt_id(req.attempt_id());
    fail.set_lease_token(req.lease_token());
    fail.set_reason("bad_result");
    fail.set_message(refused);
    auto failed = FailAttempt(fail);
    if (!failed.ok() && failed.status().code() != absl::StatusCode::kFailedPrecondition)
      return failed.status();
    return absl::InvalidArgumentError(refused);
  }
  return end;
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
