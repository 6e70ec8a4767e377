// ladder backtest SWEEP [--family F] [--form F] [--json] [--plot FILE]
// (written by the backtest CLI's author, issue 11)
#include "client/commands.h"

namespace ladder::cli {

void AddBacktestCommand(CLI::App&, CliContext&, int*) {}

}  // namespace ladder::cli
