// `ladder import` files: the first byte picks CSV or JSON, the rest is the
// file. A request that parses must serialise (valid UTF-8 strings).
#include <cstdint>
#include <string>

#include "client/import_parser.h"
#include "fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using ladder::fuzz::Check;
  if (size == 0) return 0;
  const bool json = data[0] & 1;
  const std::string text(reinterpret_cast<const char*>(data + 1), size - 1);
  ladder::v1::ImportResultsRequest req;
  std::string error;
  const bool ok = json ? ladder::cli::ParseImportJson(text, &req, &error)
                       : ladder::cli::ParseImportCsv(text, &req, &error);
  if (!ok) {
    Check(!error.empty(), "a refusal says why");
    return 0;
  }
  Check(req.results_size() <= ladder::cli::kMaxImportResults, "row limit");
  for (const auto& r : req.results()) Check(ladder::fuzz::ValidUtf8(r.family()), "family is UTF-8");
  std::string wire;
  Check(req.SerializeToString(&wire), "request serialises");
  return 0;
}
