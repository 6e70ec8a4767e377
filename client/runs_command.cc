// ladder runs SWEEP: one line per run.
#include <cctype>
#include <iostream>

#include "client/commands.h"
#include "client/format.h"
#include "common/enums/proto_enums.h"

namespace ladder::cli {

void AddRunsCommand(CLI::App& app, CliContext& ctx, int* exit_code) {
  auto* cmd = app.add_subcommand("runs", "List a sweep's runs");
  auto* sweep_id = new int64_t(0);
  auto* state = new std::string;
  cmd->add_option("SWEEP", *sweep_id, "sweep id")->required();
  cmd->add_option("--state", *state,
                  "only runs in this state (" + enums::NameList<enums::RunState>() + ")");
  cmd->callback([&ctx, exit_code, sweep_id, state] {
    v1::ListRunsRequest req;
    req.set_sweep_id(*sweep_id);
    if (!state->empty()) {
      std::string lower;
      for (char c : *state) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      auto s = enums::Parse<enums::RunState>(lower);
      if (!s) {
        *exit_code = ctx.Usage("--state: unknown run state '" + *state + "' (expected " +
                               enums::NameList<enums::RunState>() + ")");
        return;
      }
      req.set_state(enums::ToProto(*s));
    }
    auto* stub = ctx.runs();
    if (!stub) {
      *exit_code = 2;
      return;
    }
    v1::ListRunsResponse resp;
    grpc::Status st = stub->ListRuns(ctx.Call().get(), req, &resp);
    if (!st.ok()) {
      *exit_code = ctx.Fail(st, "runs " + std::to_string(*sweep_id));
      return;
    }
    if (ctx.json()) {
      std::cout << ToJson(resp) << "\n";
    } else {
      std::vector<std::vector<std::string>> rows = {
          {"run", "#", "family", "shape", "N", "D", "C", "state", "try", "loss", "worker", "note"}};
      for (const auto& r : resp.runs()) {
        const bool done = r.state() == v1::RUN_STATE_SUCCEEDED;
        rows.push_back(
            {std::to_string(r.id()), std::to_string(r.ordinal()), r.family(), r.shape(),
             Si(r.planned_non_embedding_params()), Si(r.planned_tokens()), Sci(r.planned_flops()),
             StateName(r.state()), std::to_string(r.attempts()),
             done ? Sci(r.final_eval_loss(), 4)
                  : (std::isfinite(r.last_train_loss()) ? "~" + Sci(r.last_train_loss(), 4) : "-"),
             r.worker_name().empty() ? "-" : r.worker_name(),
             (r.simulated() ? std::string("SIMULATED ") : std::string()) + r.last_error()});
      }
      std::cout << Table(rows);
    }
    *exit_code = 0;
  });
}

}  // namespace ladder::cli
