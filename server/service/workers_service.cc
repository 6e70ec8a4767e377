#include "server/service/workers_service.h"

#include "common/grpc_status.h"
#include "common/logging.h"

namespace ladder {
namespace {
template <typename T, typename Resp>
grpc::Status Reply(absl::StatusOr<T> out, Resp* resp) {
  if (!out.ok()) return ToGrpcStatus(out.status());
  *resp = *std::move(out);
  return grpc::Status::OK;
}
}  // namespace

grpc::Status WorkersService::ListWorkers(grpc::ServerContext*, const v1::ListWorkersRequest* req,
                                         v1::ListWorkersResponse* resp) {
  auto out = workers_->ListWorkers(req->include_gone());
  if (!out.ok()) return ToGrpcStatus(out.status());
  for (auto& w : *out) *resp->add_workers() = std::move(w);
  return grpc::Status::OK;
}

grpc::Status WorkersService::DrainWorker(grpc::ServerContext* ctx,
                                         const v1::DrainWorkerRequest* req, v1::Worker* resp) {
  if (grpc::Status st = RequireAuthorizedAdmin(*ctx); !st.ok()) return st;
  auto out = workers_->DrainWorker(req->worker_id());
  if (out.ok()) LOG_INFO << "worker " << req->worker_id() << " asked to drain";
  return Reply(std::move(out), resp);
}

namespace {

// Runs `batch` over the calls whose identity check passed; the others get
// the check's answer. `check` returns OK or the refusal.
template <typename Request, typename Response, typename Check, typename Batch>
std::vector<absl::StatusOr<Response>> CheckedBatch(const std::vector<AgentCallOf<Request>>& calls,
                                                   const Check& check, const Batch& batch) {
  std::vector<absl::StatusOr<Response>> out(calls.size(), absl::InternalError("not answered"));
  std::vector<const Request*> passed;
  std::vector<size_t> where;
  for (size_t i = 0; i < calls.size(); ++i) {
    grpc::Status st = check(*calls[i].ctx, *calls[i].request);
    if (!st.ok()) {
      out[i] = absl::Status(static_cast<absl::StatusCode>(st.error_code()), st.error_message());
      continue;
    }
    passed.push_back(calls[i].request);
    where.push_back(i);
  }
  if (passed.empty()) return out;
  auto answers = batch(passed);
  for (size_t k = 0; k < where.size() && k < answers.size(); ++k)
    out[where[k]] = std::move(answers[k]);
  return out;
}

// One at a time (calls too rare to batch), off gRPC's threads all the same.
template <typename Request, typename Response, typename Fn>
std::vector<absl::StatusOr<Response>> OneByOne(const std::vector<const Request*>& requests,
                                               const Fn& fn) {
  std::vector<absl::StatusOr<Response>> out;
  for (const Request* r : requests) out.push_back(fn(*r));
  return out;
}

}  // namespace

AgentService::AgentService(Scheduler* scheduler, store::WorkerStore* workers,
                           bool plaintext_workers, CoordinatorMetrics* metrics, Options options)
    : scheduler_(scheduler), identity_(workers, plaintext_workers) {
  const auto observer = [metrics](const char* call) {
    return [metrics, call](size_t batch, double wait) {
      if (metrics) metrics->ObserveAgentBatch(call, batch, wait);
    };
  };
  GroupCommitOptions q;
  q.max_batch = options.max_batch;
  q.threads = options.threads_per_kind;
  // Registrations and failures are rare: one at a time, on one thread each.
  auto rare = q;
  rare.max_batch = 16;
  rare.threads = 1;
  const auto check_worker = [this](const grpc::ServerContextBase& ctx, const auto& r) {
    return identity_.CheckWorker(ctx, r.worker_id());
  };
  const auto check_attempt = [this](const grpc::ServerContextBase& ctx, const auto& r) {
    return identity_.CheckAttempt(ctx, r.attempt_id());
  };
  register_ = std::make_unique<Queue<v1::RegisterWorkerRequest, v1::RegisterWorkerResponse>>(
      "RegisterWorker",
      [this](const std::vector<AgentCallOf<v1::RegisterWorkerRequest>>& calls) {
        return CheckedBatch<v1::RegisterWorkerRequest, v1::RegisterWorkerResponse>(
            calls,
            [this](const grpc::ServerContextBase& ctx, const v1::RegisterWorkerRequest& r) {
              return identity_.CheckRegister(ctx, r.name());
            },
            [this](const std::vector<const v1::RegisterWorkerRequest*>& rs) {
              return OneByOne<v1::RegisterWorkerRequest, v1::RegisterWorkerResponse>(
                  rs,
                  [this](const v1::RegisterWorkerRequest& r) { return scheduler_->Register(r); });
            });
      },
      rare, observer("RegisterWorker"));
  lease_ = std::make_unique<Queue<v1::LeaseRunRequest, v1::LeaseRunResponse>>(
      "LeaseRun",
      [this, check_worker](const std::vector<AgentCallOf<v1::LeaseRunRequest>>& calls) {
        return CheckedBatch<v1::LeaseRunRequest, v1::LeaseRunResponse>(
            calls, check_worker, [this](const std::vector<const v1::LeaseRunRequest*>& rs) {
              return scheduler_->LeaseBatch(rs);
            });
      },
      q, observer("LeaseRun"));
  heartbeat_ = std::make_unique<Queue<v1::HeartbeatRequest, v1::HeartbeatResponse>>(
      "Heartbeat",
      [this, check_worker](const std::vector<AgentCallOf<v1::HeartbeatRequest>>& calls) {
        return CheckedBatch<v1::HeartbeatRequest, v1::HeartbeatResponse>(
            calls, check_worker, [this](const std::vector<const v1::HeartbeatRequest*>& rs) {
              return scheduler_->HeartbeatBatch(rs);
            });
      },
      q, observer("Heartbeat"));
  progress_ = std::make_unique<Queue<v1::ReportProgressRequest, v1::ReportProgressResponse>>(
      "ReportProgress",
      [this, check_attempt](const std::vector<AgentCallOf<v1::ReportProgressRequest>>& calls) {
        return CheckedBatch<v1::ReportProgressRequest, v1::ReportProgressResponse>(
            calls, check_attempt, [this](const std::vector<const v1::ReportProgressRequest*>& rs) {
              return scheduler_->ProgressBatch(rs);
            });
      },
      q, observer("ReportProgress"));
  complete_ = std::make_unique<Queue<v1::CompleteAttemptRequest, v1::CompleteAttemptResponse>>(
      "CompleteAttempt",
      [this, check_attempt](const std::vector<AgentCallOf<v1::CompleteAttemptRequest>>& calls) {
        return CheckedBatch<v1::CompleteAttemptRequest, v1::CompleteAttemptResponse>(
            calls, check_attempt, [this](const std::vector<const v1::CompleteAttemptRequest*>& rs) {
              return scheduler_->CompleteBatch(rs);
            });
      },
      q, observer("CompleteAttempt"));
  fail_ = std::make_unique<Queue<v1::FailAttemptRequest, v1::FailAttemptResponse>>(
      "FailAttempt",
      [this, check_attempt](const std::vector<AgentCallOf<v1::FailAttemptRequest>>& calls) {
        return CheckedBatch<v1::FailAttemptRequest, v1::FailAttemptResponse>(
            calls, check_attempt, [this](const std::vector<const v1::FailAttemptRequest*>& rs) {
              return OneByOne<v1::FailAttemptRequest, v1::FailAttemptResponse>(
                  rs, [this](const v1::FailAttemptRequest& r) { return scheduler_->Fail(r); });
            });
      },
      rare, observer("FailAttempt"));
}

AgentService::~AgentService() { Stop(); }

void AgentService::Stop() {
  register_->Stop();
  lease_->Stop();
  heartbeat_->Stop();
  progress_->Stop();
  complete_->Stop();
  fail_->Stop();
}

template <typename Request, typename Response>
grpc::ServerUnaryReactor* AgentService::Enqueue(Queue<Request, Response>& queue,
                                                grpc::CallbackServerContext* ctx,
                                                const Request* req, Response* resp) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  queue.Submit(AgentCallOf<Request>{ctx, req}, ctx->deadline(),
               [reactor, resp](absl::StatusOr<Response> out) {
                 if (!out.ok()) {
                   reactor->Finish(ToGrpcStatus(out.status()));
                   return;
                 }
                 *resp = *std::move(out);
                 reactor->Finish(grpc::Status::OK);
               });
  return reactor;
}

grpc::ServerUnaryReactor* AgentService::RegisterWorker(grpc::CallbackServerContext* ctx,
                                                       const v1::RegisterWorkerRequest* req,
                                                       v1::RegisterWorkerResponse* resp) {
  return Enqueue(*register_, ctx, req, resp);
}

grpc::ServerUnaryReactor* AgentService::LeaseRun(grpc::CallbackServerContext* ctx,
                                                 const v1::LeaseRunRequest* req,
                                                 v1::LeaseRunResponse* resp) {
  return Enqueue(*lease_, ctx, req, resp);
}

grpc::ServerUnaryReactor* AgentService::Heartbeat(grpc::CallbackServerContext* ctx,
                                                  const v1::HeartbeatRequest* req,
                                                  v1::HeartbeatResponse* resp) {
  return Enqueue(*heartbeat_, ctx, req, resp);
}

grpc::ServerUnaryReactor* AgentService::ReportProgress(grpc::CallbackServerContext* ctx,
                                                       const v1::ReportProgressRequest* req,
                                                       v1::ReportProgressResponse* resp) {
  return Enqueue(*progress_, ctx, req, resp);
}

grpc::ServerUnaryReactor* AgentService::CompleteAttempt(grpc::CallbackServerContext* ctx,
                                                        const v1::CompleteAttemptRequest* req,
                                                        v1::CompleteAttemptResponse* resp) {
  return Enqueue(*complete_, ctx, req, resp);
}

grpc::ServerUnaryReactor* AgentService::FailAttempt(grpc::CallbackServerContext* ctx,
                                                    const v1::FailAttemptRequest* req,
                                                    v1::FailAttemptResponse* resp) {
  return Enqueue(*fail_, ctx, req, resp);
}

}  // namespace ladder
