// ladder cancel SWEEP
#include <iostream>

#include "client/commands.h"
#include "client/format.h"

namespace ladder::cli {

void AddCancelCommand(CLI::App& app, CliContext& ctx, int* exit_code) {
  auto* cmd =
      app.add_subcommand("cancel", "Cancel a sweep: queued runs are dropped, running ones stopped");
  auto* sweep_id = new int64_t(0);
  cmd->add_option("SWEEP", *sweep_id, "sweep id")->required();
  cmd->callback([&ctx, exit_code, sweep_id] {
    auto* stub = ctx.sweeps();
    if (!stub) {
      *exit_code = 2;
      return;
    }
    v1::CancelSweepRequest req;
    req.set_sweep_id(*sweep_id);
    v1::Sweep s;
    grpc::Status st = stub->CancelSweep(ctx.Call().get(), req, &s);
    if (!st.ok()) {
      *exit_code = ctx.Fail(st, "cancel " + std::to_string(*sweep_id));
      return;
    }
    if (ctx.json()) {
      std::cout << ToJson(s) << "\n";
    } else {
      std::cout << "sweep " << s.id() << " cancelled (" << s.counts().succeeded()
                << " runs had succeeded, " << s.counts().cancelled() << " cancelled)\n";
    }
    *exit_code = 0;
  });
}

}  // namespace ladder::cli
