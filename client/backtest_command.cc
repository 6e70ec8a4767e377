// ladder backtest SWEEP [--family F] [--form F] [--json] [--plot FILE.svg]:
// how far the sweep's ladder can be trusted. For each family and compute cut,
// the form refitted on the runs up to the cut predicts every later run; the
// table shows each prediction's error and whether its 95% interval covered
// the measured loss, then errors and coverage by extrapolation factor.
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>

#include "client/commands.h"
#include "client/format.h"
#include "client/svg_scatter.h"

namespace ladder::cli {
namespace {

// A backtest refits the ladder once per cut: far longer than a query. Without
// an explicit --timeout the call may take this long.
constexpr std::chrono::minutes kDefaultTimeout{10};

struct BacktestOptions {
  int64_t sweep_id = 0;
  std::string family;
  std::string form;
  std::string plot;  // FILE.svg, or "" for none
};

std::string Percent(double fraction, int decimals = 2, bool sign = false) {
  if (!std::isfinite(fraction)) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, sign ? "%+.*f" : "%.*f", decimals, 100 * fraction);
  return buf;
}

std::string Factor(double f) { return Sci(f, 3) + "x"; }

void PrintCut(const v1::BacktestCut& cut) {
  std::cout << "\n"
            << cut.family() << ", cut C <= " << Sci(cut.cut_compute()) << " (" << cut.runs_fitted()
            << " runs fitted): " << cut.status();
  if (!cut.reason().empty()) std::cout << " (" << cut.reason() << ")";
  std::cout << "\n";
  if (cut.predictions().empty()) return;
  // "covered": the measured loss lies in the one-run interval (the law's
  // uncertainty plus the scatter of single runs about it).
  std::vector<std::vector<std::string>> rows = {
      {"  factor", "actual", "predicted", "law 95%", "one run 95%", "error %", "covered"}};
  auto band = [](const v1::Interval& i) {
    return "[" + Sci(i.lower(), 4) + ", " + Sci(i.upper(), 4) + "]";
  };
  for (const auto& p : cut.predictions()) {
    rows.push_back({"  " + Factor(p.extrapolation_factor()), Sci(p.actual_loss(), 4),
                    Sci(p.predicted_loss().estimate(), 4), band(p.predicted_loss()),
                    band(p.run_loss()), Percent(p.relative_error(), 2, true),
                    p.covered() ? "y" : "n"});
  }
  std::cout << Table(rows);
}

void PrintSummary(const v1::BacktestResponse& r) {
  std::cout << "\nby extrapolation factor:\n";
  std::vector<std::vector<std::string>> rows = {
      {"  factor", "n", "mean |err| %", "max |err| %", "bias %", "coverage %"}};
  for (const auto& b : r.by_factor()) {
    rows.push_back({"  " + Sci(b.min_factor(), 3) + "-" + Factor(b.max_factor()),
                    std::to_string(b.predictions()), Percent(b.mean_abs_relative_error()),
                    Percent(b.max_abs_relative_error()), Percent(b.mean_relative_error(), 2, true),
                    Percent(b.coverage(), 0)});
  }
  if (rows.size() == 1) {
    std::cout << "  (no predictions: no cut could be fitted with runs above it)\n";
    return;
  }
  std::cout << Table(rows);
}

void PrintBacktest(const v1::BacktestResponse& r) {
  int predictions = 0;
  for (const auto& c : r.cuts()) predictions += c.predictions_size();
  std::cout << "backtest of sweep " << r.sweep_id() << ", form " << r.form() << ": "
            << r.cuts_size() << " cuts, " << predictions << " predictions of later runs (fits";
  for (int64_t id : r.fit_ids()) std::cout << " " << id;
  std::cout << "; " << (r.cached() ? "cached, computed in " : "computed in ")
            << Duration(r.compute_seconds()) << ")\n";
  for (const auto& c : r.cuts()) PrintCut(c);
  PrintSummary(r);
}

// |relative error| against the extrapolation factor, one colour per family.
std::string ErrorPlot(const v1::BacktestResponse& r) {
  ScatterPlot plot;
  plot.title = "backtest of sweep " + std::to_string(r.sweep_id()) + " (" + r.form() + ")";
  plot.x_label = "extrapolation factor (run compute / largest fitted compute)";
  plot.y_label = "|relative error| of the predicted loss (%)";
  plot.y_floor = 1e-3;  // 0.001%: a smaller error is drawn there
  plot.note = "outside the one-run 95% interval";
  std::map<std::string, size_t> index;
  for (const auto& c : r.cuts()) {
    auto [it, added] = index.emplace(c.family(), plot.series.size());
    if (added) {
      plot.series.push_back({c.family(), kPlotColors[it->second % 6], {}});
    }
    for (const auto& p : c.predictions()) {
      plot.series[it->second].points.push_back(
          {p.extrapolation_factor(), 100 * std::fabs(p.relative_error()), !p.covered()});
    }
  }
  return ScatterSvg(plot);
}

// INVALID_ARGUMENT names the request field, which is the flag's name too.
grpc::Status FlagNamed(const grpc::Status& st) {
  if (st.error_code() != grpc::StatusCode::INVALID_ARGUMENT) return st;
  return grpc::Status(st.error_code(), "--" + st.error_message());
}

int Backtest(CliContext& ctx, const CLI::App& root, const BacktestOptions& o) {
  if (!o.plot.empty() && (o.plot.size() < 5 || o.plot.substr(o.plot.size() - 4) != ".svg"))
    return ctx.Usage("--plot: must end in .svg, got '" + o.plot + "'");
  auto* stub = ctx.fits();
  if (!stub) return 2;
  v1::BacktestRequest req;
  req.set_sweep_id(o.sweep_id);
  req.set_family(o.family);
  req.set_form(o.form);
  auto call = ctx.Call();
  if (root.get_option("--timeout")->count() == 0)
    call->set_deadline(std::chrono::system_clock::now() + kDefaultTimeout);
  v1::BacktestResponse resp;
  grpc::Status st = stub->Backtest(call.get(), req, &resp);
  if (st.error_code() == grpc::StatusCode::UNAVAILABLE &&
      st.error_message().rfind("backtest of sweep", 0) == 0) {
    // The coordinator answered: the backtest is still running (or the
    // queue is full); not an unreachable coordinator.
    std::cerr << "ladder: backtest: " << st.error_message() << " [UNAVAILABLE]\n";
    return ExitCodeFor(st);
  }
  if (!st.ok()) return ctx.Fail(FlagNamed(st), "backtest");
  if (ctx.json()) {
    std::cout << ToJson(resp) << "\n";
  } else {
    PrintBacktest(resp);
  }
  if (!o.plot.empty()) {
    std::ofstream out(o.plot);
    out << ErrorPlot(resp);
    if (!out.flush()) {
      std::cerr << "ladder: --plot: cannot write '" << o.plot << "'\n";
      return 1;
    }
    std::cerr << "wrote " << o.plot << "\n";
  }
  return 0;
}

}  // namespace

void AddBacktestCommand(CLI::App& app, CliContext& ctx, int* exit_code) {
  auto* cmd = app.add_subcommand(
      "backtest",
      "How far the ladder can be trusted: refit on the runs up to each compute cut, predict "
      "every later run, and report errors and 95% coverage against the extrapolation factor");
  // `ladder backtest SWEEP --json` (and --timeout, ...) as well as
  // `ladder --json backtest SWEEP`: global flags after the subcommand reach the root.
  cmd->fallthrough();
  auto* o = new BacktestOptions;
  cmd->add_option("SWEEP", o->sweep_id, "sweep id")->required();
  cmd->add_option("--family", o->family, "only this family (default: every family)");
  cmd->add_option("--form", o->form,
                  "power_law_compute, chinchilla, data_constrained or power_law_shared_e "
                  "(default: power_law_shared_e where the sweep has it, else power_law_compute)");
  cmd->add_option("--plot", o->plot, "also write |error| against extrapolation factor to FILE.svg");
  cmd->callback([&ctx, &app, exit_code, o] { *exit_code = Backtest(ctx, app, *o); });
}

}  // namespace ladder::cli
