#include "server/store/worker_store.h"

#include <absl/status/status.h>

#include <nlohmann/json.hpp>

namespace ladder::store {
namespace {

constexpr char kWorkerSelect[] =
    "SELECT w.id, w.name, w.hostname, w.state, w.devices::text, w.trainer, "
    "  (extract(epoch FROM w.registered_at) * 1000)::bigint, "
    "  (extract(epoch FROM w.last_heartbeat_at) * 1000)::bigint, "
    "  (SELECT count(*) FROM attempts a WHERE a.worker_id = w.id AND a.outcome IS NULL) "
    "FROM workers w ";

v1::Worker WorkerFromRow(const pqxx::row& row) {
  v1::Worker w;
  w.set_id(row[0].as<int64_t>());
  w.set_name(row[1].as<std::string>());
  w.set_hostname(row[2].as<std::string>());
  w.set_state(row[3].as<std::string>());
  for (const auto& d : nlohmann::json::parse(row[4].as<std::string>())) {
    v1::Device* dev = w.add_devices();
    dev->set_index(d.value("index", 0));
    dev->set_kind(d.value("kind", std::string()));
    dev->set_model(d.value("model", std::string()));
    dev->set_memory_bytes(d.value("memory_bytes", int64_t{0}));
    dev->set_threads(d.value("threads", 0));
  }
  w.set_trainer(row[5].as<std::string>());
  w.set_registered_unix_ms(row[6].as<int64_t>());
  w.set_last_heartbeat_unix_ms(row[7].as<int64_t>());
  w.set_running_attempts(row[8].as<int>());
  return w;
}

}  // namespace

absl::StatusOr<std::vector<v1::Worker>> WorkerStore::ListWorkers(bool include_gone) {
  std::vector<v1::Worker> out;
  absl::Status st = pool_->Transact("list workers", [&](pqxx::work& txn) -> absl::Status {
    std::string sql = kWorkerSelect;
    if (!include_gone) sql += "WHERE w.state <> 'gone' ";
    sql += "ORDER BY w.name";
    for (const auto& row : txn.exec(sql)) out.push_back(WorkerFromRow(row));
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return out;
}

absl::StatusOr<v1::Worker> WorkerStore::DrainWorker(int64_t worker_id) {
  v1::Worker out;
  absl::Status st = pool_->Transact("drain worker", [&](pqxx::work& txn) -> absl::Status {
    pqxx::result r =
        txn.exec_params("SELECT state FROM workers WHERE id = $1 FOR UPDATE", worker_id);
    if (r.empty())
      return absl::NotFoundError("worker_id: worker " + std::to_string(worker_id) +
                                 " does not exist");
    if (r[0][0].as<std::string>() == "gone") {
      return absl::FailedPreconditionError("worker " + std::to_string(worker_id) + " is gone");
    }
    txn.exec_params0("UPDATE workers SET state = 'draining' WHERE id = $1", worker_id);
    out =
        WorkerFromRow(txn.exec_params1(std::string(kWorkerSelect) + "WHERE w.id = $1", worker_id));
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return out;
}

absl::StatusOr<std::optional<std::string>> WorkerStore::WorkerName(int64_t worker_id) {
  std::optional<std::string> out;
  absl::Status st = pool_->Transact("worker name", [&](pqxx::work& txn) -> absl::Status {
    pqxx::result r = txn.exec_params("SELECT name FROM workers WHERE id = $1", worker_id);
    if (!r.empty()) out = r[0][0].as<std::string>();
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return out;
}

absl::StatusOr<std::optional<WorkerStore::AttemptOwner>> WorkerStore::AttemptWorker(
    int64_t attempt_id) {
  std::optional<AttemptOwner> out;
  absl::Status st = pool_->Transact("attempt worker", [&](pqxx::work& txn) -> absl::Status {
    pqxx::result r = txn.exec_params(
        "SELECT w.id, w.name FROM attempts a JOIN workers w ON w.id = a.worker_id WHERE a.id = $1",
        attempt_id);
    if (!r.empty()) out = AttemptOwner{r[0][0].as<int64_t>(), r[0][1].as<std::string>()};
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return out;
}

absl::StatusOr<int64_t> WorkerStore::LargestDeviceMemory(const std::string& device) {
  int64_t out = 0;
  absl::Status st = pool_->Transact("largest device", [&](pqxx::work& txn) -> absl::Status {
    out = txn.exec_params(
                 "SELECT COALESCE(max((d->>'memory_bytes')::bigint), 0) "
                 "FROM workers w, jsonb_array_elements(w.devices) d "
                 "WHERE w.state <> 'gone' AND ($1 = 'any' OR d->>'kind' = $1)",
                 device)[0][0]
              .as<int64_t>();
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return out;
}

}  // namespace ladder::store
