#include "server/auth/request_authorizer.h"

#include <grpc/grpc_security_constants.h>
#include <openssl/sha.h>

#include "common/grpc_status.h"
#include "common/logging.h"

namespace ladder {
namespace {

std::string Sha256(const std::string& s) {
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(s.data()), s.size(), md);
  return std::string(reinterpret_cast<char*>(md), sizeof md);
}

const char* AccessName(Access a) {
  switch (a) {
    case Access::kPublic:
      return "public";
    case Access::kWorker:
      return "worker certificate";
    case Access::kRead:
      return "read";
    case Access::kSubmit:
      return "submit";
    case Access::kAdmin:
      return "admin";
  }
  return "?";
}

}  // namespace

Access RequiredAccess(std::string_view m) {
  auto starts = [&](std::string_view p) { return m.substr(0, p.size()) == p; };
  if (starts("/grpc.health.v1.Health/")) return Access::kPublic;
  if (starts("/ladder.v1.Agent/")) return Access::kWorker;
  if (starts("/grpc.reflection.")) return Access::kRead;
  if (m == "/ladder.v1.Sweeps/CreateSweep" || m == "/ladder.v1.Sweeps/CancelSweep" ||
      m == "/ladder.v1.Sweeps/ImportResults") {
    return Access::kSubmit;
  }
  if (starts("/ladder.v1.Sweeps/") || starts("/ladder.v1.Runs/") || starts("/ladder.v1.Fits/") ||
      m == "/ladder.v1.Workers/ListWorkers") {
    return Access::kRead;
  }
  return Access::kAdmin;  // Workers.DrainWorker, Admin.*, and anything unknown
}

RequestAuthorizer::RequestAuthorizer(store::TokenStore* tokens, std::chrono::milliseconds cache_ttl)
    : tokens_(tokens), cache_ttl_(cache_ttl) {}

absl::StatusOr<store::TokenStore::Verified> RequestAuthorizer::VerifyCached(
    const std::string& bearer) {
  const std::string key = Sha256(bearer);
  const auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = cache_.find(key);
    if (it != cache_.end() && it->second.expires > now) return it->second.verified;
  }
  auto verified = tokens_->Verify(bearer);
  if (verified.ok()) {
    std::lock_guard<std::mutex> lock(mu_);
    if (cache_.size() > 10000) cache_.clear();
    cache_[key] = Entry{*verified, now + cache_ttl_};
  }
  return verified;
}

grpc::Status RequestAuthorizer::Process(const InputMetadata& md, grpc::AuthContext* context,
                                        OutputMetadata* consumed, OutputMetadata*) {
  auto path_it = md.find(":path");
  const std::string method =
      path_it == md.end() ? "" : std::string(path_it->second.data(), path_it->second.size());
  const Access need = RequiredAccess(method);
  if (need == Access::kPublic) return grpc::Status::OK;

  // A verified client certificate (mutual TLS) identifies a worker daemon.
  const bool worker_cert = !context->FindPropertyValues(GRPC_X509_CN_PROPERTY_NAME).empty() ||
                           !context->FindPropertyValues(GRPC_X509_PEM_CERT_PROPERTY_NAME).empty();
  if (need == Access::kWorker) {
    if (worker_cert) return grpc::Status::OK;
    return grpc::Status(
        grpc::StatusCode::UNAUTHENTICATED,
        method + " needs a worker client certificate signed by the cluster CA (mutual TLS)");
  }

  auto auth_it = md.find("authorization");
  if (auth_it == md.end()) {
    if (worker_cert) {
      return grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                          "a worker certificate may call only ladder.v1.Agent, not " + method);
    }
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                        "missing bearer token (authorization: Bearer ...) for " + method);
  }
  const std::string header(auth_it->second.data(), auth_it->second.size());
  constexpr std::string_view kBearer = "Bearer ";
  if (header.size() <= kBearer.size() || header.compare(0, kBearer.size(), kBearer) != 0) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                        "authorization header is not 'Bearer <token>'");
  }
  auto verified = VerifyCached(header.substr(kBearer.size()));
  if (!verified.ok()) {
    if (verified.status().code() == absl::StatusCode::kUnauthenticated) {
      return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                          std::string(verified.status().message()));
    }
    LOG_WARN << "token verification failed: " << verified.status();
    return grpc::Status(grpc::StatusCode::UNAVAILABLE, "cannot verify the bearer token now");
  }
  consumed->insert(std::make_pair(std::string("authorization"), header));
  const Access held =
      static_cast<Access>(static_cast<int>(Access::kRead) + static_cast<int>(verified->scope));
  if (static_cast<int>(held) < static_cast<int>(need)) {
    LOG_INFO << "token " << verified->id << " (" << store::ScopeName(verified->scope) << ") denied "
             << method;
    return grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                        std::string("token scope '") + store::ScopeName(verified->scope) +
                            "' does not allow " + method + " (needs '" + AccessName(need) + "')");
  }
  context->AddProperty("ladder_token_id", std::to_string(verified->id));
  return grpc::Status::OK;
}

}  // namespace ladder
