// ladder-train's training loop, top to bottom: configuration, device, data,
// model, optimizer, resume, then the loop (batch -> forward/backward -> clip
// -> AdamW -> checks -> eval -> log -> checkpoint), then the final eval and
// the result event.
#include "worker/train/trainer.h"

#include <dlfcn.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <torch/torch.h>
#include <torch/version.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <limits>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "common/model/model_counts.h"
#include "common/protocol/trainer_events.h"
#include "worker/train/adamw.h"
#include "worker/train/checkpoint.h"
#include "worker/train/data_order.h"
#include "worker/train/device_info.h"
#include "worker/train/events.h"
#include "worker/train/lr_schedule.h"
#include "worker/train/model.h"
#include "worker/train/run_config.h"
#include "worker/train/step_profiler.h"
#include "worker/train/token_data.h"
#include "worker/train/train_step.h"

// The CUDA caching allocator's statistics (PyTorch >= 2.0 built with CUDA).
#if LADDER_TORCH_AT_LEAST(2, 0) && __has_include(<c10/cuda/CUDACachingAllocator.h>) && \
    __has_include(<cuda_runtime_api.h>)
#include <c10/cuda/CUDACachingAllocator.h>
#define LADDER_CUDA_ALLOCATOR_STATS 1
#endif

namespace ladder::train {

using nlohmann::json;
using protocol::ProgressEvent;
using protocol::ResultEvent;
using protocol::StartedEvent;
using Clock = std::chrono::steady_clock;

namespace {

std::atomic<bool> g_stop_requested{false};

// scaled_dot_product_attention (PyTorch >= 2.0; model.cc) runs flash or
// memory-efficient kernels on CUDA, which keep no T x T attention scores.
constexpr bool kFusedAttention = LADDER_TORCH_AT_LEAST(2, 0);

double SecondsSince(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

int Fail(const TrainError& error) {
  EmitError(error);
  Log(std::string(ErrorKindName(error.kind)) + ": " + error.message);
  return error.kind == ErrorKind::kBadConfig || error.kind == ErrorKind::kData ? kExitBadInput
                                                                               : kExitFailed;
}

int Fail(ErrorKind kind, const std::string& message) { return Fail(TrainError{kind, message}); }

bool MakeDirs(const std::string& path) {
  std::string partial;
  std::stringstream parts(path);
  std::string part;
  if (!path.empty() && path[0] == '/') partial = "/";
  while (std::getline(parts, part, '/')) {
    if (part.empty()) continue;
    partial += part + "/";
    if (::mkdir(partial.c_str(), 0755) != 0 && errno != EEXIST) return false;
  }
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// Divergence (trainer's rule, documented in README.md): with an exponential
// moving average of the train loss (weight 0.1 on the newest step),
//   - the average exceeds 1.5 ln V (far worse than guessing uniformly), or
//   - after the warmup, it exceeds its best value so far by 2.5 nats.
constexpr double kEmaWeight = 0.1;
constexpr double kUniformFactor = 1.5;
constexpr double kRiseNats = 2.5;

struct EvalResult {
  double loss = 0;            // mean cross-entropy, nats per token
  double standard_error = 0;  // standard error of that mean over the eval sequences
  int64_t tokens = 0;
};

EvalResult Evaluate(LanguageModel& model, const TokenSpan& span, const std::vector<int64_t>& starts,
                    int context, int64_t chunk_sequences, const torch::Device& device,
                    bool autocast) {
  torch::NoGradGuard no_grad;
  model->eval();
  std::vector<double> losses;
  losses.reserve(starts.size());
  for (size_t i = 0; i < starts.size(); i += chunk_sequences) {
    const int64_t n = std::min<int64_t>(chunk_sequences, static_cast<int64_t>(starts.size() - i));
    Batch b = GatherBatch(span, starts.data() + i, n, context, device);
    torch::Tensor per_sequence;
    {
      CudaBf16Autocast amp(autocast);
      per_sequence = model->SequenceLosses(b.x, b.y).cpu();
    }
    const double* p = per_sequence.data_ptr<double>();
    losses.insert(losses.end(), p, p + n);
  }
  model->train();
  EvalResult r;
  double sum = 0, sum_sq = 0;
  for (double l : losses) sum += l;
  r.loss = sum / losses.size();
  for (double l : losses) sum_sq += (l - r.loss) * (l - r.loss);
  const double m = static_cast<double>(losses.size());
  r.standard_error = m > 1 ? std::sqrt(sum_sq / (m - 1) / m) : 0.0;
  r.tokens = static_cast<int64_t>(losses.size()) * context;
  return r;
}

// This process's peak memory: on CUDA the caching allocator's peak of bytes
// allocated to tensors on `cuda_device` (torch.cuda.max_memory_allocated),
// on CPU the peak resident set (getrusage ru_maxrss, in KiB on Linux).
// nullopt when unknown.
std::optional<int64_t> PeakMemoryBytes(std::optional<int> cuda_device) {
  if (cuda_device) {
#ifdef LADDER_CUDA_ALLOCATOR_STATS
    // Looked up at run time: a libtorch without CUDA has the header but no
    // libc10_cuda to link.
    void* symbol = ::dlsym(RTLD_DEFAULT, "_ZN3c104cuda20CUDACachingAllocator9allocatorE");
    if (symbol == nullptr) return std::nullopt;
    auto* allocator =
        static_cast<std::atomic<c10::cuda::CUDACachingAllocator::CUDAAllocator*>*>(symbol)->load();
    if (allocator == nullptr) return std::nullopt;
    // allocated_bytes[0]: the aggregate over small and large pools.
    return allocator->getDeviceStats(*cuda_device).allocated_bytes[0].peak;
#else
    return std::nullopt;
#endif
  }
  struct rusage usage {};
  if (::getrusage(RUSAGE_SELF, &usage) != 0) return std::nullopt;
  return static_cast<int64_t>(usage.ru_maxrss) * 1024;
}

std::string TorchVersion() {
  std::ostringstream o;
  o << TORCH_VERSION_MAJOR << "." << TORCH_VERSION_MINOR << "." << TORCH_VERSION_PATCH;
  return o.str();
}

}  // namespace

void RequestStop() { g_stop_requested.store(true); }

// ---------------------------------------------------------------------------
// Training-step pieces (train_step.h)
// ---------------------------------------------------------------------------

Batch GatherBatch(const TokenSpan& span, const int64_t* starts, int64_t n, int context,
                  const torch::Device& device) {
  const int64_t width = context + 1;
  auto host = torch::empty({n, width}, torch::kInt64);
  int64_t* out = host.data_ptr<int64_t>();
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < width; ++j) out[i * width + j] = span.at(starts[i] + j);
  }
  auto tokens = device.is_cpu() ? host : host.to(device);
  return {tokens.slice(1, 0, context), tokens.slice(1, 1, width)};
}

torch::Tensor ForwardBackward(LanguageModel& model, const std::vector<Batch>& micro_batches,
                              bool bf16_autocast) {
  int64_t total = 0;
  for (const Batch& b : micro_batches) total += b.x.size(0);
  torch::Tensor batch_loss;
  for (const Batch& b : micro_batches) {
    const double share = static_cast<double>(b.x.size(0)) / static_cast<double>(total);
    torch::Tensor loss;
    {
      CudaBf16Autocast amp(bf16_autocast);
      loss = model->Loss(b.x, b.y);
    }
    (micro_batches.size() == 1 ? loss : loss * share).backward();
    auto contribution = loss.detach() * share;
    batch_loss = batch_loss.defined() ? batch_loss + contribution : contribution;
  }
  return batch_loss;
}

double ClipGradNorm(const std::vector<torch::Tensor>& params, double max_norm) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> norms;
  for (const auto& p : params) {
    if (p.grad().defined()) norms.push_back(p.grad().norm(2));
  }
  if (norms.empty()) return 0.0;
  auto total = torch::stack(norms).norm(2);
  if (max_norm > 0) {
    auto coef = torch::clamp_max(max_norm / (total + 1e-6), 1.0);
    for (const auto& p : params) {
      if (p.grad().defined()) p.grad().mul_(coef);
    }
  }
  return total.item<double>();
}

// ---------------------------------------------------------------------------
// One attempt of one run
// ---------------------------------------------------------------------------

namespace {

// One attempt, section by section (each returns the error that ends the run,
// if any): configuration, device, data, model, resume, then the loop and the
// result. Members are filled in that order.
class Attempt {
 public:
  explicit Attempt(const TrainerOptions& options) : options_(options) {}

  int Run();

 private:
  std::optional<TrainError> Configure();
  std::optional<TrainError> SetUpDevice();
  std::optional<TrainError> LoadData();
  void PlanBatches();
  void BuildModel();
  std::optional<TrainError> CheckModel();
  std::optional<TrainError> Resume();
  void ProbeLstmDtype();
  void EmitStarted();
  // The training loop; an exit code when it ends the run early.
  std::optional<int> Train();
  std::optional<TrainError> Step(int64_t step, double lr, StepProfiler& profiler);
  std::optional<TrainError> CheckDivergence(int64_t step, double loss, double lr);
  void EmitProgress(const std::optional<EvalResult>& eval, double lr, double grad_norm);
  bool Checkpoint();
  int EmitResult();
  json ResultDetails(double epochs, int64_t epoch_tokens, double attempt_tps,
                     std::optional<double> attempt_mfu) const;

  EvalResult Eval() {
    return Evaluate(model_, corpus_.validation, eval_starts_, T_, micro_sequences_, device_,
                    autocast_);
  }

  const TrainerOptions& options_;
  const Clock::time_point attempt_start_ = Clock::now();

  // Configuration.
  RunConfig config_;
  int T_ = 0;  // context
  // Device.
  torch::Device device_{torch::kCPU};
  bool cuda_ = false;
  std::optional<GpuInfo> gpu_;
  std::optional<double> peak_flops_;
  bool autocast_ = false;  // bf16 autocast on CUDA; fp32 on CPU
  // Data and batches.
  Corpus corpus_;
  std::unique_ptr<TrainOrder> order_;
  std::vector<int64_t> eval_starts_;
  int64_t sequences_ = 0, batch_tokens_ = 0, total_steps_ = 0, micro_sequences_ = 0;
  // Model.
  model::ParamCount counts_;
  model::FlopsPerToken flops_;
  double flops_6n_ = 0;
  LanguageModel model_{nullptr};
  std::unique_ptr<AdamW> optimizer_;
  std::vector<torch::Tensor> params_;
  std::string lstm_cuda_dtype_;
  // Resume.
  LoopState state_;
  int64_t resumed_step_ = 0, resumed_tokens_ = 0;
  double wall_before_ = 0;
  LrSchedule schedule_;
  double uniform_loss_ = 0;
  // The loop.
  std::optional<EvalResult> last_eval_;
  double last_logged_train_loss_ = std::numeric_limits<double>::quiet_NaN();
  double train_seconds_since_log_ = 0;  // step time only (no eval, no checkpoint)
  int64_t tokens_since_log_ = 0;
  double train_seconds_attempt_ = 0;
  int64_t tokens_attempt_ = 0;
  double last_grad_norm_ = 0;
  Clock::time_point last_checkpoint_time_ = Clock::now();
  int64_t last_checkpoint_step_ = 0;
};

int Attempt::Run() {
  for (auto section : {&Attempt::Configure, &Attempt::SetUpDevice, &Attempt::LoadData}) {
    if (auto error = (this->*section)()) return Fail(*error);
  }
  PlanBatches();
  BuildModel();
  if (auto error = CheckModel()) return Fail(*error);
  if (auto error = Resume()) return Fail(*error);
  ProbeLstmDtype();
  EmitStarted();
  if (std::optional<int> code = Train()) return *code;
  return EmitResult();
}

// ---- Configuration ---------------------------------------------------------
std::optional<TrainError> Attempt::Configure() {
  TrainError error;
  if (!LoadRunConfig(options_.config_path, &config_, &error)) return error;
  TrainSettings& ts = config_.train;
  if (options_.checkpoint_interval_seconds >= 0)
    ts.checkpoint_interval_seconds = options_.checkpoint_interval_seconds;
  if (options_.checkpoint_interval_steps >= 0)
    ts.checkpoint_interval_steps = options_.checkpoint_interval_steps;
  if (options_.micro_batch_tokens >= 0) ts.micro_batch_tokens = options_.micro_batch_tokens;
  T_ = config_.shape.context;
  return std::nullopt;
}

// ---- Device ----------------------------------------------------------------
std::optional<TrainError> Attempt::SetUpDevice() {
  if (options_.threads < 1)
    return TrainError{ErrorKind::kBadConfig, "--threads must be at least 1"};
  at::set_num_threads(options_.threads);
  std::optional<torch::Device> parsed_device;
  if (options_.device == "cpu" || options_.device == "cuda" ||
      options_.device.rfind("cuda:", 0) == 0) {
    try {
      parsed_device = torch::Device(options_.device);
    } catch (const std::exception&) {
    }
  }
  if (!parsed_device) {
    return TrainError{ErrorKind::kBadConfig,
                      "--device must be cpu, cuda or cuda:K (got \"" + options_.device + "\")"};
  }
  device_ = *parsed_device;
  cuda_ = device_.is_cuda();
  if (cuda_) {
    if (!torch::cuda::is_available()) {
      return TrainError{ErrorKind::kInternal,
                        "--device " + options_.device +
                            " asked for, but this ladder-train's libtorch sees no CUDA device"};
    }
    if (!device_.has_index()) device_ = torch::Device(torch::kCUDA, 0);
    gpu_ = QueryCudaDevice(device_.index());
    AllowTf32();
  }
  peak_flops_ = gpu_ ? PeakBf16Flops(gpu_->name) : std::nullopt;
  autocast_ = cuda_;
  return std::nullopt;
}

// ---- Data ------------------------------------------------------------------
std::optional<TrainError> Attempt::LoadData() {
  TrainError error;
  const std::string data_dir = options_.data_dir.empty() ? DefaultDataDir() : options_.data_dir;
  if (!LoadCorpus(config_.data, data_dir, config_.shape.vocab, T_, &corpus_, &error)) {
    return error;
  }
  order_ = std::make_unique<TrainOrder>(corpus_.train.size(), T_, config_.train.seed);
  eval_starts_ = EvalWindowStarts(corpus_.validation.size(), T_, config_.train.eval_tokens);
  return std::nullopt;
}

// Batch geometry: whole sequences; the step count rounds D / batch.
void Attempt::PlanBatches() {
  const TrainSettings& ts = config_.train;
  sequences_ = std::max<int64_t>(1, std::llround(static_cast<double>(ts.batch_tokens) / T_));
  batch_tokens_ = sequences_ * T_;
  total_steps_ = std::max<int64_t>(1, std::llround(static_cast<double>(ts.tokens) / batch_tokens_));
  if (batch_tokens_ != ts.batch_tokens) {
    Log("train.batch_tokens " + std::to_string(ts.batch_tokens) + " is not a multiple of context " +
        std::to_string(T_) + "; using " + std::to_string(sequences_) +
        " sequences = " + std::to_string(batch_tokens_) + " tokens");
  }
  micro_sequences_ = sequences_;
  if (ts.micro_batch_tokens > 0) {
    micro_sequences_ = std::clamp<int64_t>(ts.micro_batch_tokens / T_, 1, sequences_);
  } else if (gpu_ && gpu_->total_memory_bytes > 0) {
    // Halve until the planner's memory estimate (bf16 activations) fits in
    // half the card, leaving room for the allocator and the eval.
    while (micro_sequences_ > 1 &&
           model::EstimateTrainingMemoryBytes(config_.shape, micro_sequences_ * T_, 2,
                                              /*attention_scores_stored=*/!kFusedAttention) >
               gpu_->total_memory_bytes / 2) {
      micro_sequences_ = (micro_sequences_ + 1) / 2;
    }
  }
}

// ---- Model -----------------------------------------------------------------
void Attempt::BuildModel() {
  const TrainSettings& ts = config_.train;
  torch::manual_seed(ts.seed);
  model_ = LanguageModel(config_.shape);
  model_->to(device_);
  std::vector<AdamW::Group> groups = {{model_->DecayedParameters(), ts.weight_decay},
                                      {model_->UndecayedParameters(), 0.0}};
  optimizer_ = std::make_unique<AdamW>(std::move(groups), ts.beta1, ts.beta2, ts.adam_eps);
  params_ = model_->parameters();
}

std::optional<TrainError> Attempt::CheckModel() {
  counts_ = model::CountParams(config_.shape);
  flops_ = model::ExactFlopsPerToken(config_.shape);
  flops_6n_ = model::SixNFlopsPerToken(config_.shape);
  int64_t built_params = 0;
  for (const auto& p : model_->parameters()) built_params += p.numel();
  if (built_params != counts_.total || model_->EmbeddingParameterCount() != counts_.embedding) {
    return TrainError{ErrorKind::kInternal, "model has " + std::to_string(built_params) +
                                                " parameters but CountParams says " +
                                                std::to_string(counts_.total)};
  }
  return std::nullopt;
}

// ---- Resume ----------------------------------------------------------------
std::optional<TrainError> Attempt::Resume() {
  if (!MakeDirs(options_.work_dir)) {
    return TrainError{ErrorKind::kBadConfig, "cannot create --work-dir " + options_.work_dir};
  }
  const auto resumed = LoadLatestCheckpoint(options_.work_dir, config_.fingerprint, model_,
                                            *optimizer_, &state_, device_);
  if (resumed) {
    Log("resumed from " + *resumed + " at step " + std::to_string(state_.step));
  } else {
    state_ = LoopState();
    BuildModel();  // a skipped checkpoint may have been half-read
  }
  resumed_step_ = state_.step;
  resumed_tokens_ = state_.tokens;
  wall_before_ = state_.wall_seconds;
  last_checkpoint_step_ = state_.step;
  const TrainSettings& ts = config_.train;
  schedule_ = MakeLrSchedule(ts.lr, ts.min_lr_ratio, ts.warmup_fraction, total_steps_);
  uniform_loss_ = std::log(static_cast<double>(config_.shape.vocab));
  return std::nullopt;
}

// On CUDA an LSTM runs in bf16 if cuDNN can; probe once, else use fp32 (TF32).
void Attempt::ProbeLstmDtype() {
  if (!cuda_ || config_.shape.family != model::Family::kLstm) return;
  lstm_cuda_dtype_ = "bf16";
  try {
    const int64_t probe_start = 0;
    ForwardBackward(model_, {GatherBatch(corpus_.train, &probe_start, 1, T_, device_)}, true);
  } catch (const std::exception& e) {
    std::string what = e.what();
    Log("bf16 LSTM failed on this GPU (" + what.substr(0, what.find('\n')) +
        "); using fp32 with TF32");
    model_->SetLstmCudaDtype(torch::kFloat32);
    lstm_cuda_dtype_ = "fp32 (TF32)";
  }
  optimizer_->ZeroGrad();
}

void Attempt::EmitStarted() {
  StartedEvent e;
  e.trainer = "ladder-train";
  e.version = "0.1.0 (libtorch " + TorchVersion() + ")";
  e.simulated = false;
  e.device = options_.device;
  e.threads = options_.threads;
  e.params_total = counts_.total;
  e.params_non_embedding = counts_.non_embedding;
  e.flops_per_token = flops_.training;
  e.flops_per_token_6n = flops_6n_;
  e.total_steps = total_steps_;
  e.resumed_from_step = resumed_step_;
  e.resumed_from_tokens = resumed_tokens_;
  EmitEvent(e);
  Log("run " + std::to_string(config_.run_id) + ": " + model::DescribeShape(config_.shape) + ", " +
      std::to_string(counts_.total) + " params, " + std::to_string(total_steps_) + " steps of " +
      std::to_string(batch_tokens_) + " tokens (" + std::to_string(micro_sequences_) +
      " sequences per micro-batch) on " + options_.device + (gpu_ ? " (" + gpu_->name + ")" : "") +
      "; data " + corpus_.description);
}

// ---- Training loop ---------------------------------------------------------
bool Attempt::Checkpoint() {
  state_.wall_seconds = wall_before_ + SecondsSince(attempt_start_);
  std::string err;
  const std::string path =
      SaveCheckpoint(options_.work_dir, config_.fingerprint, model_, *optimizer_, state_, &err);
  last_checkpoint_time_ = Clock::now();
  last_checkpoint_step_ = state_.step;
  if (path.empty()) {
    Log("checkpoint failed: " + err);
    return false;
  }
  EmitEvent(protocol::CheckpointEvent{state_.step, state_.tokens});
  return true;
}

std::optional<int> Attempt::Train() {
  const TrainSettings& ts = config_.train;
  StepProfiler profiler(cuda_);  // LADDER_TRAIN_PROFILE (worker/train/step_profiler.h)
  last_checkpoint_time_ = Clock::now();
  while (state_.step < total_steps_) {
    if (g_stop_requested.load()) {
      Log("SIGTERM: checkpointing at step " + std::to_string(state_.step) + " and stopping");
      Checkpoint();
      return kExitStopped;
    }
    const int64_t step = state_.step;  // 0-based index of this step
    profiler.BeforeStep(step);
    const double lr = schedule_.At(step);
    if (auto error = Step(step, lr, profiler)) return Fail(*error);

    // Held-out eval every eval_interval_tokens, and after the last step.
    const bool last_step = state_.step == total_steps_;
    const bool eval_now =
        last_step || (ts.eval_interval_tokens > 0 &&
                      state_.tokens / ts.eval_interval_tokens >
                          (state_.tokens - batch_tokens_) / ts.eval_interval_tokens);
    std::optional<EvalResult> eval;
    if (eval_now) {
      eval = Eval();
      if (!std::isfinite(eval->loss)) {
        return Fail(ErrorKind::kNonFinite,
                    "eval loss is not finite at step " + std::to_string(state_.step));
      }
      last_eval_ = eval;
    }
    if (state_.step % ts.log_interval_steps == 0 || eval_now) {
      EmitProgress(eval, lr, last_grad_norm_);
    }

    // Checkpoint every so often (not after the last step: the result follows).
    const bool time_due = ts.checkpoint_interval_seconds > 0 &&
                          SecondsSince(last_checkpoint_time_) >= ts.checkpoint_interval_seconds;
    const bool steps_due = ts.checkpoint_interval_steps > 0 &&
                           state_.step - last_checkpoint_step_ >= ts.checkpoint_interval_steps;
    if (!last_step && (time_due || steps_due)) Checkpoint();
  }
  return std::nullopt;
}

// One optimizer step: batch -> forward/backward -> clip -> AdamW -> checks.
std::optional<TrainError> Attempt::Step(int64_t step, double lr, StepProfiler& profiler) {
  const auto step_start = Clock::now();
  // Batch: windows step*B .. step*B+B-1 of the data order, in micro-batches.
  std::vector<int64_t> starts(sequences_);
  for (int64_t i = 0; i < sequences_; ++i) starts[i] = order_->WindowStart(step * sequences_ + i);
  std::vector<Batch> micro;
  for (int64_t i = 0; i < sequences_; i += micro_sequences_) {
    micro.push_back(GatherBatch(corpus_.train, starts.data() + i,
                                std::min(micro_sequences_, sequences_ - i), T_, device_));
  }

  // Forward, backward, clip, update.
  const double loss = ForwardBackward(model_, micro, autocast_).item<double>();
  const double grad_norm = ClipGradNorm(params_, config_.train.grad_clip);
  if (!std::isfinite(loss) || !std::isfinite(grad_norm)) {
    auto show = [](double v) { return std::isnan(v) ? std::string("nan") : std::to_string(v); };
    std::ostringstream m;
    m << "train loss " << show(loss) << " and gradient norm " << show(grad_norm) << " at step "
      << step + 1 << " (lr " << lr << ")";
    return TrainError{ErrorKind::kNonFinite, m.str()};
  }
  optimizer_->Step(lr);
  optimizer_->ZeroGrad();
  profiler.AfterStep(step);

  state_.step += 1;
  state_.tokens += batch_tokens_;
  state_.loss_sum += loss;
  state_.loss_count += 1;
  const double step_seconds = SecondsSince(step_start);
  train_seconds_since_log_ += step_seconds;
  train_seconds_attempt_ += step_seconds;
  tokens_since_log_ += batch_tokens_;
  tokens_attempt_ += batch_tokens_;
  last_grad_norm_ = grad_norm;
  return CheckDivergence(step, loss, lr);
}

std::optional<TrainError> Attempt::CheckDivergence(int64_t step, double loss, double lr) {
  state_.loss_ema =
      state_.ema_started ? (1 - kEmaWeight) * state_.loss_ema + kEmaWeight * loss : loss;
  state_.best_loss_ema =
      state_.ema_started ? std::min(state_.best_loss_ema, state_.loss_ema) : state_.loss_ema;
  state_.ema_started = true;
  if (state_.loss_ema > kUniformFactor * uniform_loss_ ||
      (step >= schedule_.warmup_steps && state_.loss_ema > state_.best_loss_ema + kRiseNats)) {
    std::ostringstream m;
    m << "train loss diverged at step " << state_.step << ": moving average " << state_.loss_ema
      << " (best " << state_.best_loss_ema << ", uniform guess " << uniform_loss_ << ", lr " << lr
      << ")";
    return TrainError{ErrorKind::kDiverged, m.str()};
  }
  return std::nullopt;
}

void Attempt::EmitProgress(const std::optional<EvalResult>& eval, double lr, double grad_norm) {
  const double train_loss = state_.loss_sum / state_.loss_count;
  const double tps =
      train_seconds_since_log_ > 0 ? tokens_since_log_ / train_seconds_since_log_ : 0.0;
  ProgressEvent e;
  e.step = state_.step;
  e.tokens = state_.tokens;
  e.flops = flops_.training * static_cast<double>(state_.tokens);
  e.train_loss = train_loss;  // the writer writes a non-finite number as null
  if (eval) e.eval_loss = eval->loss;
  e.lr = lr;
  e.grad_norm = grad_norm;
  e.tokens_per_second = tps;
  e.flops_per_second = tps * flops_.training;
  e.mfu = Mfu(tps * flops_.training, peak_flops_);
  EmitEvent(e);
  last_logged_train_loss_ = train_loss;
  state_.loss_sum = 0;
  state_.loss_count = 0;
  train_seconds_since_log_ = 0;
  tokens_since_log_ = 0;
}

// ---- Result ----------------------------------------------------------------
int Attempt::EmitResult() {
  // A run resumed after its last step (killed during the final eval) still
  // owes the eval.
  if (!last_eval_) last_eval_ = Eval();
  const int64_t epoch_tokens = order_->tokens_per_epoch();
  const double epochs = static_cast<double>(state_.tokens) / static_cast<double>(epoch_tokens);
  const double attempt_tps =
      train_seconds_attempt_ > 0 ? tokens_attempt_ / train_seconds_attempt_ : 0.0;
  ResultEvent r;
  r.final_eval_loss = last_eval_->loss;
  if (std::isfinite(last_logged_train_loss_)) r.final_train_loss = last_logged_train_loss_;
  r.params_total = counts_.total;
  r.params_non_embedding = counts_.non_embedding;
  r.tokens = state_.tokens;
  r.unique_tokens = std::min(state_.tokens, epoch_tokens);
  r.epochs = epochs;
  r.flops = flops_.training * static_cast<double>(state_.tokens);
  r.flops_6n = flops_6n_ * static_cast<double>(state_.tokens);
  r.wall_seconds = wall_before_ + SecondsSince(attempt_start_);
  r.device = options_.device;
  r.simulated = false;
  r.peak_memory_bytes = PeakMemoryBytes(cuda_ ? std::optional<int>(device_.index()) : std::nullopt);
  r.corpus_tokens = static_cast<int64_t>(corpus_.train.size());  // after the unique_tokens cap
  r.details = ResultDetails(epochs, epoch_tokens, attempt_tps,
                            Mfu(attempt_tps * flops_.training, peak_flops_));
  EmitEvent(r);
  return kExitOk;
}

json Attempt::ResultDetails(double epochs, int64_t epoch_tokens, double attempt_tps,
                            std::optional<double> attempt_mfu) const {
  const TrainSettings& ts = config_.train;
  const model::ModelShape& shape = config_.shape;
  return {
      {"shape", model::DescribeShape(shape)},
      {"family", model::FamilyName(shape.family)},
      {"mixer", model_->DescribeMixer()},
      {"tie_embeddings", shape.tie_embeddings},
      {"initialisation", shape.family == model::Family::kTransformer
                             ? "GPT-2: embeddings and linear weights N(0, 0.02), residual "
                               "projections N(0, 0.02/sqrt(2 n_layer)), biases 0, LayerNorm 1/0"
                             : "embedding (and untied readout) N(0, 0.02); LSTM weights and biases "
                               "PyTorch default U(-1/sqrt(d), 1/sqrt(d)); LayerNorm 1/0"},
      {"params",
       {{"total", counts_.total},
        {"non_embedding", counts_.non_embedding},
        {"embedding", counts_.embedding}}},
      {"flops_per_token",
       {{"embedding", flops_.embedding},
        {"mixer", flops_.mixer},
        {"mlp", flops_.mlp},
        {"readout", flops_.readout},
        {"forward", flops_.forward},
        {"training", flops_.training},
        {"six_n", flops_6n_}}},
      {"flops_counting",
       "Hoffmann et al. 2022 app. F: embedding lookup counted, causal attention not halved, "
       "training = 3 x forward"},
      {"optimizer",
       {{"name", "AdamW"},
        {"beta1", ts.beta1},
        {"beta2", ts.beta2},
        {"eps", ts.adam_eps},
        {"weight_decay", ts.weight_decay},
        {"no_decay",
         "biases, LayerNorm gains and biases, token and position embeddings (so a tied readout)"}}},
      {"schedule",
       {{"kind", "linear warmup, cosine decay"},
        {"peak_lr", ts.lr},
        {"min_lr", ts.lr * ts.min_lr_ratio},
        {"warmup_steps", schedule_.warmup_steps},
        {"total_steps", total_steps_}}},
      {"grad_clip", ts.grad_clip},
      {"batch",
       {{"sequences", sequences_},
        {"context", T_},
        {"batch_tokens", batch_tokens_},
        {"micro_batch_sequences", micro_sequences_}}},
      {"data",
       {{"dataset", corpus_.name},
        {"description", corpus_.description},
        {"train_split_tokens", corpus_.train_split_tokens},
        {"unique_tokens_cap", corpus_.train.size()},
        {"tokens_per_epoch", epoch_tokens},
        {"epochs", epochs},
        {"validation_tokens", corpus_.validation.size()}}},
      {"eval",
       {{"sequences", static_cast<int64_t>(eval_starts_.size())},
        {"tokens", last_eval_->tokens},
        {"loss_stderr", last_eval_->standard_error},
        {"positions",
         "fixed windows evenly spaced over the validation split, independent of the seed"}}},
      {"precision", cuda_ ? "bf16 autocast, TF32 fp32 matmuls" : "fp32"},
      {"lstm_cuda_dtype", lstm_cuda_dtype_.empty() ? json() : json(lstm_cuda_dtype_)},
      {"optimizer_fused", cuda_ && LADDER_TORCH_AT_LEAST(2, 1)},
      {"torch_version", TorchVersion()},
      {"threads", options_.threads},
      {"seed", ts.seed},
      {"steps", state_.step},
      {"resumed_from_step", resumed_step_},
      {"attempt_wall_seconds", SecondsSince(attempt_start_)},
      {"tokens_per_second", attempt_tps},
      {"mfu", attempt_mfu ? json(*attempt_mfu) : json()},
      {"gpu", gpu_ ? json(gpu_->name) : json()},
      {"peak_flops", peak_flops_ ? json(*peak_flops_) : json()},
  };
}

}  // namespace

int RunTrainer(const TrainerOptions& options) try {
  return Attempt(options).Run();
} catch (const std::exception& e) {
  std::string what = e.what();
  return Fail(ErrorKind::kInternal, what.substr(0, what.find('\n')));
}

}  // namespace ladder::train
