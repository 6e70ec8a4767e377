// ladder plot SWEEP -o FILE.svg|png: loss against compute on log axes, each
// family's runs as points and its fitted frontier with a 95% band, extended
// --extrapolate times past the largest run; IsoFLOP sweeps get a second panel
// of loss against N per budget. Drawn by gnuplot (Debian's gnuplot-nox).
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>

#include "client/commands.h"
#include "client/format.h"
#include "client/run_pages.h"
#include "client/svg_scatter.h"

namespace ladder::cli {
namespace {

namespace fs = std::filesystem;

struct Point {
  double x, y;
};

struct PlotOptions {
  int64_t sweep_id = 0;
  std::string output;        // FILE.svg or FILE.png
  double extrapolate = 100;  // frontiers run this many times past the largest run
  std::string script_dir;    // also keep the gnuplot script and data here
};

// What is drawn: the sweep's succeeded runs and each family's frontier.
struct PlotData {
  v1::Sweep sweep;
  int runs = 0;
  std::map<std::string, std::vector<Point>> by_family;              // C, loss
  std::map<std::string, std::map<double, std::vector<Point>>> iso;  // family -> budget -> (N, loss)
  double max_c = 0, min_c = INFINITY;
  // family -> (C, loss estimate, lower, upper), and the fitted form.
  std::map<std::string, std::vector<std::array<double, 4>>> frontier;
  std::map<std::string, std::string> frontier_form;
};

std::string Quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("''") : std::string(1, c);
  return out + "'";
}

// gnuplot's terminal for the output's extension; nullopt when neither.
std::optional<std::string> TerminalFor(const std::string& output) {
  if (output.size() > 4 && output.substr(output.size() - 4) == ".svg") {
    return "svg size 1100,700 dynamic enhanced background rgb 'white' font 'sans,12'";
  }
  if (output.size() > 4 && output.substr(output.size() - 4) == ".png") {
    return "pngcairo size 1400,900 enhanced font 'sans,12'";
  }
  return std::nullopt;
}

// The succeeded runs, by family, and (for IsoFLOP plans) by budget.
void GroupRuns(const v1::ListRunsResponse& runs, PlotData* data) {
  data->runs = runs.runs_size();
  for (const auto& r : runs.runs()) {
    const double c = r.flops() > 0 ? r.flops() : r.planned_flops();
    data->by_family[r.family()].push_back({c, r.final_eval_loss()});
    data->max_c = std::max(data->max_c, c);
    data->min_c = std::min(data->min_c, c);
    auto config = nlohmann::json::parse(r.config_json(), nullptr, false);
    const double budget =
        config.is_object() && config.contains("plan") ? config["plan"].value("budget", 0.0) : 0.0;
    if (budget > 0)
      data->iso[r.family()][budget].push_back(
          {static_cast<double>(r.non_embedding_params()), r.final_eval_loss()});
  }
}

// Frontiers with intervals, from the Fits API; a family whose prediction
// fails gets the points before the failure (none when the first fails).
void FetchFrontiers(const CliContext& ctx, v1::Fits::Stub* fits, const PlotOptions& o,
                    PlotData* data) {
  for (const auto& [family, pts] : data->by_family) {
    const int n = 40;
    for (int i = 0; i < n; ++i) {
      const double c =
          data->min_c / 2 *
          std::pow(2 * data->max_c * o.extrapolate / data->min_c, static_cast<double>(i) / (n - 1));
      v1::PredictLossRequest p;
      p.set_sweep_id(o.sweep_id);
      p.set_family(family);
      p.set_compute(c);
      v1::PredictLossResponse resp;
      if (!fits->PredictLoss(ctx.Call().get(), p, &resp).ok()) break;
      data->frontier[family].push_back(
          {c, resp.loss().estimate(), resp.loss().lower(), resp.loss().upper()});
      data->frontier_form[family] = resp.form();
    }
  }
}

// The sweep, its runs and its frontiers; 0, or the exit code of the failure
// (already reported).
int FetchPlotData(CliContext& ctx, const PlotOptions& o, PlotData* data) {
  auto* sweeps = ctx.sweeps();
  auto* runs_stub = ctx.runs();
  auto* fits = ctx.fits();
  if (!sweeps || !runs_stub || !fits) return 2;
  v1::GetSweepRequest sreq;
  sreq.set_sweep_id(o.sweep_id);
  grpc::Status st = sweeps->GetSweep(ctx.Call().get(), sreq, &data->sweep);
  if (!st.ok()) return ctx.Fail(st, "plot");
  v1::ListRunsRequest rreq;
  rreq.set_sweep_id(o.sweep_id);
  rreq.set_state(v1::RUN_STATE_SUCCEEDED);
  v1::ListRunsResponse runs;
  st = ListAllRuns(ctx, *runs_stub, rreq, &runs);
  if (!st.ok()) return ctx.Fail(st, "plot");
  GroupRuns(runs, data);
  if (data->by_family.empty()) {
    return ctx.Usage("plot: sweep " + std::to_string(o.sweep_id) + " has no succeeded runs yet");
  }
  FetchFrontiers(ctx, fits, o, data);
  return 0;
}

// The first panel: runs and frontiers against compute. Writes its data
// files into `dir`.
void WriteComputePanel(const PlotData& data, const std::string& dir, std::ostream& gp) {
  gp << "set title "
     << Quote("sweep " + std::to_string(data.sweep.id()) + ": " + data.sweep.name() + " (" +
              data.sweep.kind() + ")")
     << " noenhanced\nset xlabel 'training compute C (FLOPs, exact count)'\nset ylabel 'eval "
        "loss (nats/token)'\n";
  std::vector<std::string> plots;
  int k = 0;
  for (const auto& [family, pts] : data.by_family) {
    const std::string color = kPlotColors[k++ % 6];
    const std::string runs_file = dir + "/runs_" + family + ".dat";
    std::ofstream rf(runs_file);
    for (const auto& p : pts) rf << p.x << " " << p.y << "\n";
    if (auto it = data.frontier.find(family); it != data.frontier.end()) {
      const std::string ff = dir + "/frontier_" + family + ".dat";
      std::ofstream f(ff);
      for (const auto& r : it->second)
        f << r[0] << " " << r[1] << " " << r[2] << " " << r[3] << "\n";
      plots.push_back(Quote(ff) + " using 1:3:4 with filledcurves lc rgb '" + color + "' notitle");
      plots.push_back(Quote(ff) + " using 1:2 with lines lw 2 lc rgb '" + color + "' title " +
                      Quote(family + " " + data.frontier_form.at(family) + " fit (95% band)") +
                      " noenhanced");
    }
    plots.push_back(Quote(runs_file) + " using 1:2 with points pt 7 ps 1.2 lc rgb '" + color +
                    "' title " + Quote(family + " runs") + " noenhanced");
  }
  gp << "set arrow from " << data.max_c << ", graph 0 to " << data.max_c
     << ", graph 1 nohead dt 2 lc rgb '#888888'\nset label 'largest run' at " << data.max_c
     << ", graph 0.97 offset 0.5,0 tc rgb '#888888'\n";
  gp << "plot ";
  for (size_t i = 0; i < plots.size(); ++i) gp << (i ? ", \\\n     " : "") << plots[i];
  gp << "\n";
}

// The second panel of an IsoFLOP sweep: loss against N, one curve per budget.
void WriteIsoflopPanel(const PlotData& data, const std::string& dir, std::ostream& gp) {
  gp << "unset arrow\nunset label\nset title 'IsoFLOP profiles'\nset xlabel 'non-embedding "
        "parameters N'\nplot ";
  bool first = true;
  int fi = 0;
  for (const auto& [family, budgets] : data.iso) {
    const std::string color = kPlotColors[fi++ % 6];
    int bi = 0;
    for (const auto& [budget, pts] : budgets) {
      const std::string f = dir + "/iso_" + family + "_" + std::to_string(bi++) + ".dat";
      std::ofstream out(f);
      auto sorted = pts;
      std::sort(sorted.begin(), sorted.end(),
                [](const Point& a, const Point& b) { return a.x < b.x; });
      for (const auto& p : sorted) out << p.x << " " << p.y << "\n";
      gp << (first ? "" : ", \\\n     ") << Quote(f) << " using 1:2 with linespoints pt 7 lc rgb '"
         << color << "' title " << Quote(family + " C=" + Sci(budget, 2)) << " noenhanced";
      first = false;
    }
  }
  gp << "\nunset multiplot\n";
}

// The whole gnuplot script; the data files go into `dir`.
std::string GnuplotScript(const PlotData& data, const std::string& terminal,
                          const std::string& output, const std::string& dir) {
  std::ostringstream gp;
  gp << "set terminal " << terminal << "\nset output " << Quote(output) << "\n";
  gp << "set logscale xy\nset format x '10^{%L}'\nset grid xtics ytics mxtics mytics lc rgb "
        "'#dddddd'\n";
  gp << "set key outside right top\nset style fill transparent solid 0.2 noborder\n";
  const bool isoflop = !data.iso.empty();
  if (isoflop) gp << "set multiplot layout 1,2\n";
  WriteComputePanel(data, dir, gp);
  if (isoflop) WriteIsoflopPanel(data, dir, gp);
  return gp.str();
}

// Runs gnuplot on dir/plot.gp; the exit code, with one line on stderr.
int RunGnuplot(const std::string& dir, const std::string& output, const PlotData& data) {
  const std::string script = dir + "/plot.gp";
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
    return 1;
  }
  std::cerr << "wrote " << output << " (" << data.runs << " runs, " << data.frontier.size()
            << " fitted frontier(s))\n";
  return 0;
}

int Plot(CliContext& ctx, const PlotOptions& o) {
  const std::optional<std::string> terminal = TerminalFor(o.output);
  if (!terminal) return ctx.Usage("--output: must end in .svg or .png, got '" + o.output + "'");
  if (!(o.extrapolate >= 1)) return ctx.Usage("--extrapolate: must be at least 1");
  PlotData data;
  if (int code = FetchPlotData(ctx, o, &data); code != 0) return code;

  std::string dir = o.script_dir;
  const bool temp = dir.empty();
  if (temp) {
    char tmpl[] = "/tmp/ladder-plot-XXXXXX";
    if (!mkdtemp(tmpl)) return ctx.Usage("plot: cannot make a temporary directory");
    dir = tmpl;
  } else {
    fs::create_directories(dir);
  }
  std::ofstream(dir + "/plot.gp") << GnuplotScript(data, *terminal, o.output, dir);
  const int code = RunGnuplot(dir, o.output, data);
  if (temp) fs::remove_all(dir);
  return code;
}

}  // namespace

void AddPlotCommand(CLI::App& app, CliContext& ctx, int* exit_code) {
  auto* cmd = app.add_subcommand(
      "plot", "Plot loss against compute with fitted frontiers (SVG or PNG, via gnuplot)");
  auto* o = new PlotOptions;
  cmd->add_option("SWEEP", o->sweep_id, "sweep id")->required();
  cmd->add_option("-o,--output", o->output, "FILE.svg or FILE.png")->required();
  cmd->add_option("--extrapolate", o->extrapolate,
                  "draw frontiers this many times past the largest run")
      ->capture_default_str();
  cmd->add_option("--gnuplot-script", o->script_dir,
                  "also write the gnuplot script and data here (a directory)");
  cmd->callback([&ctx, exit_code, o] { *exit_code = Plot(ctx, *o); });
}

}  // namespace ladder::cli
