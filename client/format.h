// Human-readable numbers, tables and progress bars for the CLI.
#pragma once

#include <string>
#include <vector>

#include "ladder/v1/ladder.pb.h"

namespace ladder::cli {

// 1234567 -> "1.23M", 3.2e15 -> "3.20P"; below 1000 as is.
std::string Si(double value);
// 3.2e15 -> "3.2e+15"
std::string Sci(double value, int digits = 3);
// Seconds -> "1h02m", "3m05s", "12.3s".
std::string Duration(double seconds);
// "[#######.......]  47%" of `width` cells.
std::string Bar(double fraction, int width);
std::string StateName(v1::RunState state);
std::string StateName(v1::SweepState state);

// Each line as "<indent>warning: <line>\n" on stdout (a response's caveats:
// a parameter on a bound, a target beyond one epoch of the corpus).
void PrintWarnings(const google::protobuf::RepeatedPtrField<std::string>& warnings,
                   const std::string& indent = "");

// Left-aligned columns, two spaces apart; first row is the header.
std::string Table(const std::vector<std::vector<std::string>>& rows);

}  // namespace ladder::cli
