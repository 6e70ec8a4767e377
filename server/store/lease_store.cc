#include "server/store/lease_store.h"

#include <absl/status/status.h>
#include <openssl/rand.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <optional>

namespace ladder::store {
namespace {

using nlohmann::json;

const PgStatement kRegisterWorker(
    "register_worker",
    "INSERT INTO workers (name, hostname, devices, max_memory_bytes, trainer, state, "
    "last_heartbeat_at) "
    "VALUES ($1, $2, $3::jsonb, $4, $5, 'active', now()) "
    "ON CONFLICT (name) DO UPDATE SET hostname = excluded.hostname, devices = excluded.devices, "
    "  max_memory_bytes = excluded.max_memory_bytes, trainer = excluded.trainer, state = 'active', "
    "  registered_at = now(), last_heartbeat_at = now() "
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
    "  not_before = now(), updated_at = now() "
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
    "  WHERE r.state = 'queued' AND r.not_before <= now() AND r.memory_bytes <= (SELECT mem FROM "
    "dev) "
    "    AND (r.device_kind = 'any' OR r.device_kind = (SELECT kind FROM dev)) "
    "  ORDER BY r.priority DESC, r.id LIMIT 1 FOR UPDATE OF r SKIP LOCKED), "
    "u AS ("
    "  UPDATE runs SET state = 'leased', attempts = runs.attempts + 1, updated_at = now() "
    "  FROM c WHERE runs.id = c.id RETURNING runs.id, runs.sweep_id, runs.attempts, runs.config), "
    "ins AS ("
    "  INSERT INTO attempts (run_id, number, worker_id, device_index, lease_token, "
    "lease_expires_at) "
    "  SELECT u.id, u.attempts, $1, $2, $3, now() + $4 * interval '1 millisecond' FROM u "
    "  RETURNING id, run_id, number, lease_expires_at) "
    "SELECT ins.id, ins.run_id, ins.number, (extract(epoch FROM ins.lease_expires_at) * "
    "1000)::bigint, "
    "  u.config::text, u.sweep_id "
    "FROM ins JOIN u ON u.id = ins.run_id");

const PgStatement kWorkerState(
    "worker_state",
    "SELECT state, devices @> jsonb_build_array(jsonb_build_object('index', $2::int)) "
    "FROM workers WHERE id = $1");

const PgStatement kHeartbeatWorker(
    "heartbeat_worker",
    "UPDATE workers SET last_heartbeat_at = now(), "
    "  state = CASE WHEN state = 'gone' THEN 'active' ELSE state END "
    "WHERE id = $1 RETURNING state");

const PgStatement kExtendLeases(
    "extend_leases",
    "UPDATE attempts a SET lease_expires_at = now() + $4 * interval '1 millisecond' "
    "FROM unnest($2::bigint[], $3::text[]) AS t(id, token) "
    "WHERE a.id = t.id AND a.lease_token = t.token AND a.worker_id = $1 AND a.outcome IS NULL "
    "RETURNING a.id");

// Validates the lease and extends it; records the trainer's start.
const PgStatement kProgressAttempt(
    "progress_attempt",
    "UPDATE attempts SET lease_expires_at = now() + $3 * interval '1 millisecond', "
    "  started_at = CASE WHEN $4 <> '' THEN COALESCE(started_at, now()) ELSE started_at END, "
    "  started = CASE WHEN $4 <> '' THEN $4::jsonb ELSE started END "
    "WHERE id = $1 AND lease_token = $2 AND outcome IS NULL RETURNING run_id");

const PgStatement kInsertPoints(
    "insert_points",
    "INSERT INTO curve_points (run_id, step, attempt_id, tokens, flops, train_loss, eval_loss, lr, "
    "  tokens_per_second) "
    "SELECT $1, p.step, $2, p.tokens, p.flops, p.train_loss, p.eval_loss, p.lr, "
    "p.tokens_per_second "
    "FROM jsonb_to_recordset($3::jsonb) AS p(step bigint, tokens bigint, flops float8, "
    "  train_loss float8, eval_loss float8, lr float8, tokens_per_second float8) "
    "ON CONFLICT (run_id, step) DO UPDATE SET attempt_id = excluded.attempt_id, "
    "  tokens = excluded.tokens, flops = excluded.flops, train_loss = excluded.train_loss, "
    "  eval_loss = excluded.eval_loss, lr = excluded.lr, tokens_per_second = "
    "excluded.tokens_per_second");

const PgStatement kProgressRun("progress_run",
                               "UPDATE runs SET state = 'running', updated_at = now(), "
                               "  tokens_done = CASE WHEN $2 >= 0 THEN $2 ELSE tokens_done END, "
                               "  last_train_loss = COALESCE($3::float8, last_train_loss), "
                               "  tokens_per_second = COALESCE($4::float8, tokens_per_second) "
                               "WHERE id = $1 AND state IN ('leased', 'running')");

// Locks the attempt, then its run (the same order as lease expiry).
const PgStatement kLockAttempt("lock_attempt",
                               "SELECT run_id, COALESCE(outcome, ''), lease_token = $2 FROM "
                               "attempts WHERE id = $1 FOR UPDATE");
// The last column says whether another run of the sweep is still queued:
// then the sweep cannot end with this attempt (that run's own end will check).
const PgStatement kLockRun("lock_run",
                           "SELECT sweep_id, state, failures, max_attempts, family, "
                           "  EXISTS (SELECT 1 FROM runs q WHERE q.sweep_id = runs.sweep_id "
                           "          AND q.state = 'queued' AND q.id <> runs.id) "
                           "FROM runs WHERE id = $1 FOR UPDATE");

const PgStatement kSucceedAttempt("succeed_attempt",
                                  "UPDATE attempts SET outcome = 'succeeded', finished_at = now() "
                                  "WHERE id = $1");

const PgStatement kStoreResult(
    "store_result",
    "UPDATE runs r SET state = 'succeeded', succeeded_attempt_id = $2, finished_at = now(), "
    "  updated_at = now(), params = $3, non_embedding_params = $4, tokens = $5, unique_tokens = "
    "$6, "
    "  epochs = $7, flops = $8, flops_6nd = $9, final_eval_loss = $10, wall_seconds = $11, "
    "  device = $12, simulated = $13, result = $14::jsonb, tokens_done = $5, last_error = NULL, "
    "  trainer = COALESCE((SELECT a.started->>'trainer' FROM attempts a WHERE a.id = $2), "
    "                     (SELECT w.trainer FROM attempts a JOIN workers w ON w.id = a.worker_id "
    "                      WHERE a.id = $2)) "
    "WHERE r.id = $1");

const PgStatement kEndAttempt(
    "end_attempt",
    "UPDATE attempts SET outcome = $2, reason = $3, message = $4, finished_at = now() "
    "WHERE id = $1");

const PgStatement kRequeueRun(
    "requeue_run",
    "UPDATE runs SET state = 'queued', failures = failures + $2, "
    "  not_before = now() + $3 * interval '1 millisecond', last_error = $4, updated_at = now() "
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
    "  WHERE id IN (SELECT id FROM attempts WHERE outcome IS NULL AND lease_expires_at < now() "
    "               ORDER BY lease_expires_at LIMIT $1 FOR UPDATE SKIP LOCKED) "
    "  RETURNING run_id) "
    "UPDATE runs r SET failures = r.failures + 1, "
    "  state = CASE WHEN r.failures + 1 >= r.max_attempts THEN 'failed' ELSE 'queued' END, "
    "  finished_at = CASE WHEN r.failures + 1 >= r.max_attempts THEN now() END, "
    "  last_error = 'lease_expired: no heartbeat or report before the lease expired', "
    "  not_before = now(), updated_at = now() "
    "FROM e WHERE r.id = e.run_id AND r.state IN ('leased', 'running') RETURNING r.sweep_id");

const PgStatement kMarkGone("mark_gone",
                            "UPDATE workers SET state = 'gone' WHERE state <> 'gone' "
                            "AND last_heartbeat_at < now() - $1 * interval '1 millisecond'");

double NumberOr(const json& j, const char* key, double fallback) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_number()) return fallback;
  return it->get<double>();
}

struct LockedAttempt {
  int64_t run_id = 0;
  std::string outcome;
  int64_t sweep_id = 0;
  std::string run_state;
  int failures = 0;
  int max_attempts = 0;
  std::string family;
  bool others_queued = false;
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
  l.outcome = a[0][1].as<std::string>();
  pqxx::row r = txn.exec_prepared1(kLockRun.name, l.run_id);
  l.sweep_id = r[0].as<int64_t>();
  l.run_state = r[1].as<std::string>();
  l.failures = r[2].as<int>();
  l.max_attempts = r[3].as<int>();
  l.family = r[4].as<std::string>();
  l.others_queued = r[5].as<bool>();
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
  std::vector<int64_t> sweeps;
  absl::Status st = pool_->Transact("register worker", [&](pqxx::work& txn) -> absl::Status {
    id = txn.exec_prepared1(kRegisterWorker.name, req.name(), req.hostname(), devices.dump(),
                            max_mem, req.trainer())[0]
             .as<int64_t>();
    for (const auto& row : txn.exec_prepared(kOrphanAttempts.name, id))
      sweeps.push_back(row[0].as<int64_t>());
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return id;
}

absl::StatusOr<v1::LeaseRunResponse> LeaseStore::LeaseRun(int64_t worker_id, int32_t device_index) {
  v1::LeaseRunResponse out;
  const std::string token = NewLeaseToken();
  // One statement claims the run and creates its attempt (atomic by itself),
  // so no transaction block around it: two round trips fewer per lease.
  absl::Status st = pool_->Autocommit("lease run", [&](pqxx::nontransaction& txn) -> absl::Status {
    pqxx::result rows = txn.exec_prepared(kLeaseRun.name, worker_id, device_index, token,
                                          static_cast<int64_t>(settings_.ttl.count()));
    if (!rows.empty()) {
      out.set_granted(true);
      v1::Lease* l = out.mutable_lease();
      l->set_attempt_id(rows[0][0].as<int64_t>());
      l->set_run_id(rows[0][1].as<int64_t>());
      l->set_attempt_number(rows[0][2].as<int>());
      l->set_expires_unix_ms(rows[0][3].as<int64_t>());
      json config = json::parse(rows[0][4].as<std::string>());
      l->set_sweep_id(rows[0][5].as<int64_t>());
      config["run_id"] = l->run_id();
      config["sweep_id"] = l->sweep_id();
      config["attempt"] = l->attempt_number();
      l->set_config_json(config.dump());
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
    out.set_drain(w[0][0].as<std::string>() == "draining");
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return out;
}

absl::StatusOr<v1::HeartbeatResponse> LeaseStore::Heartbeat(const v1::HeartbeatRequest& req) {
  v1::HeartbeatResponse out;
  std::vector<int64_t> ids;
  std::vector<std::string> tokens;
  for (const auto& a : req.attempts()) {
    ids.push_back(a.attempt_id());
    tokens.push_back(a.lease_token());
  }
  absl::Status st = pool_->Transact("heartbeat", [&](pqxx::work& txn) -> absl::Status {
    pqxx::result w = txn.exec_prepared(kHeartbeatWorker.name, req.worker_id());
    if (w.empty()) {
      return absl::NotFoundError("worker_id: worker " + std::to_string(req.worker_id()) +
                                 " is not registered");
    }
    out.set_drain(w[0][0].as<std::string>() == "draining");
    if (ids.empty()) return absl::OkStatus();
    std::vector<int64_t> extended;
    for (const auto& row :
         txn.exec_prepared(kExtendLeases.name, req.worker_id(), PgArrayLiteral(ids),
                           PgArrayLiteral(tokens), static_cast<int64_t>(settings_.ttl.count()))) {
      extended.push_back(row[0].as<int64_t>());
    }
    for (int64_t id : ids) {
      if (std::find(extended.begin(), extended.end(), id) == extended.end())
        out.add_revoked_attempt_ids(id);
    }
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return out;
}

absl::StatusOr<v1::ReportProgressResponse> LeaseStore::ReportProgress(
    const v1::ReportProgressRequest& req) {
  v1::ReportProgressResponse out;
  std::string started;
  if (!req.started_json().empty()) {
    json s = json::parse(req.started_json(), nullptr, /*allow_exceptions=*/false);
    if (!s.is_object()) return absl::InvalidArgumentError("started_json: is not a JSON object");
    started = s.dump();
  }
  json points = json::array();
  int64_t last_tokens = -1;
  int64_t last_step = -1;
  std::optional<double> last_loss, last_tps;
  for (const auto& p : req.points()) {
    json j = {{"step", p.step()},
              {"tokens", p.tokens()},
              {"flops", p.flops()},
              {"lr", p.lr()},
              {"tokens_per_second", p.tokens_per_second()}};
    j["train_loss"] = std::isfinite(p.train_loss()) ? json(p.train_loss()) : json(nullptr);
    j["eval_loss"] =
        p.has_eval_loss() && std::isfinite(p.eval_loss()) ? json(p.eval_loss()) : json(nullptr);
    points.push_back(std::move(j));
    if (p.step() >= last_step) {
      last_step = p.step();
      last_tokens = p.tokens();
      if (std::isfinite(p.train_loss())) last_loss = p.train_loss();
      last_tps = p.tokens_per_second();
    }
  }
  absl::Status st = pool_->Transact("report progress", [&](pqxx::work& txn) -> absl::Status {
    pqxx::result a = txn.exec_prepared(kProgressAttempt.name, req.attempt_id(), req.lease_token(),
                                       static_cast<int64_t>(settings_.ttl.count()), started);
    if (a.empty()) {
      out.set_revoked(true);
      return absl::OkStatus();
    }
    const int64_t run_id = a[0][0].as<int64_t>();
    if (!points.empty())
      txn.exec_prepared0(kInsertPoints.name, run_id, req.attempt_id(), points.dump());
    const char* no = nullptr;
    if (last_loss && last_tps) {
      txn.exec_prepared0(kProgressRun.name, run_id, last_tokens, *last_loss, *last_tps);
    } else if (last_tps) {
      txn.exec_prepared0(kProgressRun.name, run_id, last_tokens, no, *last_tps);
    } else {
      txn.exec_prepared0(kProgressRun.name, run_id, last_tokens, no, no);
    }
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return out;
}

absl::StatusOr<AttemptEnd> LeaseStore::CompleteAttempt(const v1::CompleteAttemptRequest& req) {
  json result = json::parse(req.result_json(), nullptr, /*allow_exceptions=*/false);
  const double loss = result.is_object() ? NumberOr(result, "final_eval_loss", NAN) : NAN;
  if (!std::isfinite(loss) || loss <= 0) {
    const std::string problem =
        result.is_object() ? "result_json.final_eval_loss: must be a finite positive number"
                           : "result_json: is not a JSON object";
    // The attempt cannot succeed with this result: fail it, so it is not left
    // live (and heartbeated) forever, then tell the worker why.
    v1::FailAttemptRequest fail;
    fail.set_attempt_id(req.attempt_id());
    fail.set_lease_token(req.lease_token());
    fail.set_reason("bad_result");
    fail.set_message(problem);
    auto failed = FailAttempt(fail);
    if (!failed.ok() && failed.status().code() != absl::StatusCode::kFailedPrecondition)
      return failed.status();
    return absl::InvalidArgumentError(problem);
  }
  AttemptEnd end;
  absl::Status st = pool_->Transact("complete attempt", [&](pqxx::work& txn) -> absl::Status {
    auto locked = Lock(txn, req.attempt_id(), req.lease_token());
    if (!locked.ok()) return locked.status();
    end = AttemptEnd{};
    end.run_id = locked->run_id;
    end.sweep_id = locked->sweep_id;
    end.family = locked->family;
    end.sweep_may_be_done = !locked->others_queued;
    if (locked->outcome == "succeeded") {
      end.already_recorded = true;
      return absl::OkStatus();
    }
    bool late_but_latest = false;
    if (locked->outcome == "expired" && locked->run_state == "queued") {
      // Expired but not yet leased again: this is still the newest attempt.
      late_but_latest = txn.exec_params1(
                               "SELECT max(number) = (SELECT number FROM attempts WHERE id = $2) "
                               "FROM attempts WHERE run_id = $1",
                               locked->run_id, req.attempt_id())[0]
                            .as<bool>();
    }
    if (!locked->outcome.empty() && !late_but_latest) {
      return absl::FailedPreconditionError("attempt " + std::to_string(req.attempt_id()) +
                                           " is no longer current (" + locked->outcome +
                                           "); its result was not recorded");
    }
    if (late_but_latest) {
      txn.exec_params0(
          "UPDATE attempts SET reason = NULL, message = 'completed after its lease expired' "
          "WHERE id = $1",
          req.attempt_id());
    } else if (locked->run_state != "leased" && locked->run_state != "running") {
      return absl::FailedPreconditionError("run " + std::to_string(locked->run_id) + " is " +
                                           locked->run_state + "; the result was not recorded");
    }
    txn.exec_prepared0(kSucceedAttempt.name, req.attempt_id());
    const auto num = [&](const char* k) { return NumberOr(result, k, 0); };
    const auto integer = [&](const char* k) { return static_cast<int64_t>(std::llround(num(k))); };
    std::string device = result.value("device", std::string());
    const bool simulated = result.value("simulated", false);
    txn.exec_prepared0(kStoreResult.name, locked->run_id, req.attempt_id(), integer("params_total"),
                       integer("params_non_embedding"), integer("tokens"), integer("unique_tokens"),
                       num("epochs"), num("flops"), num("flops_6n"), loss, num("wall_seconds"),
                       device, simulated, result.dump());
    end.run_ended = true;
    end.flops = num("flops");
    end.wall_seconds = num("wall_seconds");
    end.tokens_per_second = end.wall_seconds > 0 ? num("tokens") / end.wall_seconds : 0;
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return end;
}

absl::StatusOr<AttemptEnd> LeaseStore::FailAttempt(const v1::FailAttemptRequest& req) {
  if (req.reason().empty()) return absl::InvalidArgumentError("reason: must not be empty");
  AttemptEnd end;
  absl::Status st = pool_->Transact("fail attempt", [&](pqxx::work& txn) -> absl::Status {
    auto locked = Lock(txn, req.attempt_id(), req.lease_token());
    if (!locked.ok()) return locked.status();
    end = AttemptEnd{};
    end.run_id = locked->run_id;
    end.sweep_id = locked->sweep_id;
    end.family = locked->family;
    end.sweep_may_be_done = !locked->others_queued;
    if (locked->outcome == "failed" || locked->outcome == "released" ||
        locked->outcome == "cancelled" || locked->outcome == "expired") {
      // Already ended (a repeated report, or the lease ran out first): nothing to do.
      end.already_recorded = true;
      return absl::OkStatus();
    }
    if (locked->outcome == "succeeded") {
      return absl::FailedPreconditionError("attempt " + std::to_string(req.attempt_id()) +
                                           " already succeeded; it cannot fail");
    }
    const bool live_run = locked->run_state == "leased" || locked->run_state == "running";
    const std::string error = req.reason() + ": " + req.message();
    if (req.reason() == "drained" || req.reason() == "cancelled") {
      txn.exec_prepared0(kEndAttempt.name, req.attempt_id(),
                         req.reason() == "drained" ? "released" : "cancelled", req.reason(),
                         req.message());
      if (live_run) {
        txn.exec_prepared0(kRequeueRun.name, locked->run_id, 0, int64_t{0}, error);
        end.will_retry = true;
      }
      return absl::OkStatus();
    }
    txn.exec_prepared0(kEndAttempt.name, req.attempt_id(), "failed", req.reason(), req.message());
    if (!live_run) return absl::OkStatus();
    const int failures = locked->failures + 1;
    if (IsPermanentFailure(req.reason()) || failures >= locked->max_attempts) {
      txn.exec_prepared0(kFailRun.name, locked->run_id, error);
      end.run_ended = true;
    } else {
      const double backoff = std::min<double>(
          static_cast<double>(settings_.max_backoff.count()),
          static_cast<double>(settings_.retry_backoff.count()) * std::pow(2.0, failures - 1));
      txn.exec_prepared0(kRequeueRun.name, locked->run_id, 1, static_cast<int64_t>(backoff), error);
      end.will_retry = true;
    }
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return end;
}

absl::StatusOr<LeaseStore::Expired> LeaseStore::ExpireLeases(int limit) {
  Expired out;
  absl::Status st = pool_->Transact("expire leases", [&](pqxx::work& txn) -> absl::Status {
    out = Expired{};
    for (const auto& row : txn.exec_prepared(kExpireLeases.name, limit)) {
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
  absl::Status st = pool_->Transact("extend live leases", [&](pqxx::work& txn) -> absl::Status {
    n = static_cast<int>(
        txn.exec_params0("UPDATE attempts SET lease_expires_at = "
                         "  GREATEST(lease_expires_at, now() + $1 * interval '1 millisecond') "
                         "WHERE outcome IS NULL",
                         static_cast<int64_t>(settings_.ttl.count()))
            .affected_rows());
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return n;
}

absl::StatusOr<int> LeaseStore::MarkSilentWorkersGone(std::chrono::milliseconds silence) {
  int n = 0;
  absl::Status st = pool_->Transact("mark gone workers", [&](pqxx::work& txn) -> absl::Status {
    n = static_cast<int>(
        txn.exec_prepared0(kMarkGone.name, static_cast<int64_t>(silence.count())).affected_rows());
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return n;
}

}  // namespace ladder::store
