// A run config, as ladder-train reads it: bad_config or a config whose
// shape the model counts handle without overflow (UBSan would abort).
#include <cstdint>
#include <string>

#include "common/model/model_counts.h"
#include "fuzz/fuzz_util.h"
#include "worker/train/run_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using ladder::fuzz::Check;
  const std::string text(reinterpret_cast<const char*>(data), size);
  ladder::train::RunConfig config;
  ladder::train::TrainError error;
  if (!ladder::train::ParseRunConfig(text, &config, &error)) {
    Check(error.kind == ladder::train::ErrorKind::kBadConfig, "bad_config");
    Check(!error.message.empty() && error.message.size() <= 500, "message bounded");
    Check(ladder::fuzz::ValidUtf8(error.message), "message is UTF-8");
    return 0;
  }
  const auto counts = ladder::model::CountParams(config.shape);
  Check(counts.total > 0, "parameter count positive");
  const auto flops = ladder::model::ExactFlopsPerToken(config.shape);
  Check(flops.training > 0, "FLOPs positive");
  Check(config.train.tokens > 0 && config.train.batch_tokens > 0, "counts positive");
  return 0;
}
