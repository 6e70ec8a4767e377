// ladder submit FILE: validates and stores a sweep; prints its id on stdout.
#include <iostream>

#include "client/commands.h"
#include "client/format.h"

namespace ladder::cli {

void AddSubmitCommand(CLI::App& app, CliContext& ctx, int* exit_code) {
  auto* cmd = app.add_subcommand("submit", "Submit a sweep file (YAML); prints the new sweep's id");
  auto* file = new std::string;
  auto* dry_run = new bool(false);
  cmd->add_option("FILE", *file, "sweep file, or - for stdin")->required();
  cmd->add_flag("--dry-run", *dry_run, "validate and show the runs without storing anything");
  cmd->callback([&ctx, exit_code, file, dry_run] {
    std::string yaml, error;
    if (!ReadInput(*file, &yaml, &error)) {
      *exit_code = ctx.Usage(error);
      return;
    }
    auto* stub = ctx.sweeps();
    if (!stub) {
      *exit_code = 2;
      return;
    }
    v1::CreateSweepRequest req;
    req.set_spec_yaml(yaml);
    req.set_dry_run(*dry_run);
    v1::CreateSweepResponse resp;
    grpc::Status st = stub->CreateSweep(ctx.Call().get(), req, &resp);
    if (!st.ok()) {
      *exit_code = ctx.Fail(st, "submit " + *file);
      return;
    }
    if (ctx.json()) {
      std::cout << ToJson(resp) << "\n";
    } else if (*dry_run) {
      std::vector<std::vector<std::string>> rows = {
          {"#", "family", "shape", "params", "tokens", "FLOPs", "memory"}};
      for (const auto& r : resp.runs()) {
        rows.push_back({std::to_string(r.ordinal()), r.family(), r.shape(),
                        Si(r.planned_non_embedding_params()), Si(r.planned_tokens()),
                        Sci(r.planned_flops()), Si(r.memory_bytes()) + "B"});
      }
      std::cout << Table(rows);
      std::cout << "dry run: " << resp.runs_size() << " runs, " << Sci(resp.sweep().planned_flops())
                << " FLOPs planned; nothing stored\n";
    } else {
      std::cout << resp.sweep().id() << "\n";
      std::cerr << "sweep " << resp.sweep().id() << " '" << resp.sweep().name()
                << "' submitted: " << resp.sweep().counts().total() << " runs, "
                << Sci(resp.sweep().planned_flops()) << " FLOPs planned\n";
    }
    *exit_code = 0;
  });
}

}  // namespace ladder::cli
