// ladder predict SWEEP --family F (--params N --tokens D | --compute C) [--form F]
// ladder optimal SWEEP --family F --compute C
#include <iostream>

#include "client/commands.h"
#include "client/format.h"
#include "common/enums/enums.h"

namespace ladder::cli {
namespace {

std::string Band(const v1::Interval& i, int digits = 4) {
  return Sci(i.estimate(), digits) + "  [95%: " + Sci(i.lower(), digits) + ", " +
         Sci(i.upper(), digits) + "]";
}

// INVALID_ARGUMENT messages start with the request field, which is also the
// flag's name here: say "--compute: ..." so the user sees what to fix.
grpc::Status FlagNamed(const grpc::Status& st) {
  if (st.error_code() != grpc::StatusCode::INVALID_ARGUMENT) return st;
  return grpc::Status(st.error_code(), "--" + st.error_message());
}

// "7.3e+07 tokens = 0.77 epochs of the corpus (9.5e+07 unique tokens)":
// the data a target needs, against what the sweep's corpus holds.
std::string Epochs(double tokens, double unique_tokens, double epochs) {
  if (!(tokens > 0)) return "";
  std::string line = Sci(tokens) + " tokens";
  if (unique_tokens > 0 && epochs > 0) {
    line += " = " + Sci(epochs, 2) + " epochs of the corpus (" + Sci(unique_tokens, 2) +
            " unique tokens)";
  } else {
    line += " (the corpus's size is unknown)";
  }
  return line;
}

std::string Extrapolation(double factor) {
  if (!std::isfinite(factor) || factor <= 1.0) return "within the trained range";
  return Sci(factor, 3) + "x beyond the largest trained run";
}

}  // namespace

void AddPredictCommand(CLI::App& app, CliContext& ctx, int* exit_code) {
  auto* cmd = app.add_subcommand(
      "predict", "Predicted eval loss at (N params, D tokens) or at compute C, with interval");
  auto* req = new v1::PredictLossRequest;
  auto* sweep_id = new int64_t(0);
  auto* family = new std::string;
  auto *params = new double(0), *tokens = new double(0), *compute = new double(0);
  cmd->add_option("SWEEP", *sweep_id, "sweep id")->required();
  cmd->add_option("--family", *family, "family (e.g. transformer)")->required();
  cmd->add_option("--params", *params, "N, non-embedding parameters");
  cmd->add_option("--tokens", *tokens, "D, training tokens");
  cmd->add_option("--compute", *compute, "C, training FLOPs");
  cmd->add_option("--form", *req->mutable_form(),
                  "answer from this form's fit (" + enums::NameList<enums::FitForm>() +
                      "; default: the first usable, see README)");
  cmd->callback([&ctx, exit_code, req, sweep_id, family, params, tokens, compute] {
    auto* stub = ctx.fits();
    if (!stub) {
      *exit_code = 2;
      return;
    }
    req->set_sweep_id(*sweep_id);
    req->set_family(*family);
    req->set_params(*params);
    req->set_tokens(*tokens);
    req->set_compute(*compute);
    v1::PredictLossResponse resp;
    grpc::Status st = stub->PredictLoss(ctx.Call().get(), *req, &resp);
    if (!st.ok()) {
      *exit_code = ctx.Fail(FlagNamed(st), "predict");
      return;
    }
    if (ctx.json()) {
      std::cout << ToJson(resp) << "\n";
    } else {
      std::cout << *family << " at "
                << (*compute > 0 ? "C = " + Sci(*compute) + " FLOPs"
                                 : "N = " + Sci(*params) + ", D = " + Sci(*tokens))
                << ": loss " << Band(resp.loss()) << " nats/token\n  from the " << resp.form()
                << " fit (id " << resp.fit_id() << "), "
                << Extrapolation(resp.extrapolation_factor()) << "\n";
      // The law's interval is where the mean over seeds should be; one run
      // also carries its own noise (the fit's residual scatter).
      if (std::isfinite(resp.run_loss().lower()) &&
          resp.run_loss().lower() != resp.loss().lower()) {
        std::cout << "  one run: 95% within [" << Sci(resp.run_loss().lower(), 4) << ", "
                  << Sci(resp.run_loss().upper(), 4) << "] (the law's interval plus the fit's"
                  << " residual scatter)\n";
      }
      if (std::string e = Epochs(resp.target_tokens(), resp.unique_tokens(), resp.epochs());
          !e.empty()) {
        std::cout << "  target: " << e << "\n";
      }
      PrintWarnings(resp.warnings());
    }
    *exit_code = 0;
  });

  auto* opt = app.add_subcommand("optimal", "Compute-optimal N and D at compute C, with intervals");
  auto* oreq = new v1::OptimalAllocationRequest;
  auto* osweep = new int64_t(0);
  auto* ofamily = new std::string;
  auto* ocompute = new double(0);
  opt->add_option("SWEEP", *osweep, "sweep id")->required();
  opt->add_option("--family", *ofamily, "family")->required();
  opt->add_option("--compute", *ocompute, "C, training FLOPs")->required();
  opt->callback([&ctx, exit_code, oreq, osweep, ofamily, ocompute] {
    auto* stub = ctx.fits();
    if (!stub) {
      *exit_code = 2;
      return;
    }
    oreq->set_sweep_id(*osweep);
    oreq->set_family(*ofamily);
    oreq->set_compute(*ocompute);
    v1::OptimalAllocationResponse resp;
    grpc::Status st = stub->OptimalAllocation(ctx.Call().get(), *oreq, &resp);
    if (!st.ok()) {
      *exit_code = ctx.Fail(FlagNamed(st), "optimal");
      return;
    }
    if (ctx.json()) {
      std::cout << ToJson(resp) << "\n";
    } else {
      std::cout << *ofamily << " at C = " << Sci(*ocompute) << " FLOPs (" << resp.form() << " fit "
                << resp.fit_id() << "):\n  N_opt = " << Band(resp.params(), 3)
                << "\n  D_opt = " << Band(resp.tokens(), 3)
                << "\n  tokens per parameter = " << Sci(resp.tokens_per_param(), 3) << "\n";
      if (std::isfinite(resp.loss().estimate()))
        std::cout << "  loss = " << Band(resp.loss()) << "\n";
      std::cout << "  " << Extrapolation(resp.extrapolation_factor()) << "\n";
      if (std::string e = Epochs(resp.tokens().estimate(), resp.unique_tokens(), resp.epochs());
          !e.empty()) {
        std::cout << "  D_opt: " << e << "\n";
      }
      PrintWarnings(resp.warnings());
    }
    *exit_code = 0;
  });
}

}  // namespace ladder::cli
