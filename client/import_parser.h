// The files `ladder import` reads, parsed into an ImportResultsRequest. No
// I/O and no gRPC, so the parsers link alone (fuzz/import_parser_fuzz.cc).
//   CSV: a header with family, params, tokens, loss and optionally flops,
//        unique_tokens (any order; "final_loss"/"final_eval_loss" also name the loss)
//   JSON: [{"family": ..., "params": ..., "tokens": ..., "loss": ..., ...}, ...]
// Values are passed on as given (a missing optional one as 0); the
// coordinator checks their ranges (ValidateImport in server/sweep_manager.h). These parsers
// refuse only what cannot be sent: text that is not valid UTF-8 in a string
// field, a value that is not a number, more than kMaxImportResults rows.
// They never throw.
#pragma once

#include <string>

#include "ladder/v1/ladder.pb.h"

namespace ladder::cli {

// The coordinator's limit (kMaxRunsPerSweep), checked before sending.
inline constexpr int kMaxImportResults = 100000;

// Fills `req` from CSV text; false with *error naming the line and column.
bool ParseImportCsv(const std::string& text, v1::ImportResultsRequest* req, std::string* error);

// Fills `req` from JSON text; false with *error naming the element and key.
bool ParseImportJson(const std::string& text, v1::ImportResultsRequest* req, std::string* error);

}  // namespace ladder::cli
