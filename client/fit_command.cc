// ladder fit SWEEP: the latest fit of each family and form, with intervals;
// --history for every version (how the fit moved as the ladder climbed).
#include <iostream>

#include "client/commands.h"
#include "client/format.h"
#include "common/enums/enums.h"

namespace ladder::cli {
namespace {

void PrintFit(const v1::Fit& f) {
  std::cout << f.family() << " " << f.form() << " v" << f.version() << ": " << f.status();
  if (!f.reason().empty()) std::cout << " (" << f.reason() << ")";
  std::cout << "  runs " << f.runs_used();
  if (f.status() == "ok") {
    std::cout << "  rmse(log L) " << Sci(f.rmse_log_loss(), 3) << "  holdout error "
              << (std::isfinite(f.holdout_relative_error())
                      ? Sci(100 * f.holdout_relative_error(), 3) + "%"
                      : "-")
              << "  bootstrap " << f.bootstrap_resamples() << "  C " << f.flops_count();
  }
  std::cout << "\n";
  for (const auto& p : f.parameters()) {
    std::cout << "    " << p.name() << " = " << Sci(p.value().estimate(), 4);
    // On a bound the value is the bound's, not the data's: say so on the line.
    if (!p.at_bound().empty()) std::cout << " (on its " << p.at_bound() << " bound)";
    std::cout << "  [95%: " << Sci(p.value().lower(), 4) << ", " << Sci(p.value().upper(), 4)
              << "]\n";
  }
  PrintWarnings(f.warnings(), "    ");
}

}  // namespace

void AddFitCommand(CLI::App& app, CliContext& ctx, int* exit_code) {
  auto* cmd =
      app.add_subcommand("fit", "Show a sweep's fitted scaling laws with 95% bootstrap intervals");
  auto* sweep_id = new int64_t(0);
  auto* family = new std::string;
  auto* form = new std::string;
  auto* history = new bool(false);
  cmd->add_option("SWEEP", *sweep_id, "sweep id")->required();
  cmd->add_option("--family", *family, "only this family");
  cmd->add_option("--form", *form, "only this form (" + enums::NameList<enums::FitForm>() + ")");
  cmd->add_flag("--history", *history, "every version, oldest first");
  cmd->callback([&ctx, exit_code, sweep_id, family, form, history] {
    auto* stub = ctx.fits();
    if (!stub) {
      *exit_code = 2;
      return;
    }
    google::protobuf::RepeatedPtrField<v1::Fit> fits;
    grpc::Status st;
    if (*history) {
      v1::ListFitHistoryRequest req;
      req.set_sweep_id(*sweep_id);
      req.set_family(*family);
      req.set_form(*form);
      v1::ListFitHistoryResponse resp;
      st = stub->ListFitHistory(ctx.Call().get(), req, &resp);
      if (st.ok() && ctx.json()) std::cout << ToJson(resp) << "\n";
      fits = resp.fits();
    } else {
      v1::GetFitRequest req;
      req.set_sweep_id(*sweep_id);
      req.set_family(*family);
      req.set_form(*form);
      v1::GetFitResponse resp;
      st = stub->GetFit(ctx.Call().get(), req, &resp);
      if (st.ok() && ctx.json()) std::cout << ToJson(resp) << "\n";
      fits = resp.fits();
    }
    if (!st.ok()) {
      *exit_code = ctx.Fail(st, "fit " + std::to_string(*sweep_id));
      return;
    }
    if (!ctx.json()) {
      if (fits.empty()) std::cout << "no fits yet for sweep " << *sweep_id << "\n";
      for (const auto& f : fits) PrintFit(f);
    }
    *exit_code = 0;
  });
}

}  // namespace ladder::cli
