// The files `ladder import` reads, parsed into an ImportResultsRequest. No
// I/O and no gRPC, so the parsers link alone (fuzz/import_parser_fuzz.cc).
//   CSV: a header naming family, params, tokens, loss and optionally flops,
//        unique_tokens, budget, seed (any order); one row per run
//   JSON: [{"family": ..., "params": ..., "tokens": ..., "loss": ..., ...}, ...]
// Accepted aliases: final_loss and final_eval_loss for loss, compute_budget
// for budget. A column or key outside that list is refused, naming it and
// listing the accepted ones, so a field the coordinator would never see (an
// IsoFLOP budget under another name, say) is not dropped silently; two names
// for one field (loss and final_loss) are refused too.
// `ladder export` output imports back as it is: a CSV whose header has
// run_id and state, or JSON {"runs": [...]}. There N is non_embedding_params
// (export's params is the total), loss final_eval_loss, the seed and budget
// the run's (JSON: inside config_json); runs that did not succeed have no
// results and are skipped (counted in ImportNotes); the export's descriptive
// columns (run_id, shape, device, ...) are read by nothing, in that format
// only.
// Values are passed on as given (a missing optional one as 0); the
// coordinator checks their ranges (ValidateImport in server/sweep_manager.h). These parsers
// refuse only what cannot be sent or cannot be meant: an unknown or repeated
// column, text that is not valid UTF-8 in a string field, a value that is not
// a number (a seed that is not a whole number), more than kMaxImportResults
// rows. They never throw.
#pragma once

#include <string>

#include "ladder/v1/ladder.pb.h"

namespace ladder::cli {

// The coordinator's limit (kMaxRunsPerSweep), checked before sending.
inline constexpr int kMaxImportResults = 100000;

// The accepted column (and JSON key) names with their aliases, for errors and
// help: "family, params, tokens, loss (or final_loss, final_eval_loss), ...".
std::string ImportAcceptedNames();

// What a parse found besides the results.
struct ImportNotes {
  bool ladder_export = false;  // the file is `ladder export` output
  int skipped = 0;             // its runs that did not succeed (no results), left out
};

// Fills `req` from CSV text; false with *error naming the line and column.
bool ParseImportCsv(const std::string& text, v1::ImportResultsRequest* req, std::string* error,
                    ImportNotes* notes = nullptr);

// Fills `req` from JSON text; false with *error naming the element and key.
bool ParseImportJson(const std::string& text, v1::ImportResultsRequest* req, std::string* error,
                     ImportNotes* notes = nullptr);

}  // namespace ladder::cli
