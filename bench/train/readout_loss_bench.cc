// The readout + cross-entropy of one micro-batch, forward and backward, two
// ways, for bench/train/readout_loss.py to run side by side:
//   logits:  cross_entropy(linear(h, W), t), what the trainer did before
//            (keeps the [N, V] logits, and on CUDA their fp32 copies);
//   chunked: ReadoutCrossEntropy (worker/train/readout_loss.h), what it does now.
//
//   ladder_readout_bench --variant chunked|logits [--device cpu|cuda] [--rows 8192]
//       [--d-model 768] [--vocab 50304] [--repeats 5] [--threads 2]
//
// Prints one JSON line: the median seconds of --repeats forward+backward
// passes (after one warm-up), the peak resident memory of the process above
// what it held before the first pass (CPU only; null on CUDA), the loss, and
// a checksum of the gradients (the two variants must agree).
#include <sys/resource.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "common/model/model_counts.h"
#include "worker/train/model.h"
#include "worker/train/readout_loss.h"

namespace {

long PeakRssKiB() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;
}

int Usage(const char* why) {
  std::fprintf(stderr,
               "ladder_readout_bench: %s\nusage: ladder_readout_bench --variant chunked|logits "
               "[--device cpu|cuda] [--rows N] [--d-model D] [--vocab V] [--repeats R] "
               "[--threads K]\n",
               why);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string variant, device_name = "cpu";
  int64_t rows = 8192, d = 768, vocab = 50304, repeats = 5, threads = 2;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (i + 1 >= argc) return Usage(("missing value for " + arg).c_str());
    const char* value = argv[++i];
    if (arg == "--variant") {
      variant = value;
    } else if (arg == "--device") {
      device_name = value;
    } else if (arg == "--rows") {
      rows = std::atoll(value);
    } else if (arg == "--d-model") {
      d = std::atoll(value);
    } else if (arg == "--vocab") {
      vocab = std::atoll(value);
    } else if (arg == "--repeats") {
      repeats = std::atoll(value);
    } else if (arg == "--threads") {
      threads = std::atoll(value);
    } else {
      return Usage(("unknown option " + arg).c_str());
    }
  }
  if (variant != "chunked" && variant != "logits")
    return Usage("--variant must be chunked or logits");
  if (rows <= 0 || d <= 0 || vocab <= 0 || repeats <= 0 || threads <= 0) {
    return Usage("--rows, --d-model, --vocab, --repeats and --threads must be positive");
  }
  const torch::Device device(device_name);
  const bool cuda = device.is_cuda();
  if (cuda && !torch::cuda::is_available()) return Usage("--device cuda, but libtorch sees no GPU");
  torch::set_num_threads(static_cast<int>(threads));
  if (cuda) ladder::train::AllowTf32();

  torch::manual_seed(1);
  const auto f32 = torch::TensorOptions().dtype(torch::kFloat32).device(device);
  auto h = torch::randn({rows, d}, f32).requires_grad_(true);
  auto w = (torch::randn({vocab, d}, f32) * 0.02).requires_grad_(true);
  auto t = torch::randint(0, vocab, {rows}, f32.dtype(torch::kInt64));
  const long rss_before = PeakRssKiB();

  double loss_value = 0;
  auto pass = [&]() {
    h.mutable_grad().reset();
    w.mutable_grad().reset();
    torch::Tensor loss;
    {
      ladder::train::CudaBf16Autocast amp(cuda);
      if (variant == "logits") {
        loss = torch::nn::functional::cross_entropy(torch::nn::functional::linear(h, w), t);
      } else {
        loss =
            ladder::train::ReadoutCrossEntropy(h, w, t, cuda ? torch::kBFloat16 : torch::kFloat32,
                                               ladder::model::ReadoutChunkRows(vocab));
      }
    }
    loss.backward();
    loss_value = loss.item<double>();  // waits for the device
  };
  pass();  // warm-up: allocator, kernels
  std::vector<double> seconds;
  for (int64_t r = 0; r < repeats; ++r) {
    const auto start = std::chrono::steady_clock::now();
    pass();
    seconds.push_back(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(seconds.begin(), seconds.end());
  const double checksum =
      (h.grad().to(torch::kFloat64).abs().sum() + w.grad().to(torch::kFloat64).abs().sum())
          .item<double>();
  const long peak_kib = PeakRssKiB() - rss_before;
  std::printf(
      "{\"variant\": \"%s\", \"device\": \"%s\", \"rows\": %lld, \"d_model\": %lld, \"vocab\": "
      "%lld, "
      "\"seconds\": %.6f, \"peak_bytes\": %s, \"loss\": %.6f, \"grad_abs_sum\": %.6f}\n",
      variant.c_str(), device_name.c_str(), static_cast<long long>(rows), static_cast<long long>(d),
      static_cast<long long>(vocab), seconds[seconds.size() / 2],
      cuda ? "null" : std::to_string(static_cast<long long>(peak_kib) * 1024).c_str(), loss_value,
      checksum);
  return 0;
}
