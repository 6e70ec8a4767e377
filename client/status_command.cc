// ladder status [SWEEP]: all sweeps, or one sweep's state and progress.
#include <iostream>

#include "client/commands.h"
#include "client/format.h"

namespace ladder::cli {
namespace {

std::string Counts(const v1::RunCounts& c) {
  return std::to_string(c.succeeded()) + "/" + std::to_string(c.total()) + " done, " +
         std::to_string(c.running() + c.leased()) + " running, " + std::to_string(c.queued()) +
         " queued, " + std::to_string(c.failed()) + " failed" +
         (c.cancelled() ? ", " + std::to_string(c.cancelled()) + " cancelled" : "");
}

}  // namespace

void AddStatusCommand(CLI::App& app, CliContext& ctx, int* exit_code) {
  auto* cmd = app.add_subcommand("status", "Show all sweeps, or one sweep's progress");
  auto* sweep_id = new int64_t(0);
  auto* active = new bool(false);
  cmd->add_option("SWEEP", *sweep_id, "sweep id");
  cmd->add_flag("--active", *active, "only active sweeps");
  cmd->callback([&ctx, exit_code, sweep_id, active] {
    auto* stub = ctx.sweeps();
    if (!stub) {
      *exit_code = 2;
      return;
    }
    if (*sweep_id == 0) {
      v1::ListSweepsRequest req;
      req.set_active_only(*active);
      v1::ListSweepsResponse resp;
      grpc::Status st = stub->ListSweeps(ctx.Call().get(), req, &resp);
      if (!st.ok()) {
        *exit_code = ctx.Fail(st, "status");
        return;
      }
      if (ctx.json()) {
        std::cout << ToJson(resp) << "\n";
      } else {
        std::vector<std::vector<std::string>> rows = {
            {"id", "name", "kind", "families", "state", "progress", "runs"}};
        for (const auto& s : resp.sweeps()) {
          std::string fams;
          for (const auto& f : s.families()) fams += (fams.empty() ? "" : ",") + f;
          rows.push_back({std::to_string(s.id()), s.name(), s.kind(), fams, StateName(s.state()),
                          Bar(s.progress(), 20), Counts(s.counts())});
        }
        std::cout << Table(rows);
      }
      *exit_code = 0;
      return;
    }
    v1::GetSweepRequest req;
    req.set_sweep_id(*sweep_id);
    v1::Sweep s;
    grpc::Status st = stub->GetSweep(ctx.Call().get(), req, &s);
    if (!st.ok()) {
      *exit_code = ctx.Fail(st, "status " + std::to_string(*sweep_id));
      return;
    }
    if (ctx.json()) {
      std::cout << ToJson(s) << "\n";
    } else {
      std::cout << "sweep " << s.id() << " '" << s.name() << "' (" << s.kind()
                << "): " << StateName(s.state()) << "\n  " << Bar(s.progress(), 40) << "  "
                << Counts(s.counts()) << "\n  FLOPs: " << Sci(s.done_flops()) << " done of "
                << Sci(s.planned_flops()) << " planned\n";
    }
    *exit_code = 0;
  });
}

}  // namespace ladder::cli
