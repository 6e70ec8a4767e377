#include "server/store/stats_store.h"

namespace ladder::store {

absl::StatusOr<SchedulingSnapshot> StatsStore::ReadSnapshot(int recent_seconds) {
  SchedulingSnapshot s;
  absl::Status st = pool_->Transact("read snapshot", [&](pqxx::work& txn) -> absl::Status {
    s = SchedulingSnapshot{};
    for (const auto& row : txn.exec_params(
             "SELECT r.sweep_id::text, r.state, count(*) FROM runs r JOIN sweeps w ON w.id = "
             "r.sweep_id "
             "WHERE w.state = 'active' OR w.finished_at > now() - $1 * interval '1 second' "
             "GROUP BY r.sweep_id, r.state",
             recent_seconds)) {
      s.runs_by_sweep.push_back(
          {row[0].as<std::string>(), row[1].as<std::string>(), row[2].as<double>()});
    }
    s.queue_depth = txn.exec("SELECT count(*) FROM runs WHERE state = 'queued'")[0][0].as<double>();
    for (const auto& row : txn.exec("SELECT state, count(*) FROM workers GROUP BY state")) {
      s.workers_by_state[row[0].as<std::string>()] = row[1].as<double>();
    }
    for (const auto& row :
         txn.exec("SELECT sweep_id::text, id::text, family, COALESCE(tokens_per_second, 0), "
                  "  COALESCE(tokens_per_second, 0) * planned_flops / GREATEST(planned_tokens, 1) "
                  "FROM runs WHERE state = 'running'")) {
      s.running.push_back({row[0].as<std::string>(), row[1].as<std::string>(),
                           row[2].as<std::string>(), row[3].as<double>(), row[4].as<double>()});
    }
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return s;
}

}  // namespace ladder::store
