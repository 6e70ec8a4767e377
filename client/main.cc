// ladder: the command-line client. `ladder --help` lists the subcommands;
// exit codes are documented in client/cli_context.h.
#include <CLI/CLI.hpp>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>

#include "client/cli_context.h"
#include "client/commands.h"
#include "common/cli_flags.h"
#include "common/grpc_runtime.h"

namespace ladder::cli {

bool ReadInput(const std::string& path, std::string* out, std::string* error) {
  std::ostringstream s;
  if (path == "-") {
    s << std::cin.rdbuf();
  } else {
    std::ifstream in(path);
    if (!in) {
      *error = "cannot read '" + path + "'";
      return false;
    }
    s << in.rdbuf();
  }
  *out = s.str();
  return true;
}

}  // namespace ladder::cli

int main(int argc, char** argv) {
  ladder::ConfigureGrpcRuntime();
  using namespace ladder::cli;
  GlobalOptions g;
  if (const char* v = std::getenv("LADDER_COORDINATOR")) g.coordinator = v;
  if (const char* v = std::getenv("LADDER_CA")) g.ca_file = v;
  if (const char* v = std::getenv("LADDER_TOKEN")) g.token = v;
  if (const char* v = std::getenv("LADDER_INSECURE")) g.insecure = std::string(v) == "1";

  CLI::App app{"ladder: submit scaling-law sweeps, watch them, and query fits and predictions"};
  app.require_subcommand(1);
  app.add_option("--coordinator", g.coordinator,
                 "coordinator address host:port, a list host1:port,host2:port or dns:///name:port "
                 "($LADDER_COORDINATOR)")
      ->capture_default_str();
  app.add_flag("--insecure", g.insecure,
               "plaintext, no TLS (loopback coordinators only; $LADDER_INSECURE=1)");
  app.add_option("--ca", g.ca_file, "CA certificate that signed the coordinator's ($LADDER_CA)");
  app.add_option("--token", g.token, "bearer token ($LADDER_TOKEN)");
  app.add_flag("--json", g.json, "machine-readable JSON output");
  ladder::AddDurationOption(app, "--timeout", &g.timeout,
                            "per call, e.g. 30s, 500ms, 2m (a bare number is seconds)");

  // Subcommands bind to the context; its options are read when a callback runs.
  CliContext* ctx = nullptr;
  int exit_code = 0;
  struct Deferred {
    GlobalOptions* g;
    std::unique_ptr<CliContext> ctx;
  } deferred{&g, nullptr};
  deferred.ctx = std::make_unique<CliContext>(g);
  ctx = deferred.ctx.get();
  app.parse_complete_callback([&] { *ctx = CliContext(g); });
  AddSubmitCommand(app, *ctx, &exit_code);
  AddStatusCommand(app, *ctx, &exit_code);
  AddWatchCommand(app, *ctx, &exit_code);
  AddRunsCommand(app, *ctx, &exit_code);
  AddCancelCommand(app, *ctx, &exit_code);
  AddWorkersCommand(app, *ctx, &exit_code);
  AddExportCommand(app, *ctx, &exit_code);
  AddFitCommand(app, *ctx, &exit_code);
  AddPredictCommand(app, *ctx, &exit_code);
  AddCompareCommand(app, *ctx, &exit_code);
  AddBacktestCommand(app, *ctx, &exit_code);
  AddImportCommand(app, *ctx, &exit_code);
  AddPlotCommand(app, *ctx, &exit_code);
  AddTokenCommand(app, *ctx, &exit_code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help
    std::cerr << "ladder: " << e.what() << " (see ladder --help)\n";
    return 2;
  }
  return exit_code;
}
