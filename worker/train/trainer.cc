// ladder-train's training loop, top to bottom: configuration, device, data,
// model, optimizer, resume, then the loop (batch -> forward/backward -> clip
// -> AdamW -> checks -> eval -> log -> checkpoint), then the final eval and
// the result event.
#include "worker/train/trainer.h"

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

namespace ladder::train {

using nlohmann::json;
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

int RunTrainer(const TrainerOptions& options) try {
  const auto attempt_start = Clock::now();

  // ---- Configuration -------------------------------------------------------
  RunConfig config;
  TrainError error;
  if (!LoadRunConfig(options.config_path, &config, &error)) return Fail(error);
  TrainSettings& ts = config.train;
  if (options.checkpoint_interval_seconds >= 0)
    ts.checkpoint_interval_seconds = options.checkpoint_interval_seconds;
  if (options.checkpoint_interval_steps >= 0)
    ts.checkpoint_interval_steps = options.checkpoint_interval_steps;
  if (options.micro_batch_tokens >= 0) ts.micro_batch_tokens = options.micro_batch_tokens;
  const model::ModelShape& shape = config.shape;
  const int T = shape.context;

  // ---- Device --------------------------------------------------------------
  if (options.threads < 1) return Fail(ErrorKind::kBadConfig, "--threads must be at least 1");
  at::set_num_threads(options.threads);
  std::optional<torch::Device> parsed_device;
  if (options.device == "cpu" || options.device == "cuda" ||
      options.device.rfind("cuda:", 0) == 0) {
    try {
      parsed_device = torch::Device(options.device);
    } catch (const std::exception&) {
    }
  }
  if (!parsed_device) {
    return Fail(ErrorKind::kBadConfig,
                "--device must be cpu, cuda or cuda:K (got \"" + options.device + "\")");
  }
  torch::Device device = *parsed_device;
  const bool cuda = device.is_cuda();
  std::optional<GpuInfo> gpu;
  if (cuda) {
    if (!torch::cuda::is_available()) {
      return Fail(ErrorKind::kInternal,
                  "--device " + options.device +
                      " asked for, but this ladder-train's libtorch sees no CUDA device");
    }
    if (!device.has_index()) device = torch::Device(torch::kCUDA, 0);
    gpu = QueryCudaDevice(device.index());
    AllowTf32();
  }
  const std::optional<double> peak_flops = gpu ? PeakBf16Flops(gpu->name) : std::nullopt;
  const bool autocast = cuda;  // bf16 autocast on CUDA; fp32 on CPU

  // ---- Data ----------------------------------------------------------------
  Corpus corpus;
  const std::string data_dir = options.data_dir.empty() ? DefaultDataDir() : options.data_dir;
  if (!LoadCorpus(config.data, data_dir, shape.vocab, T, &corpus, &error)) return Fail(error);
  TrainOrder order(corpus.train.size(), T, ts.seed);
  const std::vector<int64_t> eval_starts =
      EvalWindowStarts(corpus.validation.size(), T, ts.eval_tokens);

  // Batch geometry: whole sequences; the step count rounds D / batch.
  const int64_t sequences =
      std::max<int64_t>(1, std::llround(static_cast<double>(ts.batch_tokens) / T));
  const int64_t batch_tokens = sequences * T;
  const int64_t total_steps =
      std::max<int64_t>(1, std::llround(static_cast<double>(ts.tokens) / batch_tokens));
  if (batch_tokens != ts.batch_tokens) {
    Log("train.batch_tokens " + std::to_string(ts.batch_tokens) + " is not a multiple of context " +
        std::to_string(T) + "; using " + std::to_string(sequences) +
        " sequences = " + std::to_string(batch_tokens) + " tokens");
  }
  int64_t micro_sequences = sequences;
  if (ts.micro_batch_tokens > 0) {
    micro_sequences = std::clamp<int64_t>(ts.micro_batch_tokens / T, 1, sequences);
  } else if (gpu && gpu->total_memory_bytes > 0) {
    // Halve until the planner's memory estimate (bf16 activations) fits in
    // half the card, leaving room for the allocator and the eval.
    while (micro_sequences > 1 &&
           model::EstimateTrainingMemoryBytes(shape, micro_sequences * T, 2,
                                              /*attention_scores_stored=*/!kFusedAttention) >
               gpu->total_memory_bytes / 2) {
      micro_sequences = (micro_sequences + 1) / 2;
    }
  }

  // ---- Model ---------------------------------------------------------------
  const model::ParamCount counts = model::CountParams(shape);
  const model::FlopsPerToken flops = model::ExactFlopsPerToken(shape);
  const double flops_6n = model::SixNFlopsPerToken(shape);
  auto build = [&](LanguageModel* model, std::unique_ptr<AdamW>* optimizer) {
    torch::manual_seed(ts.seed);
    *model = LanguageModel(shape);
    (*model)->to(device);
    std::vector<AdamW::Group> groups = {{(*model)->DecayedParameters(), ts.weight_decay},
                                        {(*model)->UndecayedParameters(), 0.0}};
    *optimizer = std::make_unique<AdamW>(std::move(groups), ts.beta1, ts.beta2, ts.adam_eps);
  };
  LanguageModel model{nullptr};
  std::unique_ptr<AdamW> optimizer;
  build(&model, &optimizer);
  int64_t built_params = 0;
  for (const auto& p : model->parameters()) built_params += p.numel();
  if (built_params != counts.total || model->EmbeddingParameterCount() != counts.embedding) {
    return Fail(ErrorKind::kInternal, "model has " + std::to_string(built_params) +
                                          " parameters but CountParams says " +
                                          std::to_string(counts.total));
  }
  std::vector<torch::Tensor> params = model->parameters();

  // ---- Resume --------------------------------------------------------------
  if (!MakeDirs(options.work_dir)) {
    return Fail(ErrorKind::kBadConfig, "cannot create --work-dir " + options.work_dir);
  }
  LoopState state;
  const auto resumed =
      LoadLatestCheckpoint(options.work_dir, config.fingerprint, model, *optimizer, &state, device);
  if (resumed) {
    Log("resumed from " + *resumed + " at step " + std::to_string(state.step));
  } else {
    state = LoopState();
    build(&model, &optimizer);  // a skipped checkpoint may have been half-read
    params = model->parameters();
  }

  // On CUDA an LSTM runs in bf16 if cuDNN can; probe once, else use fp32 (TF32).
  std::string lstm_cuda_dtype;
  if (cuda && shape.family == model::Family::kLstm) {
    lstm_cuda_dtype = "bf16";
    try {
      const int64_t probe_start = 0;
      ForwardBackward(model, {GatherBatch(corpus.train, &probe_start, 1, T, device)}, true);
    } catch (const std::exception& e) {
      std::string what = e.what();
      Log("bf16 LSTM failed on this GPU (" + what.substr(0, what.find('\n')) +
          "); using fp32 with TF32");
      model->SetLstmCudaDtype(torch::kFloat32);
      lstm_cuda_dtype = "fp32 (TF32)";
    }
    optimizer->ZeroGrad();
  }

  const int64_t resumed_step = state.step, resumed_tokens = state.tokens;
  const double wall_before = state.wall_seconds;

  const LrSchedule schedule =
      MakeLrSchedule(ts.lr, ts.min_lr_ratio, ts.warmup_fraction, total_steps);
  const double uniform_loss = std::log(static_cast<double>(shape.vocab));

  EmitEvent({{"event", "started"},
             {"trainer", "ladder-train"},
             {"version", "0.1.0 (libtorch " + TorchVersion() + ")"},
             {"simulated", false},
             {"device", options.device},
             {"threads", options.threads},
             {"params_total", counts.total},
             {"params_non_embedding", counts.non_embedding},
             {"flops_per_token", flops.training},
             {"flops_per_token_6n", flops_6n},
             {"total_steps", total_steps},
             {"resumed_from_step", resumed_step},
             {"resumed_from_tokens", resumed_tokens}});
  Log("run " + std::to_string(config.run_id) + ": " + model::DescribeShape(shape) + ", " +
      std::to_string(counts.total) + " params, " + std::to_string(total_steps) + " steps of " +
      std::to_string(batch_tokens) + " tokens (" + std::to_string(micro_sequences) +
      " sequences per micro-batch) on " + options.device + (gpu ? " (" + gpu->name + ")" : "") +
      "; data " + corpus.description);

  // ---- Training loop -------------------------------------------------------
  std::optional<EvalResult> last_eval;
  double last_logged_train_loss = std::numeric_limits<double>::quiet_NaN();
  double train_seconds_since_log = 0;  // step time only (no eval, no checkpoint)
  int64_t tokens_since_log = 0;
  double train_seconds_attempt = 0;
  int64_t tokens_attempt = 0;
  auto last_checkpoint_time = Clock::now();
  int64_t last_checkpoint_step = state.step;
  std::vector<int64_t> starts(sequences);
  StepProfiler profiler(cuda);  // LADDER_TRAIN_PROFILE (worker/train/step_profiler.h)

  auto checkpoint = [&]() -> bool {
    state.wall_seconds = wall_before + SecondsSince(attempt_start);
    std::string err;
    const std::string path =
        SaveCheckpoint(options.work_dir, config.fingerprint, model, *optimizer, state, &err);
    last_checkpoint_time = Clock::now();
    last_checkpoint_step = state.step;
    if (path.empty()) {
      Log("checkpoint failed: " + err);
      return false;
    }
    EmitEvent({{"event", "checkpoint"}, {"step", state.step}, {"tokens", state.tokens}});
    return true;
  };

  while (state.step < total_steps) {
    if (g_stop_requested.load()) {
      Log("SIGTERM: checkpointing at step " + std::to_string(state.step) + " and stopping");
      checkpoint();
      return kExitStopped;
    }
    const int64_t step = state.step;  // 0-based index of this step
    profiler.BeforeStep(step);
    const auto step_start = Clock::now();
    const double lr = schedule.At(step);

    // Batch: windows step*B .. step*B+B-1 of the data order, in micro-batches.
    for (int64_t i = 0; i < sequences; ++i) starts[i] = order.WindowStart(step * sequences + i);
    std::vector<Batch> micro;
    for (int64_t i = 0; i < sequences; i += micro_sequences) {
      micro.push_back(GatherBatch(corpus.train, starts.data() + i,
                                  std::min(micro_sequences, sequences - i), T, device));
    }

    // Forward, backward, clip, update.
    const double loss = ForwardBackward(model, micro, autocast).item<double>();
    const double grad_norm = ClipGradNorm(params, ts.grad_clip);
    if (!std::isfinite(loss) || !std::isfinite(grad_norm)) {
      auto show = [](double v) { return std::isnan(v) ? std::string("nan") : std::to_string(v); };
      std::ostringstream m;
      m << "train loss " << show(loss) << " and gradient norm " << show(grad_norm) << " at step "
        << step + 1 << " (lr " << lr << ")";
      return Fail(ErrorKind::kNonFinite, m.str());
    }
    optimizer->Step(lr);
    optimizer->ZeroGrad();
    profiler.AfterStep(step);

    state.step += 1;
    state.tokens += batch_tokens;
    state.loss_sum += loss;
    state.loss_count += 1;
    const double step_seconds = SecondsSince(step_start);
    train_seconds_since_log += step_seconds;
    train_seconds_attempt += step_seconds;
    tokens_since_log += batch_tokens;
    tokens_attempt += batch_tokens;

    // Divergence.
    state.loss_ema =
        state.ema_started ? (1 - kEmaWeight) * state.loss_ema + kEmaWeight * loss : loss;
    state.best_loss_ema =
        state.ema_started ? std::min(state.best_loss_ema, state.loss_ema) : state.loss_ema;
    state.ema_started = true;
    if (state.loss_ema > kUniformFactor * uniform_loss ||
        (step >= schedule.warmup_steps && state.loss_ema > state.best_loss_ema + kRiseNats)) {
      std::ostringstream m;
      m << "train loss diverged at step " << state.step << ": moving average " << state.loss_ema
        << " (best " << state.best_loss_ema << ", uniform guess " << uniform_loss << ", lr " << lr
        << ")";
      return Fail(ErrorKind::kDiverged, m.str());
    }

    // Held-out eval every eval_interval_tokens, and after the last step.
    const bool last_step = state.step == total_steps;
    const bool eval_now =
        last_step || (ts.eval_interval_tokens > 0 &&
                      state.tokens / ts.eval_interval_tokens >
                          (state.tokens - batch_tokens) / ts.eval_interval_tokens);
    std::optional<EvalResult> eval;
    if (eval_now) {
      eval = Evaluate(model, corpus.validation, eval_starts, T, micro_sequences, device, autocast);
      if (!std::isfinite(eval->loss)) {
        return Fail(ErrorKind::kNonFinite,
                    "eval loss is not finite at step " + std::to_string(state.step));
      }
      last_eval = eval;
    }

    // Progress line.
    if (state.step % ts.log_interval_steps == 0 || eval_now) {
      const double train_loss = state.loss_sum / state.loss_count;
      const double tps =
          train_seconds_since_log > 0 ? tokens_since_log / train_seconds_since_log : 0.0;
      const std::optional<double> mfu = Mfu(tps * flops.training, peak_flops);
      EmitEvent({{"event", "progress"},
                 {"step", state.step},
                 {"tokens", state.tokens},
                 {"flops", flops.training * static_cast<double>(state.tokens)},
                 {"train_loss", NumberOrNull(train_loss)},
                 {"eval_loss", eval ? json(eval->loss) : json()},
                 {"lr", lr},
                 {"grad_norm", NumberOrNull(grad_norm)},
                 {"tokens_per_second", tps},
                 {"flops_per_second", tps * flops.training},
                 {"mfu", mfu ? json(*mfu) : json()}});
      last_logged_train_loss = train_loss;
      state.loss_sum = 0;
      state.loss_count = 0;
      train_seconds_since_log = 0;
      tokens_since_log = 0;
    }

    // Checkpoint every so often (not after the last step: the result follows).
    const bool time_due = ts.checkpoint_interval_seconds > 0 &&
                          SecondsSince(last_checkpoint_time) >= ts.checkpoint_interval_seconds;
    const bool steps_due = ts.checkpoint_interval_steps > 0 &&
                           state.step - last_checkpoint_step >= ts.checkpoint_interval_steps;
    if (!last_step && (time_due || steps_due)) checkpoint();
  }

  // ---- Result --------------------------------------------------------------
  // A run resumed after its last step (killed during the final eval) still
  // owes the eval.
  if (!last_eval) {
    last_eval =
        Evaluate(model, corpus.validation, eval_starts, T, micro_sequences, device, autocast);
  }
  const double wall_seconds = wall_before + SecondsSince(attempt_start);
  const int64_t epoch_tokens = order.tokens_per_epoch();
  const double epochs = static_cast<double>(state.tokens) / static_cast<double>(epoch_tokens);
  const int64_t unique_tokens = std::min(state.tokens, epoch_tokens);
  const double attempt_tps =
      train_seconds_attempt > 0 ? tokens_attempt / train_seconds_attempt : 0.0;
  const std::optional<double> attempt_mfu = Mfu(attempt_tps * flops.training, peak_flops);

  json details = {
      {"shape", model::DescribeShape(shape)},
      {"family", model::FamilyName(shape.family)},
      {"mixer", model->DescribeMixer()},
      {"tie_embeddings", shape.tie_embeddings},
      {"initialisation", shape.family == model::Family::kTransformer
                             ? "GPT-2: embeddings and linear weights N(0, 0.02), residual "
                               "projections N(0, 0.02/sqrt(2 n_layer)), biases 0, LayerNorm 1/0"
                             : "embedding (and untied readout) N(0, 0.02); LSTM weights and biases "
                               "PyTorch default U(-1/sqrt(d), 1/sqrt(d)); LayerNorm 1/0"},
      {"params",
       {{"total", counts.total},
        {"non_embedding", counts.non_embedding},
        {"embedding", counts.embedding}}},
      {"flops_per_token",
       {{"embedding", flops.embedding},
        {"mixer", flops.mixer},
        {"mlp", flops.mlp},
        {"readout", flops.readout},
        {"forward", flops.forward},
        {"training", flops.training},
        {"six_n", flops_6n}}},
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
        {"warmup_steps", schedule.warmup_steps},
        {"total_steps", total_steps}}},
      {"grad_clip", ts.grad_clip},
      {"batch",
       {{"sequences", sequences},
        {"context", T},
        {"batch_tokens", batch_tokens},
        {"micro_batch_sequences", micro_sequences}}},
      {"data",
       {{"dataset", corpus.name},
        {"description", corpus.description},
        {"train_split_tokens", corpus.train_split_tokens},
        {"unique_tokens_cap", corpus.train.size()},
        {"tokens_per_epoch", epoch_tokens},
        {"epochs", epochs},
        {"validation_tokens", corpus.validation.size()}}},
      {"eval",
       {{"sequences", static_cast<int64_t>(eval_starts.size())},
        {"tokens", last_eval->tokens},
        {"loss_stderr", last_eval->standard_error},
        {"positions",
         "fixed windows evenly spaced over the validation split, independent of the seed"}}},
      {"precision", cuda ? "bf16 autocast, TF32 fp32 matmuls" : "fp32"},
      {"lstm_cuda_dtype", lstm_cuda_dtype.empty() ? json() : json(lstm_cuda_dtype)},
      {"optimizer_fused", cuda && LADDER_TORCH_AT_LEAST(2, 1)},
      {"torch_version", TorchVersion()},
      {"threads", options.threads},
      {"seed", ts.seed},
      {"steps", state.step},
      {"resumed_from_step", resumed_step},
      {"attempt_wall_seconds", SecondsSince(attempt_start)},
      {"tokens_per_second", attempt_tps},
      {"mfu", attempt_mfu ? json(*attempt_mfu) : json()},
      {"gpu", gpu ? json(gpu->name) : json()},
      {"peak_flops", peak_flops ? json(*peak_flops) : json()},
  };
  EmitEvent({{"event", "result"},
             {"final_eval_loss", last_eval->loss},
             {"final_train_loss", NumberOrNull(last_logged_train_loss)},
             {"params_total", counts.total},
             {"params_non_embedding", counts.non_embedding},
             {"tokens", state.tokens},
             {"unique_tokens", unique_tokens},
             {"epochs", epochs},
             {"flops", flops.training * static_cast<double>(state.tokens)},
             {"flops_6n", flops_6n * static_cast<double>(state.tokens)},
             {"wall_seconds", wall_seconds},
             {"device", options.device},
             {"simulated", false},
             {"details", details}});
  return kExitOk;
} catch (const std::exception& e) {
  std::string what = e.what();
  return Fail(ErrorKind::kInternal, what.substr(0, what.find('\n')));
}

}  // namespace ladder::train
