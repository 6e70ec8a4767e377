// Who may call what. Runs as the gRPC server's AuthMetadataProcessor, so
// every call on a TLS port is checked before its handler runs:
//   ladder.v1.Agent                  worker daemons only: a client certificate
//                                    signed by the cluster CA (mutual TLS);
//                                    bearer tokens are not accepted there
//   read   (Sweeps get/list/watch, Runs, Fits, Workers.ListWorkers, reflection)
//   submit (Sweeps.CreateSweep, CancelSweep, ImportResults)
//   admin  (Workers.DrainWorker, Admin)
//   public: grpc.health.v1
// A bearer token ("authorization: Bearer ladder_<id>_<secret>") grants its
// scope and those below it (read < submit < admin). No or a bad token:
// UNAUTHENTICATED; a token or certificate outside its scope:
// PERMISSION_DENIED. Unknown methods need admin. Tokens are never logged;
// the token id is.
//
// Verified tokens are cached for `cache_ttl` (so a revocation takes effect
// within that time) keyed by a hash of the token, not the token itself.
// Refused tokens are cached as long, apart (a flood of bad tokens costs one
// database look-up per distinct token and evicts no good one); a malformed
// token is refused without touching the database. Thread-safe.
//
// The processor only runs on a TLS port. What it cannot decide, handlers
// check with the helpers below: the worker identity a certificate carries
// (WorkerIdentity), and that an Admin call really was authorised
// (RequireAuthorizedAdmin), which on a plaintext port it never is.
#pragma once

#include <grpcpp/security/auth_metadata_processor.h>
#include <grpcpp/server_context.h>

#include <chrono>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "server/store/token_store.h"
#include "server/store/worker_store.h"

namespace ladder {

enum class Access { kPublic, kWorker, kRead, kSubmit, kAdmin };
// `method` is the full path, "/ladder.v1.Sweeps/CreateSweep".
Access RequiredAccess(std::string_view method);

class RequestAuthorizer : public grpc::AuthMetadataProcessor {
 public:
  RequestAuthorizer(store::TokenStore* tokens, std::chrono::milliseconds cache_ttl);

  bool IsBlocking() const override { return true; }
  grpc::Status Process(const InputMetadata& auth_metadata, grpc::AuthContext* context,
                       OutputMetadata* consumed_auth_metadata,
                       OutputMetadata* response_metadata) override;

  // The bearer token's id and scope, from the cache or the token store.
  // UNAUTHENTICATED for a malformed, unknown, wrong or revoked token
  // (cached like successes); UNAVAILABLE (never cached) if the database
  // cannot answer.
  absl::StatusOr<store::TokenStore::Verified> VerifyCached(const std::string& bearer);

 private:
  store::TokenStore* tokens_;
  const std::chrono::milliseconds cache_ttl_;
  static constexpr size_t kMaxCached = 10000;  // per map; a full map is emptied
  std::mutex mu_;
  struct Entry {
    store::TokenStore::Verified verified;
    std::chrono::steady_clock::time_point expires;
  };
  struct Refusal {
    std::string message;
    std::chrono::steady_clock::time_point expires;
  };
  // Both by SHA-256 of the token; guarded by mu_.
  std::unordered_map<std::string, Entry> cache_;
  std::unordered_map<std::string, Refusal> refused_;
};

// The auth-context property RequestAuthorizer sets on a call it let through
// with a bearer token (the token's id).
// gRPC keeps it on the connection's auth context: the last value is the
// current call's token, and it is added again only when the token changes,
// at most kMaxTokensPerConnection times per connection.
inline constexpr char kTokenIdProperty[] = "ladder_token_id";
inline constexpr size_t kMaxTokensPerConnection = 64;

// For the handlers of admin-scope methods (Admin.*, Workers.DrainWorker): OK
// only if RequestAuthorizer let the call through with a token, which it
// does for these methods only with an admin token. On a plaintext port it
// never runs, so there they are refused (PERMISSION_DENIED).
grpc::Status RequireAuthorizedAdmin(const grpc::ServerContext& ctx);

// Whether a certificate CN lets a worker use `name`: a CN is the name of
// the one worker it identifies; a CN ending in '*' is a pool certificate
// for every name that starts with what comes before the '*' ("*" alone:
// any name).
bool CnAllowsWorkerName(const std::string& cn, const std::string& name);

// Ties Agent calls to the worker named by the client certificate's CN. On a
// TLS port: RegisterWorker's name must be allowed by the CN; a call naming
// a worker id, or an attempt (whose worker it looks up), must come from a
// certificate that allows that worker's name. Otherwise PERMISSION_DENIED.
// An id it cannot find passes (the scheduler answers for it). On a
// plaintext port there is no worker identity and every call passes.
// Worker names (by id) and attempts' workers never change, so both are
// cached (bounded). Thread-safe.
//
// A plaintext port has no worker identity at all: there every Agent call is
// refused (PERMISSION_DENIED) unless `plaintext_workers` (the coordinator's
// --plaintext-workers, for tests and single-user local use) lets it pass.
class WorkerIdentity {
 public:
  WorkerIdentity(store::WorkerStore* workers, bool plaintext_workers)
      : workers_(workers), plaintext_workers_(plaintext_workers) {}

  grpc::Status CheckRegister(const grpc::ServerContextBase& ctx, const std::string& name);
  grpc::Status CheckWorker(const grpc::ServerContextBase& ctx, int64_t worker_id);
  grpc::Status CheckAttempt(const grpc::ServerContextBase& ctx, int64_t attempt_id);

 private:
  static constexpr size_t kMaxCached = 100000;  // per map; a full map is emptied
  // OK for a TLS call; on a plaintext call, OK only with plaintext_workers_.
  grpc::Status CheckPlaintext() const;

  store::WorkerStore* workers_;
  const bool plaintext_workers_;
  std::mutex mu_;
  std::unordered_map<int64_t, std::string> names_;  // worker id -> name; guarded by mu_
  std::unordered_map<int64_t, int64_t> attempts_;   // attempt id -> worker id; guarded by mu_
};

}  // namespace ladder
