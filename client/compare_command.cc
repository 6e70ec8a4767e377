// ladder compare SWEEP --base lstm --family transformer [--form F]: the
// compute-equivalent gain CEG(C) of one family over a baseline, as a curve.
#include <iostream>

#include "client/commands.h"
#include "client/format.h"
#include "common/enums/enums.h"

namespace ladder::cli {

void AddCompareCommand(CLI::App& app, CliContext& ctx, int* exit_code) {
  auto* cmd = app.add_subcommand(
      "compare",
      "Compute-equivalent gain of a family over a baseline: CEG(C) = L_base^-1(L_family(C)) / C");
  auto* sweep_id = new int64_t(0);
  auto *base = new std::string, *family = new std::string;
  auto *min_c = new double(0), *max_c = new double(0);
  auto* points = new int(9);
  cmd->add_option("SWEEP", *sweep_id, "sweep id")->required();
  cmd->add_option("--base", *base, "baseline family S (e.g. lstm)")->required();
  cmd->add_option("--family", *family, "family T (e.g. transformer)")->required();
  cmd->add_option("--min-compute", *min_c, "smallest C (default: smallest trained)");
  cmd->add_option("--max-compute", *max_c, "largest C (default: largest trained)");
  cmd->add_option("--points", *points, "points on the curve")->capture_default_str();
  auto* form = new std::string;
  cmd->add_option("--form", *form,
                  "compare both families' fits of this form (" + enums::NameList<enums::FitForm>() +
                      "; default: the first both have)");
  cmd->callback([&ctx, exit_code, sweep_id, base, family, min_c, max_c, points, form] {
    auto* stub = ctx.fits();
    if (!stub) {
      *exit_code = 2;
      return;
    }
    v1::CompareFamiliesRequest req;
    req.set_sweep_id(*sweep_id);
    req.set_base_family(*base);
    req.set_family(*family);
    req.set_min_compute(*min_c);
    req.set_max_compute(*max_c);
    req.set_points(*points);
    req.set_form(*form);
    v1::CompareFamiliesResponse resp;
    grpc::Status st = stub->CompareFamilies(ctx.Call().get(), req, &resp);
    if (!st.ok()) {
      *exit_code = ctx.Fail(st, "compare");
      return;
    }
    if (ctx.json()) {
      std::cout << ToJson(resp) << "\n";
    } else {
      std::cout << "compute-equivalent gain of " << *family << " over " << *base << " ("
                << resp.form() << " fits " << resp.fit_id() << " vs " << resp.base_fit_id()
                << "):\n";
      std::vector<std::vector<std::string>> rows = {
          {"C (FLOPs)", "CEG", "95% interval", "extrapolation"}};
      for (const auto& p : resp.points()) {
        rows.push_back(
            {Sci(p.compute()), Sci(p.gain().estimate(), 3),
             "[" + Sci(p.gain().lower(), 3) + ", " + Sci(p.gain().upper(), 3) + "]",
             p.extrapolation_factor() > 1.0 ? Sci(p.extrapolation_factor(), 3) + "x" : "in range"});
      }
      std::cout << Table(rows);
      PrintWarnings(resp.warnings());
    }
    *exit_code = 0;
  });
}

}  // namespace ladder::cli
