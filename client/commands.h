// Each `ladder` subcommand lives in its own file and registers itself on
// the root app here. A command's callback stores its exit code in *exit_code.
#pragma once

#include <CLI/CLI.hpp>

#include "client/cli_context.h"

namespace ladder::cli {

void AddSubmitCommand(CLI::App& app, CliContext& ctx, int* exit_code);
void AddStatusCommand(CLI::App& app, CliContext& ctx, int* exit_code);
void AddWatchCommand(CLI::App& app, CliContext& ctx, int* exit_code);
void AddRunsCommand(CLI::App& app, CliContext& ctx, int* exit_code);
void AddCancelCommand(CLI::App& app, CliContext& ctx, int* exit_code);
void AddWorkersCommand(CLI::App& app, CliContext& ctx, int* exit_code);
void AddExportCommand(CLI::App& app, CliContext& ctx, int* exit_code);
void AddFitCommand(CLI::App& app, CliContext& ctx, int* exit_code);
void AddPredictCommand(CLI::App& app, CliContext& ctx, int* exit_code);  // predict, optimal
void AddCompareCommand(CLI::App& app, CliContext& ctx, int* exit_code);
void AddBacktestCommand(CLI::App& app, CliContext& ctx, int* exit_code);
void AddImportCommand(CLI::App& app, CliContext& ctx, int* exit_code);
void AddPlotCommand(CLI::App& app, CliContext& ctx, int* exit_code);
void AddTokenCommand(CLI::App& app, CliContext& ctx, int* exit_code);

// Reads a whole file ("-" = stdin). False with *error set when it cannot.
bool ReadInput(const std::string& path, std::string* out, std::string* error);

}  // namespace ladder::cli
