// ladder export SWEEP --format csv|json [-o FILE]: every run with its
// configuration and results, for notebooks and spreadsheets; `ladder import`
// reads either format back (client/import_parser.h).
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "client/commands.h"
#include "client/format.h"
#include "client/run_pages.h"

namespace ladder::cli {
namespace {

std::string CsvField(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string Num(double v) {
  if (!std::isfinite(v)) return "";
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

}  // namespace

void AddExportCommand(CLI::App& app, CliContext& ctx, int* exit_code) {
  auto* cmd = app.add_subcommand("export", "Export a sweep's runs and results as CSV or JSON");
  auto* sweep_id = new int64_t(0);
  auto* format = new std::string("csv");
  auto* output = new std::string("-");
  cmd->add_option("SWEEP", *sweep_id, "sweep id")->required();
  cmd->add_option("--format", *format, "csv or json")->capture_default_str();
  cmd->add_option("-o,--output", *output, "file (default: stdout)");
  cmd->callback([&ctx, exit_code, sweep_id, format, output] {
    if (*format != "csv" && *format != "json") {
      *exit_code = ctx.Usage("--format: must be csv or json, got '" + *format + "'");
      return;
    }
    auto* stub = ctx.runs();
    if (!stub) {
      *exit_code = 2;
      return;
    }
    v1::ListRunsRequest req;
    req.set_sweep_id(*sweep_id);
    v1::ListRunsResponse resp;
    grpc::Status st = ListAllRuns(ctx, *stub, req, &resp);
    if (!st.ok()) {
      *exit_code = ctx.Fail(st, "export " + std::to_string(*sweep_id));
      return;
    }
    std::ofstream file;
    std::ostream* out = &std::cout;
    if (*output != "-") {
      file.open(*output);
      if (!file) {
        *exit_code = ctx.Usage("--output: cannot write '" + *output + "'");
        return;
      }
      out = &file;
    }
    if (*format == "json") {
      // {"runs": [...]} alone, as `ladder import` reads it back (not the
      // pages' total and token).
      *out << "{\"runs\":[";
      for (int i = 0; i < resp.runs_size(); ++i) *out << (i ? "," : "") << ToJson(resp.runs(i));
      *out << "]}\n";
    } else {
      *out << "run_id,sweep_id,ordinal,family,shape,state,attempts,planned_params,planned_non_"
              "embedding_params,"
              "planned_tokens,planned_flops,planned_flops_6nd,budget,params,non_embedding_params,"
              "tokens,"
              "unique_tokens,"
              "epochs,flops,flops_6nd,final_eval_loss,wall_seconds,device,trainer,simulated,worker,"
              "learning_rate,seed\n";
      for (const auto& r : resp.runs()) {
        const auto config = nlohmann::json::parse(r.config_json(), nullptr, false);
        const bool done = r.state() == v1::RUN_STATE_SUCCEEDED;
        const auto train = config.is_object() ? config.value("train", nlohmann::json::object())
                                              : nlohmann::json::object();
        // An IsoFLOP run's budget, as planned or imported; 0 (other sweeps) is none.
        const auto plan = config.is_object() ? config.value("plan", nlohmann::json::object())
                                             : nlohmann::json::object();
        const double budget = plan.is_object() ? plan.value("budget", 0.0) : 0.0;
        *out << r.id() << ',' << r.sweep_id() << ',' << r.ordinal() << ',' << CsvField(r.family())
             << ',' << CsvField(r.shape()) << ',' << StateName(r.state()) << ',' << r.attempts()
             << ',' << r.planned_params() << ',' << r.planned_non_embedding_params() << ','
             << r.planned_tokens() << ',' << Num(r.planned_flops()) << ','
             << Num(r.planned_flops_6nd()) << ',' << (budget > 0 ? Num(budget) : "") << ','
             << (done ? std::to_string(r.params()) : "") << ','
             << (done ? std::to_string(r.non_embedding_params()) : "") << ','
             << (done ? std::to_string(r.tokens()) : "") << ','
             << (done ? std::to_string(r.unique_tokens()) : "") << ','
             << (done ? Num(r.epochs()) : "") << ',' << (done ? Num(r.flops()) : "") << ','
             << (done ? Num(r.flops_6nd()) : "") << ',' << (done ? Num(r.final_eval_loss()) : "")
             << ',' << (done ? Num(r.wall_seconds()) : "") << ',' << CsvField(r.device()) << ','
             << CsvField(r.trainer()) << ',' << (done ? (r.simulated() ? "true" : "false") : "")
             << ',' << CsvField(r.worker_name()) << ','
             << (train.contains("lr") ? Num(train["lr"].get<double>()) : "") << ','
             << (train.contains("seed") ? std::to_string(train["seed"].get<int64_t>()) : "")
             << "\n";
      }
    }
    if (*output != "-") std::cerr << "wrote " << resp.runs_size() << " runs to " << *output << "\n";
    *exit_code = 0;
  });
}

}  // namespace ladder::cli
