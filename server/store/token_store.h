// API bearer tokens in PostgreSQL. A token is shown once at creation as
// "ladder_<id>_<64 hex>"; only a random 16-byte salt and SHA-256(salt ||
// secret) are stored. Secrets carry 256 random bits, so a salted hash is
// enough (password stretching is for low-entropy secrets); comparison is
// constant-time.
#pragma once

#include <absl/status/statusor.h>

#include <atomic>
#include <string>
#include <vector>

#include "ladder/v1/ladder.pb.h"
#include "server/store/pg_pool.h"

namespace ladder::store {

// Stored in api_tokens.scopes: do not rename. Each scope includes the ones
// before it: read < submit < admin.
enum class Scope { kRead = 0, kSubmit = 1, kAdmin = 2 };
const char* ScopeName(Scope scope);
bool ParseScope(const std::string& name, Scope* scope);

class TokenStore {
 public:
  explicit TokenStore(PgPool* pool) : pool_(pool) {}

  struct Created {
    v1::Token token;
    std::string secret;  // the full bearer token; never stored or logged
  };
  // INVALID_ARGUMENT for an empty name or an unknown scope.
  absl::StatusOr<Created> Create(const std::string& name, const std::vector<std::string>& scopes);
  absl::StatusOr<v1::Token> Revoke(int64_t id);
  absl::StatusOr<std::vector<v1::Token>> List();

  struct Verified {
    int64_t id = 0;
    Scope scope = Scope::kRead;  // the highest scope held
  };
  // UNAUTHENTICATED for a malformed, unknown, wrong or revoked token; a
  // malformed one without touching the database.
  absl::StatusOr<Verified> Verify(const std::string& bearer);
  // Shaped like a token: "ladder_<id>_<64 lowercase hex>", id 1-18 digits.
  static bool WellFormed(const std::string& bearer);
  // Database look-ups Verify has made (for tests and metrics).
  int64_t verify_lookups() const { return verify_lookups_.load(); }

 private:
  PgPool* pool_;
  std::atomic<int64_t> verify_lookups_{0};
};

}  // namespace ladder::store
