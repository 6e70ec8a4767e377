// ladder import FILE --name NAME: results trained elsewhere (CSV or JSON,
// formats in import_parser.h) become a finished sweep of kind "imported",
// fitted like any other (and by the isoflop form when rows carry budgets).
#include <iostream>

#include "client/commands.h"
#include "client/format.h"
#include "client/import_parser.h"

namespace ladder::cli {

void AddImportCommand(CLI::App& app, CliContext& ctx, int* exit_code) {
  auto* cmd = app.add_subcommand(
      "import", "Import results trained elsewhere (CSV or JSON) as a sweep; prints its id");
  auto* file = new std::string;
  auto* name = new std::string;
  cmd->add_option("FILE", *file, "a .csv or .json file (or - for CSV on stdin)")->required();
  cmd->add_option("--name", *name, "sweep name (default: the file name)");
  cmd->footer("Columns (CSV header) or keys (JSON objects): " + ImportAcceptedNames() +
              ".\nfamily, params (N, non-embedding), tokens (D) and loss are required; flops "
              "defaults to 6ND.\nbudget: the IsoFLOP budget (FLOPs) a run was trained at, the same "
              "value for every run of one budget; rows with budgets give the sweep the isoflop "
              "(Approach 2) fit.\nseed: the run's seed (several seeds of one configuration are "
              "fine).\nAny other column or key is refused (exit 2) before anything is sent.\n"
              "`ladder export` output (CSV or JSON) imports back as it is: N is its "
              "non_embedding_params, and runs that did not succeed are skipped.");
  cmd->callback([&ctx, exit_code, file, name] {
    std::string text, error;
    if (!ReadInput(*file, &text, &error)) {
      *exit_code = ctx.Usage(error);
      return;
    }
    v1::ImportResultsRequest req;
    req.set_name(name->empty() ? *file : *name);
    const bool json = file->size() > 5 && file->substr(file->size() - 5) == ".json";
    ImportNotes notes;
    if (!(json ? ParseImportJson(text, &req, &error, &notes)
               : ParseImportCsv(text, &req, &error, &notes))) {
      *exit_code = ctx.Usage("import " + *file + ": " + error);
      return;
    }
    if (notes.skipped > 0) {
      std::cerr << "import " << *file << ": skipped " << notes.skipped
                << (notes.skipped == 1 ? " run" : " runs")
                << " of the export that did not succeed (no results)\n";
    }
    auto* stub = ctx.sweeps();
    if (!stub) {
      *exit_code = 2;
      return;
    }
    v1::Sweep s;
    grpc::Status st = stub->ImportResults(ctx.Call().get(), req, &s);
    if (!st.ok()) {
      *exit_code = ctx.Fail(st, "import " + *file);
      return;
    }
    if (ctx.json()) {
      std::cout << ToJson(s) << "\n";
    } else {
      std::cout << s.id() << "\n";
      std::cerr << "imported " << req.results_size() << " results as sweep " << s.id()
                << "; fits follow shortly\n";
    }
    *exit_code = 0;
  });
}

}  // namespace ladder::cli
