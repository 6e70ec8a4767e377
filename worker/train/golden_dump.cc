// Test tool for the golden test (python/golden_test.py): builds the model a
// run config describes, in float64, and runs two optimizer steps through the
// trainer's own code (ForwardBackward over two micro-batches, ClipGradNorm,
// AdamW), dumping as a torch.load-able dict:
//   param/<name>   weights before training      x, y   the batch [B, T]
//   grad/<name>    gradients of step 1 (before clipping)
//   after1/<name>  weights after step 1         after2/<name>  after step 2
//   loss1, loss2, grad_norm1, grad_norm2, lr    0-dim tensors
//
//   ladder_train_golden_dump --config RUN.json --out DUMP.pt
#include <torch/serialize.h>
#include <torch/torch.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "worker/train/adamw.h"
#include "worker/train/model.h"
#include "worker/train/run_config.h"
#include "worker/train/train_step.h"

namespace ladder::train {
namespace {

int Main(int argc, char** argv) {
  std::string config_path, out_path;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--config") config_path = argv[i + 1];
    if (flag == "--out") out_path = argv[i + 1];
  }
  if (config_path.empty() || out_path.empty()) {
    std::fprintf(stderr, "usage: ladder_train_golden_dump --config RUN.json --out DUMP.pt\n");
    return 2;
  }
  RunConfig config;
  TrainError error;
  if (!LoadRunConfig(config_path, &config, &error)) {
    std::fprintf(stderr, "%s\n", error.message.c_str());
    return 2;
  }
  const auto& ts = config.train;
  const int T = config.shape.context;
  const int64_t B = ts.batch_tokens / T;

  torch::manual_seed(ts.seed);
  LanguageModel model(config.shape);
  model->to(torch::kFloat64);
  AdamW optimizer(
      {{model->DecayedParameters(), ts.weight_decay}, {model->UndecayedParameters(), 0.0}},
      ts.beta1, ts.beta2, ts.adam_eps);
  const auto params = model->parameters();

  c10::Dict<std::string, at::Tensor> dump;
  auto put_all = [&](const std::string& prefix, bool grads) {
    for (const auto& p : model->named_parameters()) {
      dump.insert(prefix + p.key(), (grads ? p.value().grad() : p.value()).detach().clone());
    }
  };
  put_all("param/", false);

  auto tokens = torch::randint(0, config.shape.vocab, {B, T + 1}, torch::kInt64);
  auto x = tokens.slice(1, 0, T), y = tokens.slice(1, 1, T + 1);
  dump.insert("x", x.contiguous());
  dump.insert("y", y.contiguous());
  // Two uneven micro-batches when possible, as gradient accumulation trains.
  const int64_t split = B > 1 ? (B + 1) / 2 : B;
  std::vector<Batch> micro = {{x.slice(0, 0, split), y.slice(0, 0, split)}};
  if (split < B) micro.push_back({x.slice(0, split, B), y.slice(0, split, B)});

  for (int step = 1; step <= 2; ++step) {
    const auto loss = ForwardBackward(model, micro, /*bf16_autocast=*/false);
    if (step == 1) put_all("grad/", true);
    const double norm = ClipGradNorm(params, ts.grad_clip);
    optimizer.Step(ts.lr);
    optimizer.ZeroGrad();
    dump.insert("loss" + std::to_string(step), loss.detach().clone());
    dump.insert("grad_norm" + std::to_string(step), torch::tensor(norm, torch::kFloat64));
    put_all("after" + std::to_string(step) + "/", false);
  }
  dump.insert("lr", torch::tensor(ts.lr, torch::kFloat64));

  const std::vector<char> bytes = torch::pickle_save(c10::IValue(dump));
  std::ofstream(out_path, std::ios::binary)
      .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  return 0;
}

}  // namespace
}  // namespace ladder::train

int main(int argc, char** argv) { return ladder::train::Main(argc, argv); }
