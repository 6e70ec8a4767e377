// ladder workers [--all]; ladder drain WORKER
#include <iostream>

#include "client/commands.h"
#include "client/format.h"

namespace ladder::cli {

void AddWorkersCommand(CLI::App& app, CliContext& ctx, int* exit_code) {
  auto* list = app.add_subcommand("workers", "List worker daemons and their devices");
  auto* all = new bool(false);
  list->add_flag("--all", *all, "include workers that are gone");
  list->callback([&ctx, exit_code, all] {
    auto* stub = ctx.workers();
    if (!stub) {
      *exit_code = 2;
      return;
    }
    v1::ListWorkersRequest req;
    req.set_include_gone(*all);
    v1::ListWorkersResponse resp;
    grpc::Status st = stub->ListWorkers(ctx.Call().get(), req, &resp);
    if (!st.ok()) {
      *exit_code = ctx.Fail(st, "workers");
      return;
    }
    if (ctx.json()) {
      std::cout << ToJson(resp) << "\n";
    } else {
      const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::system_clock::now().time_since_epoch())
                              .count();
      std::vector<std::vector<std::string>> rows = {
          {"id", "name", "host", "state", "devices", "trainer", "running", "heartbeat"}};
      for (const auto& w : resp.workers()) {
        std::string devs;
        for (const auto& d : w.devices()) {
          devs += (devs.empty() ? "" : ", ") + d.kind() + ":" + std::to_string(d.index()) + " " +
                  d.model() + " " + Si(static_cast<double>(d.memory_bytes())) + "B";
        }
        rows.push_back({std::to_string(w.id()), w.name(), w.hostname(), w.state(), devs,
                        w.trainer(), std::to_string(w.running_attempts()),
                        Duration((now - w.last_heartbeat_unix_ms()) / 1000.0) + " ago"});
      }
      std::cout << Table(rows);
    }
    *exit_code = 0;
  });

  auto* drain = app.add_subcommand(
      "drain", "Ask a worker to drain: it finishes or releases its runs and stops");
  auto* worker_id = new int64_t(0);
  drain->add_option("WORKER", *worker_id, "worker id")->required();
  drain->callback([&ctx, exit_code, worker_id] {
    auto* stub = ctx.workers();
    if (!stub) {
      *exit_code = 2;
      return;
    }
    v1::DrainWorkerRequest req;
    req.set_worker_id(*worker_id);
    v1::Worker w;
    grpc::Status st = stub->DrainWorker(ctx.Call().get(), req, &w);
    if (!st.ok()) {
      *exit_code = ctx.Fail(st, "drain " + std::to_string(*worker_id));
      return;
    }
    if (ctx.json()) {
      std::cout << ToJson(w) << "\n";
    } else {
      std::cout << "worker " << w.id() << " (" << w.name() << ") is draining\n";
    }
    *exit_code = 0;
  });
}

}  // namespace ladder::cli
