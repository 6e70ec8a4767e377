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
// Thread-safe.
#pragma once

#include <grpcpp/security/auth_metadata_processor.h>

#include <chrono>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "server/store/token_store.h"

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

 private:
  absl::StatusOr<store::TokenStore::Verified> VerifyCached(const std::string& bearer);

  store::TokenStore* tokens_;
  const std::chrono::milliseconds cache_ttl_;
  std::mutex mu_;
  struct Entry {
    store::TokenStore::Verified verified;
    std::chrono::steady_clock::time_point expires;
  };
  std::unordered_map<std::string, Entry> cache_;  // by SHA-256 of the token; guarded by mu_
};

}  // namespace ladder
