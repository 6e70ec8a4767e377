// ladder-train: the libtorch trainer a Ladder worker runs for each run.
//
//   ladder-train --config RUN.json --work-dir DIR --device cpu|cuda:K --threads N
//                [--data-dir DIR] [--checkpoint-interval-seconds S]
//                [--checkpoint-interval-steps N] [--micro-batch-tokens N]
//   ladder-train shape --family transformer|lstm --params N --context T
//                [--vocab V] [--mlp gelu|swiglu] [--positions learned|rotary] [--untied]
//
// The first form trains (worker/TRAINER_PROTOCOL.md); the second prints, as
// one JSON line, the shape ShapeForParams picks for N non-embedding
// parameters with its exact parameter and FLOP counts (for sizing sweeps).
#include <malloc.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/model/architecture_rule.h"
#include "common/model/model_counts.h"
#include "common/protocol/run_config.h"
#include "worker/train/events.h"
#include "worker/train/trainer.h"

namespace {

using ladder::train::ErrorKind;
using ladder::train::TrainError;

constexpr char kUsage[] =
    "usage: ladder-train --config RUN.json --work-dir DIR --device cpu|cuda:K --threads N\n"
    "                    [--data-dir DIR] [--checkpoint-interval-seconds S]\n"
    "                    [--checkpoint-interval-steps N] [--micro-batch-tokens N]\n"
    "       ladder-train shape --family transformer|lstm --params N --context T\n"
    "                    [--vocab V] [--mlp gelu|swiglu] [--positions learned|rotary] [--untied]\n";

void OnTerminate(int) { ladder::train::RequestStop(); }

// glibc serves large blocks with mmap and gives freed heap tops back to the
// OS; a training step frees and reallocates the same activation buffers
// every step, so the pages were faulted in (and zeroed) again each time:
// ~30% of a small transformer's CPU step (bench/train/bench_cpu.py). Keep
// blocks up to the largest mmap threshold glibc allows (32 MiB) in the heap
// and never trim it: the trainer's memory stays at its peak, which it
// reaches every step anyway.
void KeepFreedMemory() {
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  mallopt(M_TOP_PAD, 64 << 20);
}

// Parses "--name value" pairs. Returns "" or an error line.
std::string ParseFlags(const std::vector<std::string>& args, size_t first,
                       const std::vector<std::string>& value_flags,
                       const std::vector<std::string>& bool_flags,
                       std::vector<std::pair<std::string, std::string>>* out) {
  for (size_t i = first; i < args.size(); ++i) {
    const std::string& a = args[i];
    std::string name = a, value;
    const auto eq = a.find('=');
    if (a.rfind("--", 0) == 0 && eq != std::string::npos) {
      name = a.substr(0, eq);
      value = a.substr(eq + 1);
    }
    bool is_bool = false;
    for (const auto& b : bool_flags) is_bool |= name == b;
    if (is_bool) {
      out->emplace_back(name, "true");
      continue;
    }
    bool known = false;
    for (const auto& v : value_flags) known |= name == v;
    if (!known) return "unknown argument " + a;
    if (eq == std::string::npos) {
      if (i + 1 >= args.size()) return a + " needs a value";
      value = args[++i];
    }
    out->emplace_back(name, value);
  }
  return "";
}

bool ToInt(const std::string& s, int64_t* out) {
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(s.c_str(), &end);  // accepts 2e5
  if (end == s.c_str() || *end != '\0' || errno != 0 ||
      v != static_cast<double>(static_cast<int64_t>(v)))
    return false;
  *out = static_cast<int64_t>(v);
  return true;
}

bool ToDouble(const std::string& s, double* out) {
  char* end = nullptr;
  *out = std::strtod(s.c_str(), &end);
  return end != s.c_str() && *end == '\0';
}

int Shape(const std::vector<std::string>& args) {
  std::vector<std::pair<std::string, std::string>> flags;
  std::string err =
      ParseFlags(args, 2, {"--family", "--params", "--context", "--vocab", "--mlp", "--positions"},
                 {"--untied"}, &flags);
  std::string family = "transformer", mlp = "gelu", positions = "learned";
  double params = 0;
  int64_t context = 0, vocab = 256;
  bool untied = false;
  for (const auto& [k, v] : flags) {
    if (!err.empty()) break;
    if (k == "--family") family = v;
    if (k == "--mlp") mlp = v;
    if (k == "--positions") positions = v;
    if (k == "--untied") untied = true;
    if (k == "--params" && !ToDouble(v, &params)) err = "--params must be a number";
    if (k == "--context" && !ToInt(v, &context)) err = "--context must be an integer";
    if (k == "--vocab" && !ToInt(v, &vocab)) err = "--vocab must be an integer";
  }
  namespace m = ladder::model;
  const auto f = m::ParseFamily(family);
  const auto parsed_mlp = m::ParseMlp(mlp);
  const auto parsed_positions = m::ParsePositions(positions);
  if (err.empty() && (!f || !parsed_mlp || !parsed_positions))
    err = "unknown --family, --mlp or --positions";
  if (err.empty() && (params <= 0 || context <= 0))
    err = "--params and --context are required and must be positive";
  if (!err.empty()) {
    std::fprintf(stderr, "ladder-train shape: %s\n%s", err.c_str(), kUsage);
    return 2;
  }
  m::ArchitectureRule rule;
  rule.mlp = *parsed_mlp;
  rule.positions = *parsed_positions;
  rule.tie_embeddings = !untied;
  const m::ModelShape s =
      m::ShapeForParams(*f, params, static_cast<int>(context), static_cast<int>(vocab), rule);
  const m::ParamCount c = m::CountParams(s);
  const m::FlopsPerToken fl = m::ExactFlopsPerToken(s);
  // `family` and `model` exactly as in a run configuration.
  nlohmann::json out = {
      {"describe", m::DescribeShape(s)},
      {"params_total", c.total},
      {"params_non_embedding", c.non_embedding},
      {"flops_per_token", fl.training},
      {"flops_per_token_6n", m::SixNFlopsPerToken(s)},
  };
  ladder::protocol::WriteShape(s, &out);
  std::printf("%s\n", out.dump().c_str());
  return 0;
}

int Train(const std::vector<std::string>& args) {
  ladder::train::TrainerOptions options;
  std::vector<std::pair<std::string, std::string>> flags;
  std::string err = ParseFlags(
      args, 1,
      {"--config", "--work-dir", "--device", "--threads", "--data-dir",
       "--checkpoint-interval-seconds", "--checkpoint-interval-steps", "--micro-batch-tokens"},
      {}, &flags);
  bool have_threads = false;
  for (const auto& [k, v] : flags) {
    if (!err.empty()) break;
    int64_t n = 0;
    if (k == "--config") options.config_path = v;
    if (k == "--work-dir") options.work_dir = v;
    if (k == "--device") options.device = v;
    if (k == "--data-dir") options.data_dir = v;
    if (k == "--threads") {
      if (!ToInt(v, &n) || n < 1 || n > 4096)
        err = "--threads must be a positive integer (got " + v + ")";
      options.threads = static_cast<int>(n);
      have_threads = true;
    }
    if (k == "--checkpoint-interval-seconds" &&
        (!ToDouble(v, &options.checkpoint_interval_seconds) ||
         options.checkpoint_interval_seconds < 0)) {
      err = "--checkpoint-interval-seconds must be a number >= 0 (got " + v + ")";
    }
    if (k == "--checkpoint-interval-steps" &&
        (!ToInt(v, &options.checkpoint_interval_steps) || options.checkpoint_interval_steps < 0)) {
      err = "--checkpoint-interval-steps must be an integer >= 0 (got " + v + ")";
    }
    if (k == "--micro-batch-tokens" &&
        (!ToInt(v, &options.micro_batch_tokens) || options.micro_batch_tokens < 0)) {
      err = "--micro-batch-tokens must be an integer >= 0 (got " + v + ")";
    }
  }
  if (err.empty() && options.config_path.empty()) err = "--config is required";
  if (err.empty() && options.work_dir.empty()) err = "--work-dir is required";
  if (err.empty() && !have_threads) err = "--threads is required";
  if (!err.empty()) {
    std::fprintf(stderr, "%s", kUsage);
    ladder::train::EmitError(TrainError{ErrorKind::kBadConfig, err});
    return ladder::train::kExitBadInput;
  }
  KeepFreedMemory();
  struct sigaction action;
  std::memset(&action, 0, sizeof(action));
  action.sa_handler = OnTerminate;
  sigemptyset(&action.sa_mask);
  sigaction(SIGTERM, &action, nullptr);
  sigaction(SIGINT, &action, nullptr);
  return ladder::train::RunTrainer(options);
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv, argv + argc);
  if (args.size() >= 2 && (args[1] == "--help" || args[1] == "-h")) {
    std::printf("%s", kUsage);
    return 0;
  }
  if (args.size() >= 2 && args[1] == "--version") {
    std::printf("ladder-train 0.1.0\n");
    return 0;
  }
  if (args.size() >= 2 && args[1] == "shape") return Shape(args);
  return Train(args);
}
