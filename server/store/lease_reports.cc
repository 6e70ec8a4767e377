// The lease store's reports from live attempts: heartbeats and progress,
// written as group commits (one transaction and a fixed number of statements
// per batch, whatever its size). The single-call Heartbeat and ReportProgress
// are batches of one.
//
// Fencing is the single call's: an attempt's lease is extended, and its
// points stored, only when its id, lease token (and, for heartbeats, worker)
// match a live attempt; every row is checked in SQL, in the same statement
// that extends it, under a row lock. Rows are locked in id order (workers,
// then attempts, then runs, as expiry and completion lock them), so
// concurrent batches wait for each other instead of deadlocking. The locks
// are FOR NO KEY UPDATE, the ones the UPDATEs take anyway: the foreign-key
// checks of inserts that name a locked worker or attempt do not wait on them.
#include <absl/status/status.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/logging.h"
#include "common/protocol/bounded_json.h"
#include "server/store/lease_sql.h"
#include "server/store/lease_store.h"
#include "server/store/result_check.h"

namespace ladder::store {
namespace {

using nlohmann::json;

// Records the heartbeat of every listed worker ($1, distinct); returns the
// id and state of those that exist.
const PgStatement kHeartbeatWorkers(
    "heartbeat_workers",
    "WITH l AS (SELECT id FROM workers WHERE id = ANY($1::bigint[]) ORDER BY id FOR NO KEY UPDATE) "
    "UPDATE workers w SET last_heartbeat_at = " LADDER_NOW("$2") ", "
    "  state = CASE WHEN w.state = 'gone' THEN 'active' ELSE w.state END "
    "FROM l WHERE w.id = l.id RETURNING w.id, w.state");

// Extends the leases of the listed (attempt id, token, worker) triples that
// name a live attempt of that worker with that token; returns the 1-based
// positions of those in the lists.
const PgStatement kExtendLeases(
    "extend_leases",
    "WITH t AS (SELECT * FROM unnest($1::bigint[], $2::text[], $3::bigint[]) "
    "           WITH ORDINALITY AS t(id, token, worker_id, i)), "
    "l AS (SELECT t.i, a.id FROM attempts a "
    "      JOIN t ON a.id = t.id AND a.lease_token = t.token AND a.worker_id = t.worker_id "
    "      WHERE a.id = ANY($1::bigint[]) AND a.outcome IS NULL "
    "      ORDER BY a.id FOR NO KEY UPDATE OF a), "
    "u AS (UPDATE attempts a "
    "      SET lease_expires_at = " LADDER_NOW("$5") " + $4::bigint * interval '1 millisecond' "
    "      FROM (SELECT DISTINCT id FROM l) d WHERE a.id = d.id) "
    "SELECT i FROM l");

// Validates the leases of the listed reports (attempt id, token, started
// JSON or ''), extends the current ones and records the trainer's start
// (the batch's last one per attempt); returns the 1-based positions of the
// current reports with their runs.
const PgStatement kProgressAttempts(
    "progress_attempts",
    "WITH t AS (SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[]) "
    "           WITH ORDINALITY AS t(id, token, started, i)), "
    "l AS (SELECT a.id, a.run_id, a.lease_token FROM attempts a "
    "      WHERE a.id = ANY($1::bigint[]) AND a.outcome IS NULL ORDER BY a.id FOR NO KEY UPDATE), "
    "ok AS (SELECT t.i, t.id, t.started, l.run_id FROM t "
    "       JOIN l ON l.id = t.id AND l.lease_token = t.token), "
    "s AS (SELECT id, (array_agg(started ORDER BY i DESC) FILTER (WHERE started <> ''))[1] "
    "        AS started FROM ok GROUP BY id), "
    "u AS (UPDATE attempts a "
    "      SET lease_expires_at = " LADDER_NOW("$5") " + $4::bigint * interval '1 millisecond', "
    "        started_at = CASE WHEN s.started IS NOT NULL THEN COALESCE(a.started_at, now()) "
    "                          ELSE a.started_at END, "
    "        started = COALESCE(s.started::jsonb, a.started) "
    "      FROM s WHERE a.id = s.id) "
    "SELECT i, run_id FROM ok");

// Stores the points of a batch (distinct (run, step), in that order) while
// each run has room under the cap ($10 points; runs.curve_points counts what
// is stored; a step stored again replaces its point) and records each run's
// live progress ($11..$14, one row per run, covering every run of $1).
// Returns each run with how many of its points were stored.
const PgStatement kStoreProgress(
    "store_progress",
    "WITH p AS (SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[], "
    "             $5::float8[], $6::float8[], $7::float8[], $8::float8[], $9::float8[]) "
    "           AS p(run_id, step, attempt_id, tokens, flops, train_loss, eval_loss, lr, "
    "                tokens_per_second)), "
    "g AS (SELECT * FROM unnest($11::bigint[], $12::bigint[], $13::float8[], $14::float8[]) "
    "      AS g(run_id, tokens, loss, tps)), "
    "room AS (SELECT r.id, GREATEST($10::bigint - r.curve_points, 0) AS n "
    "         FROM runs r JOIN g ON g.run_id = r.id), "
    "ins AS ("
    "  INSERT INTO curve_points (run_id, step, attempt_id, tokens, flops, train_loss, eval_loss, "
    "    lr, tokens_per_second) "
    "  SELECT q.run_id, q.step, q.attempt_id, q.tokens, q.flops, q.train_loss, q.eval_loss, q.lr, "
    "    q.tokens_per_second "
    "  FROM (SELECT p.*, row_number() OVER (PARTITION BY p.run_id ORDER BY p.step) AS k FROM p) q "
    "  JOIN room ON room.id = q.run_id WHERE q.k <= room.n ORDER BY q.run_id, q.step "
    "  ON CONFLICT (run_id, step) DO UPDATE SET attempt_id = excluded.attempt_id, "
    "    tokens = excluded.tokens, flops = excluded.flops, train_loss = excluded.train_loss, "
    "    eval_loss = excluded.eval_loss, lr = excluded.lr, "
    "    tokens_per_second = excluded.tokens_per_second "
    "  RETURNING run_id, (xmax = 0) AS inserted), "
    "c AS (SELECT run_id, count(*) AS stored, count(*) FILTER (WHERE inserted) AS added "
    "      FROM ins GROUP BY run_id) "
    "UPDATE runs r SET curve_points = r.curve_points + COALESCE(c.added, 0), "
    "  state = CASE WHEN r.state IN ('leased', 'running') THEN 'running' ELSE r.state END, "
    "  updated_at = CASE WHEN r.state IN ('leased', 'running') THEN now() ELSE r.updated_at END, "
    "  tokens_done = CASE WHEN r.state IN ('leased', 'running') AND g.tokens >= 0 "
    "                     THEN g.tokens ELSE r.tokens_done END, "
    "  last_train_loss = CASE WHEN r.state IN ('leased', 'running') "
    "                         THEN COALESCE(g.loss, r.last_train_loss) ELSE r.last_train_loss END, "
    "  tokens_per_second = CASE WHEN r.state IN ('leased', 'running') "
    "                      THEN COALESCE(g.tps, r.tokens_per_second) ELSE r.tokens_per_second END "
    "FROM g LEFT JOIN c ON c.run_id = g.run_id WHERE r.id = g.run_id "
    "RETURNING r.id, COALESCE(c.stored, 0)");

// A float8[] element: the value, or NULL when absent or not finite.
std::string Float8Text(std::optional<double> v) {
  if (!v || !std::isfinite(*v)) return "NULL";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", *v);
  return buf;
}

std::string Float8ArrayLiteral(const std::vector<std::optional<double>>& values) {
  std::string out = "{";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i) out += ',';
    out += Float8Text(values[i]);
  }
  return out + "}";
}

std::optional<double> FiniteOrNull(double v) {
  return std::isfinite(v) ? std::optional<double>(v) : std::nullopt;
}

struct Point {
  int64_t tokens = 0;
  double flops = 0;
  std::optional<double> train_loss, eval_loss, lr, tokens_per_second;
};

// A progress report checked and reduced to what is stored.
struct Report {
  const v1::ReportProgressRequest* request = nullptr;
  std::string started;             // normalized JSON, or "" (none)
  std::map<int64_t, Point> steps;  // one point per step, the last reported
  int64_t last_tokens = -1;        // of the highest step; -1: no points
  std::optional<double> last_loss, last_tps;
};

// Checks the report the way a single ReportProgress always has; the error
// names the field at fault.
absl::Status Prepare(const v1::ReportProgressRequest& req, const LeaseSettings& settings,
                     Report* out) {
  out->request = &req;
  if (!req.started_json().empty()) {
    std::string parse_error;
    std::optional<json> parsed = protocol::ParseBoundedJson(req.started_json(), &parse_error);
    if (!parsed) return absl::InvalidArgumentError("started_json: " + parse_error);
    json& s = *parsed;
    if (!s.is_object()) return absl::InvalidArgumentError("started_json: is not a JSON object");
    ReplaceNulCharacters(s);
    out->started = StorableDump(s);
  }
  if (req.points_size() > settings.max_points_per_report) {
    return absl::InvalidArgumentError("points: " + std::to_string(req.points_size()) +
                                      " in one report, more than the limit of " +
                                      std::to_string(settings.max_points_per_report));
  }
  int64_t last_step = -1;
  for (int i = 0; i < req.points_size(); ++i) {
    const auto& p = req.points(i);
    const std::string at = "points[" + std::to_string(i) + "].";
    if (p.step() < 0) return absl::InvalidArgumentError(at + "step: must not be negative");
    if (p.tokens() < 0) return absl::InvalidArgumentError(at + "tokens: must not be negative");
    if (!std::isfinite(p.flops()) || p.flops() < 0)
      return absl::InvalidArgumentError(at + "flops: must be finite and not negative");
    Point& point = out->steps[p.step()];
    point.tokens = p.tokens();
    point.flops = p.flops();
    point.train_loss = FiniteOrNull(p.train_loss());
    point.eval_loss = p.has_eval_loss() ? FiniteOrNull(p.eval_loss()) : std::nullopt;
    point.lr = FiniteOrNull(p.lr());
    point.tokens_per_second = FiniteOrNull(p.tokens_per_second());
    if (p.step() >= last_step) {
      last_step = p.step();
      out->last_tokens = p.tokens();
      if (std::isfinite(p.train_loss())) out->last_loss = p.train_loss();
      if (std::isfinite(p.tokens_per_second())) out->last_tps = p.tokens_per_second();
    }
  }
  return absl::OkStatus();
}

// A batch the database refused as a whole is answered one request at a
// time, so that one bad request cannot fail the others; UNAVAILABLE (the
// database is away) would fail each alone as well, and is answered at once.
bool RetryAlone(const absl::Status& st, size_t batch) {
  return batch > 1 && !st.ok() && st.code() != absl::StatusCode::kUnavailable;
}

}  // namespace

absl::StatusOr<v1::HeartbeatResponse> LeaseStore::Heartbeat(const v1::HeartbeatRequest& req) {
  return std::move(Heartbeats({&req})[0]);
}

std::vector<absl::StatusOr<v1::HeartbeatResponse>> LeaseStore::Heartbeats(
    const std::vector<const v1::HeartbeatRequest*>& requests) {
  std::vector<absl::StatusOr<v1::HeartbeatResponse>> out(requests.size(), v1::HeartbeatResponse{});
  if (requests.empty()) return out;
  std::vector<int64_t> workers;
  for (const auto* r : requests) workers.push_back(r->worker_id());
  std::sort(workers.begin(), workers.end());
  workers.erase(std::unique(workers.begin(), workers.end()), workers.end());
  const Now now(clock_);
  // Filled in the transaction (reset on a retry of it).
  std::vector<std::optional<absl::Status>> refused(requests.size());
  std::vector<v1::HeartbeatResponse> answers(requests.size());
  absl::Status st = pool_->Transact("heartbeat", [&](pqxx::work& txn) -> absl::Status {
    std::map<int64_t, std::string> state;  // of the workers that exist
    for (const auto& row :
         txn.exec_prepared(kHeartbeatWorkers.name, PgArrayLiteral(workers), now.get())) {
      state[row[0].as<int64_t>()] = row[1].as<std::string>();
    }
    std::vector<int64_t> ids, owners;
    std::vector<std::string> tokens;
    for (size_t i = 0; i < requests.size(); ++i) {
      const v1::HeartbeatRequest& req = *requests[i];
      answers[i] = v1::HeartbeatResponse{};
      refused[i].reset();
      const auto w = state.find(req.worker_id());
      if (w == state.end()) {
        refused[i] = absl::NotFoundError("worker_id: worker " + std::to_string(req.worker_id()) +
                                         " is not registered");
        continue;
      }
      answers[i].set_drain(w->second == "draining");
      for (const auto& a : req.attempts()) {
        ids.push_back(a.attempt_id());
        tokens.push_back(a.lease_token());
        owners.push_back(req.worker_id());
      }
    }
    std::vector<bool> extended(ids.size(), false);
    if (!ids.empty()) {
      for (const auto& row : txn.exec_prepared(
               kExtendLeases.name, PgArrayLiteral(ids), PgArrayLiteral(tokens),
               PgArrayLiteral(owners), static_cast<int64_t>(settings_.ttl.count()), now.get())) {
        extended[static_cast<size_t>(row[0].as<int64_t>() - 1)] = true;
      }
    }
    size_t k = 0;  // position in ids: the attempts of the known workers, in request order
    for (size_t i = 0; i < requests.size(); ++i) {
      if (refused[i]) continue;
      for (const auto& a : requests[i]->attempts()) {
        if (!extended[k++]) answers[i].add_revoked_attempt_ids(a.attempt_id());
      }
    }
    return absl::OkStatus();
  });
  if (RetryAlone(st, requests.size())) {
    for (size_t i = 0; i < requests.size(); ++i) out[i] = std::move(Heartbeats({requests[i]})[0]);
    return out;
  }
  for (size_t i = 0; i < requests.size(); ++i) {
    if (!st.ok()) {
      out[i] = st;
    } else if (refused[i]) {
      out[i] = *refused[i];
    } else {
      out[i] = std::move(answers[i]);
    }
  }
  return out;
}

absl::StatusOr<v1::ReportProgressResponse> LeaseStore::ReportProgress(
    const v1::ReportProgressRequest& req) {
  return std::move(ReportProgresses({&req})[0]);
}

std::vector<absl::StatusOr<v1::ReportProgressResponse>> LeaseStore::ReportProgresses(
    const std::vector<const v1::ReportProgressRequest*>& requests) {
  std::vector<absl::StatusOr<v1::ReportProgressResponse>> out(requests.size(),
                                                              v1::ReportProgressResponse{});
  // Bad reports are answered before the transaction, and only they.
  std::vector<Report> reports;
  std::vector<size_t> position;  // of each report in `requests`
  for (size_t i = 0; i < requests.size(); ++i) {
    Report r;
    absl::Status bad = Prepare(*requests[i], settings_, &r);
    if (!bad.ok()) {
      out[i] = bad;
      continue;
    }
    reports.push_back(std::move(r));
    position.push_back(i);
  }
  if (reports.empty()) return out;

  std::vector<int64_t> ids;
  std::vector<std::string> tokens, started;
  for (const Report& r : reports) {
    ids.push_back(r.request->attempt_id());
    tokens.push_back(r.request->lease_token());
    started.push_back(r.started);
  }
  const Now now(clock_);
  std::vector<bool> current(reports.size());
  std::map<int64_t, int64_t> offered, stored;  // points per run
  absl::Status st = pool_->Transact("report progress", [&](pqxx::work& txn) -> absl::Status {
    std::fill(current.begin(), current.end(), false);
    offered.clear();
    stored.clear();
    std::vector<int64_t> run_of(reports.size(), 0);
    for (const auto& row : txn.exec_prepared(
             kProgressAttempts.name, PgArrayLiteral(ids), PgArrayLiteral(tokens),
             PgArrayLiteral(started), static_cast<int64_t>(settings_.ttl.count()), now.get())) {
      const size_t k = static_cast<size_t>(row[0].as<int64_t>() - 1);
      current[k] = true;
      run_of[k] = row[1].as<int64_t>();
    }
    // One point per (run, step), the batch's last report winning (ON
    // CONFLICT cannot touch a row twice in one statement), and one row of
    // live progress per run, merged in report order.
    struct Live {
      int64_t tokens = -1;
      std::optional<double> loss, tps;
    };
    std::map<std::pair<int64_t, int64_t>, std::pair<int64_t, const Point*>> points;
    std::map<int64_t, Live> live;
    for (size_t k = 0; k < reports.size(); ++k) {
      if (!current[k]) continue;
      const Report& r = reports[k];
      for (const auto& [step, p] : r.steps)
        points[{run_of[k], step}] = {r.request->attempt_id(), &p};
      Live& l = live[run_of[k]];
      if (r.last_tokens >= 0) l.tokens = r.last_tokens;
      if (r.last_loss) l.loss = r.last_loss;
      if (r.last_tps) l.tps = r.last_tps;
    }
    if (live.empty()) return absl::OkStatus();
    std::vector<int64_t> p_run, p_step, p_attempt, p_tokens;
    std::vector<std::optional<double>> p_flops, p_loss, p_eval, p_lr, p_tps;
    for (const auto& [key, value] : points) {
      p_run.push_back(key.first);
      p_step.push_back(key.second);
      p_attempt.push_back(value.first);
      const Point& p = *value.second;
      p_tokens.push_back(p.tokens);
      p_flops.push_back(p.flops);
      p_loss.push_back(p.train_loss);
      p_eval.push_back(p.eval_loss);
      p_lr.push_back(p.lr);
      p_tps.push_back(p.tokens_per_second);
      ++offered[key.first];
    }
    std::vector<int64_t> g_run, g_tokens;
    std::vector<std::optional<double>> g_loss, g_tps;
    for (const auto& [run, l] : live) {
      g_run.push_back(run);
      g_tokens.push_back(l.tokens);
      g_loss.push_back(l.loss);
      g_tps.push_back(l.tps);
    }
    for (const auto& row : txn.exec_prepared(
             kStoreProgress.name, PgArrayLiteral(p_run), PgArrayLiteral(p_step),
             PgArrayLiteral(p_attempt), PgArrayLiteral(p_tokens), Float8ArrayLiteral(p_flops),
             Float8ArrayLiteral(p_loss), Float8ArrayLiteral(p_eval), Float8ArrayLiteral(p_lr),
             Float8ArrayLiteral(p_tps), settings_.max_curve_points, PgArrayLiteral(g_run),
             PgArrayLiteral(g_tokens), Float8ArrayLiteral(g_loss), Float8ArrayLiteral(g_tps))) {
      stored[row[0].as<int64_t>()] = row[1].as<int64_t>();
    }
    return absl::OkStatus();
  });
  if (RetryAlone(st, reports.size())) {
    for (size_t k = 0; k < reports.size(); ++k)
      out[position[k]] = std::move(ReportProgresses({reports[k].request})[0]);
    return out;
  }
  for (size_t k = 0; k < reports.size(); ++k) {
    if (!st.ok()) {
      out[position[k]] = st;
    } else if (!current[k]) {
      v1::ReportProgressResponse revoked;
      revoked.set_revoked(true);
      out[position[k]] = std::move(revoked);
    }
  }
  if (st.ok()) {
    for (const auto& [run, n] : offered) {
      const int64_t dropped = n - stored[run];
      if (dropped > 0) {
        LOG_WARN << "run " << run << ": " << dropped << " curve point(s) not stored: the run has "
                 << settings_.max_curve_points << " (the cap per run)";
      }
    }
  }
  return out;
}

}  // namespace ladder::store
