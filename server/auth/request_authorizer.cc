#include "server/auth/request_authorizer.h"

#include <grpc/grpc_security_constants.h>
#include <openssl/sha.h>

#include <optional>

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
  // A token that is not even shaped like one is refused here, for nothing.
  if (!store::TokenStore::WellFormed(bearer))
    return absl::UnauthenticatedError("invalid bearer token");
  const std::string key = Sha256(bearer);
  const auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = cache_.find(key);
    if (it != cache_.end() && it->second.expires > now) return it->second.verified;
    auto bad = refused_.find(key);
    if (bad != refused_.end() && bad->second.expires > now)
      return absl::UnauthenticatedError(bad->second.message);
  }
  auto verified = tokens_->Verify(bearer);
  if (cache_ttl_.count() > 0) {
    std::lock_guard<std::mutex> lock(mu_);
    if (verified.ok()) {
      if (cache_.size() >= kMaxCached) cache_.clear();
      cache_[key] = Entry{*verified, now + cache_ttl_};
    } else if (verified.status().code() == absl::StatusCode::kUnauthenticated) {
      // Unknown, wrong or revoked: none of these turns valid later (secrets
      // are random and never reused), so remembering the refusal is safe.
      // Database errors are not remembered.
      if (refused_.size() >= kMaxCached) refused_.clear();
      refused_[key] = Refusal{std::string(verified.status().message()), now + cache_ttl_};
    }
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
  // gRPC 1.51 hands the processor the connection's auth context, so a
  // property added per call would pile up for the connection's lifetime:
  // add the token id only when it changes, and refuse a connection that
  // keeps switching tokens (clients use one token per connection).
  const std::string id = std::to_string(verified->id);
  const auto ids = context->FindPropertyValues(kTokenIdProperty);
  if (ids.empty() || std::string(ids.back().data(), ids.back().size()) != id) {
    if (ids.size() >= kMaxTokensPerConnection) {
      return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                          "more than " + std::to_string(kMaxTokensPerConnection) +
                              " token changes on one connection: open a new connection");
    }
    context->AddProperty(kTokenIdProperty, id);
  }
  return grpc::Status::OK;
}

namespace {

// The CN of the call's client certificate; "" on a TLS call without one;
// nullopt on a plaintext call (no identity at all).
std::optional<std::string> CallCn(const grpc::ServerContextBase& ctx) {
  const auto ac = ctx.auth_context();
  if (!ac) return std::nullopt;
  const auto cn = ac->FindPropertyValues(GRPC_X509_CN_PROPERTY_NAME);
  if (!cn.empty()) return std::string(cn[0].data(), cn[0].size());
  if (!ac->FindPropertyValues(GRPC_X509_PEM_CERT_PROPERTY_NAME).empty()) return std::string();
  for (const auto& t : ac->FindPropertyValues(GRPC_TRANSPORT_SECURITY_TYPE_PROPERTY_NAME)) {
    if (t == GRPC_SSL_TRANSPORT_SECURITY_TYPE || t == GRPC_TLS_TRANSPORT_SECURITY_TYPE)
      return std::string();
  }
  return std::nullopt;
}

grpc::Status Denied(const std::string& message) {
  return grpc::Status(grpc::StatusCode::PERMISSION_DENIED, message);
}

// Why `cn` may not act for worker `name` (a field path leads `what`).
grpc::Status NotThisWorker(const std::string& cn, const std::string& what) {
  if (cn.empty()) return Denied("the client certificate has no CN, so it identifies no worker");
  return Denied(what + " (the client certificate's CN is '" + cn + "')");
}

}  // namespace

grpc::Status RequireAuthorizedAdmin(const grpc::ServerContext& ctx) {
  const auto ac = ctx.auth_context();
  if (ac && !ac->FindPropertyValues(kTokenIdProperty).empty()) return grpc::Status::OK;
  return Denied(
      "Admin calls are refused on a plaintext port: use a TLS port or `ladder-coordinator "
      "create-token`");
}

bool CnAllowsWorkerName(const std::string& cn, const std::string& name) {
  if (cn.empty() || name.empty()) return false;
  if (cn.back() == '*') return name.compare(0, cn.size() - 1, cn, 0, cn.size() - 1) == 0;
  return cn == name;
}

grpc::Status WorkerIdentity::CheckPlaintext() const {
  if (plaintext_workers_) return grpc::Status::OK;
  return Denied(
      "worker calls are refused on a plaintext port, which gives workers no identity: use a TLS "
      "port with a worker certificate (or, for tests and local use, --plaintext-workers)");
}

grpc::Status WorkerIdentity::CheckRegister(const grpc::ServerContextBase& ctx,
                                           const std::string& name) {
  const auto cn = CallCn(ctx);
  if (!cn) return CheckPlaintext();
  // An empty name is the scheduler's to refuse (INVALID_ARGUMENT).
  if (name.empty() || CnAllowsWorkerName(*cn, name)) return grpc::Status::OK;
  if (cn->empty()) return NotThisWorker(*cn, "");
  if (cn->back() == '*') {
    return Denied("name: must start with '" + cn->substr(0, cn->size() - 1) +
                  "' (the client certificate's CN is '" + *cn + "'), got '" + name + "'");
  }
  return Denied("name: must equal the client certificate's CN '" + *cn + "', got '" + name + "'");
}

grpc::Status WorkerIdentity::CheckWorker(const grpc::ServerContextBase& ctx, int64_t worker_id) {
  const auto cn = CallCn(ctx);
  if (!cn) return CheckPlaintext();
  std::optional<std::string> name;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = names_.find(worker_id);
    if (it != names_.end()) name = it->second;
  }
  if (!name) {
    auto found = workers_->WorkerName(worker_id);
    if (!found.ok()) {
      LOG_WARN << "worker identity: " << found.status();
      return grpc::Status(grpc::StatusCode::UNAVAILABLE, "cannot check the worker's identity now");
    }
    if (!*found) return grpc::Status::OK;  // unknown: the scheduler says so
    name = **found;
    std::lock_guard<std::mutex> lock(mu_);
    if (names_.size() >= kMaxCached) names_.clear();
    names_[worker_id] = *name;
  }
  if (CnAllowsWorkerName(*cn, *name)) return grpc::Status::OK;
  return NotThisWorker(*cn, "worker_id: worker " + std::to_string(worker_id) + " is '" + *name +
                                "', not a worker this certificate identifies");
}

grpc::Status WorkerIdentity::CheckAttempt(const grpc::ServerContextBase& ctx, int64_t attempt_id) {
  const auto cn = CallCn(ctx);
  if (!cn) return CheckPlaintext();
  std::optional<int64_t> worker_id;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = attempts_.find(attempt_id);
    if (it != attempts_.end()) worker_id = it->second;
  }
  if (!worker_id) {
    auto found = workers_->AttemptWorker(attempt_id);
    if (!found.ok()) {
      LOG_WARN << "worker identity: " << found.status();
      return grpc::Status(grpc::StatusCode::UNAVAILABLE, "cannot check the worker's identity now");
    }
    if (!*found) return grpc::Status::OK;  // unknown: the scheduler says so
    worker_id = (*found)->worker_id;
    std::lock_guard<std::mutex> lock(mu_);
    if (attempts_.size() >= kMaxCached) attempts_.clear();
    attempts_[attempt_id] = *worker_id;
    if (names_.size() >= kMaxCached) names_.clear();
    names_[*worker_id] = (*found)->worker_name;
  }
  grpc::Status st = CheckWorker(ctx, *worker_id);
  if (st.ok() || st.error_code() != grpc::StatusCode::PERMISSION_DENIED) return st;
  return NotThisWorker(*cn, "attempt_id: attempt " + std::to_string(attempt_id) +
                                " belongs to another worker than this certificate identifies");
}

}  // namespace ladder
