#include "server/store/fit_store.h"

#include <absl/status/status.h>

#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>

namespace ladder::store {
namespace {

using nlohmann::json;

constexpr char kFitColumns[] =
    "SELECT f.id, f.sweep_id, f.version, (extract(epoch FROM f.created_at) * 1000)::bigint, "
    "f.family, f.form, "
    "  f.status, COALESCE(f.reason, ''), f.parameters::text, f.details::text, f.runs_used, "
    "  f.rmse_log_loss, f.holdout_relative_error, f.bootstrap_resamples, f.fit_seconds, "
    "f.flops_count, "
    "  f.max_trained_flops "
    "FROM fits f ";

json NumberOrNull(const pqxx::field& f) {
  return f.is_null() ? json(nullptr) : json(f.as<double>());
}

FitRow FitFromRow(const pqxx::row& row) {
  FitRow out;
  out.id = row[0].as<int64_t>();
  out.sweep_id = row[1].as<int64_t>();
  out.version = row[2].as<int>();
  out.created_unix_ms = row[3].as<int64_t>();
  out.fit = {{"family", row[4].as<std::string>()},
             {"form", row[5].as<std::string>()},
             {"status", row[6].as<std::string>()},
             {"reason", row[7].as<std::string>()},
             {"parameters", json::parse(row[8].as<std::string>())},
             {"details", json::parse(row[9].as<std::string>())},
             {"runs_used", row[10].as<int>()},
             {"rmse_log_loss", NumberOrNull(row[11])},
             {"holdout_relative_error", NumberOrNull(row[12])},
             {"bootstrap_resamples", row[13].as<int>()},
             {"fit_seconds", row[14].as<double>()},
             {"flops_count", row[15].as<std::string>()},
             {"max_trained_flops", NumberOrNull(row[16])}};
  return out;
}

absl::Status ReadFits(pqxx::work&, pqxx::result rows, std::vector<FitRow>* out) {
  for (const auto& row : rows) out->push_back(FitFromRow(row));
  return absl::OkStatus();
}

double OrNan(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_number() ? it->get<double>() : NAN;
}

}  // namespace

absl::StatusOr<std::vector<ObservationRow>> FitStore::LoadObservations(int64_t sweep_id,
                                                                       bool with_curves) {
  std::vector<ObservationRow> out;
  absl::Status st = pool_->Transact("load observations", [&](pqxx::work& txn) -> absl::Status {
    out.clear();
    std::map<int64_t, size_t> index;
    for (const auto& row : txn.exec_params(
             "SELECT id, family, non_embedding_params, tokens, flops, flops_6nd, final_eval_loss, "
             "  COALESCE(unique_tokens, 0), COALESCE((config->'plan'->>'budget')::float8, 0), "
             // Runs without corpus_tokens (imported, or from before it): one
             // that went past an epoch saw the whole corpus, so its
             // unique_tokens is the corpus; one that did not (unique_tokens =
             // tokens, fresh data) says nothing of the corpus: unknown.
             "  COALESCE(corpus_tokens, CASE WHEN unique_tokens < tokens "
             "    THEN unique_tokens END, 0) "
             "FROM runs WHERE sweep_id = $1 AND state = 'succeeded' ORDER BY ordinal",
             sweep_id)) {
      ObservationRow o;
      o.run_id = row[0].as<int64_t>();
      o.family = row[1].as<std::string>();
      o.params = row[2].is_null() ? 0 : row[2].as<double>();
      o.tokens = row[3].is_null() ? 0 : row[3].as<double>();
      o.flops = row[4].is_null() ? 0 : row[4].as<double>();
      o.flops_6nd = row[5].is_null() ? 0 : row[5].as<double>();
      o.loss = row[6].is_null() ? NAN : row[6].as<double>();
      o.unique_tokens = row[7].as<double>();
      o.budget = row[8].as<double>();
      o.corpus_tokens = row[9].as<double>();
      index[o.run_id] = out.size();
      out.push_back(std::move(o));
    }
    if (with_curves && !out.empty()) {
      for (const auto& row : txn.exec_params(
               "SELECT c.run_id, c.tokens, c.flops, c.eval_loss FROM curve_points c JOIN runs r ON "
               "r.id = c.run_id "
               "WHERE r.sweep_id = $1 AND r.state = 'succeeded' AND c.eval_loss IS NOT NULL "
               "ORDER BY c.run_id, c.step",
               sweep_id)) {
        auto it = index.find(row[0].as<int64_t>());
        if (it == index.end()) continue;
        out[it->second].curve.push_back(
            {row[1].as<double>(), row[2].as<double>(), row[3].as<double>()});
      }
    }
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return out;
}

absl::StatusOr<FitRow> FitStore::StoreFit(int64_t sweep_id, const json& j) {
  const auto num = [&](const char* k) -> std::optional<double> {
    const double v = OrNan(j, k);
    return std::isfinite(v) ? std::optional<double>(v) : std::nullopt;
  };
  FitRow out;
  absl::Status st = pool_->Transact("store fit", [&](pqxx::work& txn) -> absl::Status {
    // Serialises version numbering per sweep across coordinators.
    txn.exec_params("SELECT pg_advisory_xact_lock(7340033, $1::int)",
                    static_cast<int>(sweep_id & 0x7fffffff));
    const auto rmse = num("rmse_log_loss");
    const auto holdout = num("holdout_relative_error");
    const auto max_flops = num("max_trained_flops");
    auto row = txn.exec_params1(
        "INSERT INTO fits (sweep_id, family, form, version, status, reason, parameters, details, "
        "runs_used, "
        "  rmse_log_loss, holdout_relative_error, bootstrap_resamples, fit_seconds, flops_count, "
        "  max_trained_flops) "
        "SELECT $1, $2, $3, COALESCE(max(version), 0) + 1, $4, NULLIF($5, ''), $6::jsonb, "
        "$7::jsonb, $8, "
        "  NULLIF($9, '')::float8, NULLIF($10, '')::float8, $11, $12, $13, NULLIF($14, '')::float8 "
        "FROM fits WHERE sweep_id = $1 AND family = $2 AND form = $3 "
        "RETURNING id",
        sweep_id, j.value("family", std::string()), j.value("form", std::string()),
        j.value("status", std::string()), j.value("reason", std::string()), j["parameters"].dump(),
        j["details"].dump(), j.value("runs_used", 0), rmse ? pqxx::to_string(*rmse) : std::string(),
        holdout ? pqxx::to_string(*holdout) : std::string(), j.value("bootstrap_resamples", 0),
        j.value("fit_seconds", 0.0), j.value("flops_count", std::string("exact")),
        max_flops ? pqxx::to_string(*max_flops) : std::string());
    const int64_t id = row[0].as<int64_t>();
    std::vector<FitRow> fits;
    absl::Status s =
        ReadFits(txn, txn.exec_params(std::string(kFitColumns) + "WHERE f.id = $1", id), &fits);
    if (!s.ok()) return s;
    out = fits.at(0);
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return out;
}

absl::StatusOr<std::vector<FitRow>> FitStore::LatestFits(int64_t sweep_id,
                                                         const std::string& family,
                                                         const std::string& form) {
  std::vector<FitRow> out;
  absl::Status st = pool_->Transact("latest fits", [&](pqxx::work& txn) -> absl::Status {
    out.clear();
    return ReadFits(
        txn,
        txn.exec_params(
            std::string(kFitColumns) +
                "WHERE f.id IN (SELECT DISTINCT ON (family, form) id FROM fits "
                "  WHERE sweep_id = $1 AND ($2 = '' OR family = $2) AND ($3 = '' OR form = $3) "
                "  ORDER BY family, form, version DESC) "
                "ORDER BY f.family, f.form",
            sweep_id, family, form),
        &out);
  });
  if (!st.ok()) return st;
  return out;
}

absl::StatusOr<std::vector<FitRow>> FitStore::FitHistory(int64_t sweep_id,
                                                         const std::string& family,
                                                         const std::string& form) {
  std::vector<FitRow> out;
  absl::Status st = pool_->Transact("fit history", [&](pqxx::work& txn) -> absl::Status {
    out.clear();
    return ReadFits(
        txn,
        txn.exec_params(
            std::string(kFitColumns) +
                "WHERE f.sweep_id = $1 AND ($2 = '' OR f.family = $2) AND ($3 = '' OR f.form = $3) "
                "ORDER BY f.id",
            sweep_id, family, form),
        &out);
  });
  if (!st.ok()) return st;
  return out;
}

absl::StatusOr<std::vector<FitRow>> FitStore::FitsAfter(int64_t sweep_id, int64_t after_id) {
  std::vector<FitRow> out;
  absl::Status st = pool_->Transact("fits after", [&](pqxx::work& txn) -> absl::Status {
    out.clear();
    return ReadFits(txn,
                    txn.exec_params(std::string(kFitColumns) +
                                        "WHERE f.sweep_id = $1 AND f.id > $2 ORDER BY f.id",
                                    sweep_id, after_id),
                    &out);
  });
  if (!st.ok()) return st;
  return out;
}

absl::StatusOr<std::vector<int64_t>> FitStore::SweepsNeedingRefit() {
  std::vector<int64_t> out;
  absl::Status st = pool_->Transact("sweeps needing refit", [&](pqxx::work& txn) -> absl::Status {
    out.clear();
    for (const auto& row :
         txn.exec("SELECT r.sweep_id FROM runs r WHERE r.state = 'succeeded' GROUP BY r.sweep_id "
                  "HAVING max(r.finished_at) > COALESCE((SELECT max(created_at) FROM fits f WHERE "
                  "f.sweep_id = r.sweep_id), "
                  "  '-infinity') ORDER BY r.sweep_id")) {
      out.push_back(row[0].as<int64_t>());
    }
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return out;
}

}  // namespace ladder::store
