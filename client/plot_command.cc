// ladder plot SWEEP -o FILE.svg|png: loss against compute on log axes, each
// family's runs as points and its fitted frontier with a 95% band, extended
// --extrapolate times past the largest run; IsoFLOP sweeps get a second panel
// of loss against N per budget. Drawn by gnuplot (Debian's gnuplot-nox).
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "client/commands.h"
#include "client/format.h"

namespace ladder::cli {
namespace {

struct Point {
  double x, y;
};

std::string Quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("''") : std::string(1, c);
  return out + "'";
}

}  // namespace

void AddPlotCommand(CLI::App& app, CliContext& ctx, int* exit_code) {
  auto* cmd = app.add_subcommand(
      "plot", "Plot loss against compute with fitted frontiers (SVG or PNG, via gnuplot)");
  auto* sweep_id = new int64_t(0);
  auto* output = new std::string;
  auto* extrapolate = new double(100);
  auto* script_out = new std::string;
  cmd->add_option("SWEEP", *sweep_id, "sweep id")->required();
  cmd->add_option("-o,--output", *output, "FILE.svg or FILE.png")->required();
  cmd->add_option("--extrapolate", *extrapolate,
                  "draw frontiers this many times past the largest run")
      ->capture_default_str();
  cmd->add_option("--gnuplot-script", *script_out,
                  "also write the gnuplot script and data here (a directory)");
  cmd->callback([&ctx, exit_code, sweep_id, output, extrapolate, script_out] {
    std::string terminal;
    if (output->size() > 4 && output->substr(output->size() - 4) == ".svg") {
      terminal = "svg size 1100,700 dynamic enhanced background rgb 'white' font 'sans,12'";
    } else if (output->size() > 4 && output->substr(output->size() - 4) == ".png") {
      terminal = "pngcairo size 1400,900 enhanced font 'sans,12'";
    } else {
      *exit_code = ctx.Usage("--output: must end in .svg or .png, got '" + *output + "'");
      return;
    }
    if (!(*extrapolate >= 1)) {
      *exit_code = ctx.Usage("--extrapolate: must be at least 1");
      return;
    }
    auto* sweeps = ctx.sweeps();
    auto* runs_stub = ctx.runs();
    auto* fits = ctx.fits();
    if (!sweeps || !runs_stub || !fits) {
      *exit_code = 2;
      return;
    }
    v1::GetSweepRequest sreq;
    sreq.set_sweep_id(*sweep_id);
    v1::Sweep sweep;
    grpc::Status st = sweeps->GetSweep(ctx.Call().get(), sreq, &sweep);
    if (!st.ok()) {
      *exit_code = ctx.Fail(st, "plot");
      return;
    }
    v1::ListRunsRequest rreq;
    rreq.set_sweep_id(*sweep_id);
    rreq.set_state(v1::RUN_STATE_SUCCEEDED);
    v1::ListRunsResponse runs;
    st = runs_stub->ListRuns(ctx.Call().get(), rreq, &runs);
    if (!st.ok()) {
      *exit_code = ctx.Fail(st, "plot");
      return;
    }
    std::map<std::string, std::vector<Point>> by_family;  // C, loss
    std::map<std::string, std::map<double, std::vector<Point>>>
        iso;  // family -> budget -> (N, loss)
    double max_c = 0, min_c = INFINITY;
    for (const auto& r : runs.runs()) {
      const double c = r.flops() > 0 ? r.flops() : r.planned_flops();
      by_family[r.family()].push_back({c, r.final_eval_loss()});
      max_c = std::max(max_c, c);
      min_c = std::min(min_c, c);
      auto config = nlohmann::json::parse(r.config_json(), nullptr, false);
      const double budget =
          config.is_object() && config.contains("plan") ? config["plan"].value("budget", 0.0) : 0.0;
      if (budget > 0)
        iso[r.family()][budget].push_back(
            {static_cast<double>(r.non_embedding_params()), r.final_eval_loss()});
    }
    if (by_family.empty()) {
      *exit_code =
          ctx.Usage("plot: sweep " + std::to_string(*sweep_id) + " has no succeeded runs yet");
      return;
    }
    // Frontiers with intervals, from the Fits API.
    std::map<std::string, std::vector<std::array<double, 4>>> frontier;
    std::map<std::string, std::string> frontier_form;
    for (const auto& [family, pts] : by_family) {
      const int n = 40;
      for (int i = 0; i < n; ++i) {
        const double c =
            min_c / 2 *
            std::pow(2 * max_c * *extrapolate / min_c, static_cast<double>(i) / (n - 1));
        v1::PredictLossRequest p;
        p.set_sweep_id(*sweep_id);
        p.set_family(family);
        p.set_compute(c);
        v1::PredictLossResponse resp;
        if (!fits->PredictLoss(ctx.Call().get(), p, &resp).ok()) break;
        frontier[family].push_back(
            {c, resp.loss().estimate(), resp.loss().lower(), resp.loss().upper()});
        frontier_form[family] = resp.form();
      }
    }

    namespace fs = std::filesystem;
    std::string dir = *script_out;
    bool temp = false;
    if (dir.empty()) {
      char tmpl[] = "/tmp/ladder-plot-XXXXXX";
      if (!mkdtemp(tmpl)) {
        *exit_code = ctx.Usage("plot: cannot make a temporary directory");
        return;
      }
      dir = tmpl;
      temp = true;
    } else {
      fs::create_directories(dir);
    }
    std::ostringstream gp;
    gp << "set terminal " << terminal << "\nset output " << Quote(*output) << "\n";
    gp << "set logscale xy\nset format x '10^{%L}'\nset grid xtics ytics mxtics mytics lc rgb "
          "'#dddddd'\n";
    gp << "set key outside right top\nset style fill transparent solid 0.2 noborder\n";
    const bool isoflop = !iso.empty();
    if (isoflop) gp << "set multiplot layout 1,2\n";
    gp << "set title "
       << Quote("sweep " + std::to_string(sweep.id()) + ": " + sweep.name() + " (" + sweep.kind() +
                ")")
       << " noenhanced\nset xlabel 'training compute C (FLOPs, exact count)'\nset ylabel 'eval "
          "loss (nats/token)'\n";
    const char* colors[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"};
    std::vector<std::string> plots;
    int k = 0;
    for (const auto& [family, pts] : by_family) {
      const std::string color = colors[k++ % 6];
      const std::string runs_file = dir + "/runs_" + family + ".dat";
      std::ofstream rf(runs_file);
      for (const auto& p : pts) rf << p.x << " " << p.y << "\n";
      if (frontier.count(family)) {
        const std::string ff = dir + "/frontier_" + family + ".dat";
        std::ofstream f(ff);
        for (const auto& r : frontier[family])
          f << r[0] << " " << r[1] << " " << r[2] << " " << r[3] << "\n";
        plots.push_back(Quote(ff) + " using 1:3:4 with filledcurves lc rgb '" + color +
                        "' notitle");
        plots.push_back(Quote(ff) + " using 1:2 with lines lw 2 lc rgb '" + color + "' title " +
                        Quote(family + " " + frontier_form[family] + " fit (95% band)") +
                        " noenhanced");
      }
      plots.push_back(Quote(runs_file) + " using 1:2 with points pt 7 ps 1.2 lc rgb '" + color +
                      "' title " + Quote(family + " runs") + " noenhanced");
    }
    gp << "set arrow from " << max_c << ", graph 0 to " << max_c
       << ", graph 1 nohead dt 2 lc rgb '#888888'\nset label 'largest run' at " << max_c
       << ", graph 0.97 offset 0.5,0 tc rgb '#888888'\n";
    gp << "plot ";
    for (size_t i = 0; i < plots.size(); ++i) gp << (i ? ", \\\n     " : "") << plots[i];
    gp << "\n";
    if (isoflop) {
      gp << "unset arrow\nunset label\nset title 'IsoFLOP profiles'\nset xlabel 'non-embedding "
            "parameters N'\nplot ";
      bool first = true;
      int fi = 0;
      for (const auto& [family, budgets] : iso) {
        const std::string color = colors[fi++ % 6];
        int bi = 0;
        for (const auto& [budget, pts] : budgets) {
          const std::string f = dir + "/iso_" + family + "_" + std::to_string(bi++) + ".dat";
          std::ofstream out(f);
          auto sorted = pts;
          std::sort(sorted.begin(), sorted.end(),
                    [](const Point& a, const Point& b) { return a.x < b.x; });
          for (const auto& p : sorted) out << p.x << " " << p.y << "\n";
          gp << (first ? "" : ", \\\n     ") << Quote(f)
             << " using 1:2 with linespoints pt 7 lc rgb '" << color << "' title "
             << Quote(family + " C=" + Sci(budget, 2)) << " noenhanced";
          first = false;
        }
      }
      gp << "\nunset multiplot\n";
    }
    const std::string script = dir + "/plot.gp";
    std::ofstream(script) << gp.str();
    const std::string cmdline = "gnuplot " + Quote(script) + " 2>" + Quote(dir + "/gnuplot.log");
    const int rc = std::system(cmdline.c_str());
    if (rc != 0) {
      std::ifstream log(dir + "/gnuplot.log");
      std::string first_line;
      std::getline(log, first_line);
      const bool missing = WIFEXITED(rc) && WEXITSTATUS(rc) == 127;
      std::cerr << "ladder: plot: "
                << (missing ? "gnuplot is not installed (apt-get install gnuplot-nox)"
                            : "gnuplot failed: " + first_line)
                << "\n";
      *exit_code = 1;
    } else {
      std::cerr << "wrote " << *output << " (" << runs.runs_size() << " runs, " << frontier.size()
                << " fitted frontier(s))\n";
      *exit_code = 0;
    }
    if (temp) fs::remove_all(dir);
  });
}

}  // namespace ladder::cli
