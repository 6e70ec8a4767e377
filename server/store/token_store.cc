#include "server/store/token_store.h"

#include <absl/status/status.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <cstring>

namespace ladder::store {
namespace {

std::string Hex(const unsigned char* p, size_t n) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    out += kHex[p[i] >> 4];
    out += kHex[p[i] & 15];
  }
  return out;
}

std::string Digest(const std::string& salt, const std::string& secret) {
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256_CTX ctx;
  SHA256_Init(&ctx);
  SHA256_Update(&ctx, salt.data(), salt.size());
  SHA256_Update(&ctx, secret.data(), secret.size());
  SHA256_Final(md, &ctx);
  return std::string(reinterpret_cast<char*>(md), sizeof md);
}

v1::Token TokenFromRow(const pqxx::row& row) {
  v1::Token t;
  t.set_id(row[0].as<int64_t>());
  t.set_name(row[1].as<std::string>());
  std::string scopes = row[2].as<std::string>();
  size_t start = 0;
  while (!scopes.empty()) {
    size_t comma = scopes.find(',', start);
    t.add_scopes(
        scopes.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  t.set_created_unix_ms(row[3].as<int64_t>());
  t.set_revoked_unix_ms(row[4].as<int64_t>());
  return t;
}

constexpr char kTokenSelect[] =
    "SELECT id, name, array_to_string(scopes, ','), (extract(epoch FROM created_at) * "
    "1000)::bigint, "
    "  COALESCE((extract(epoch FROM revoked_at) * 1000)::bigint, 0) FROM api_tokens ";

}  // namespace

const char* ScopeName(Scope s) {
  switch (s) {
    case Scope::kRead:
      return "read";
    case Scope::kSubmit:
      return "submit";
    case Scope::kAdmin:
      return "admin";
  }
  return "?";
}

bool ParseScope(const std::string& name, Scope* scope) {
  if (name == "read")
    *scope = Scope::kRead;
  else if (name == "submit")
    *scope = Scope::kSubmit;
  else if (name == "admin")
    *scope = Scope::kAdmin;
  else
    return false;
  return true;
}

absl::StatusOr<TokenStore::Created> TokenStore::Create(const std::string& name,
                                                       const std::vector<std::string>& scopes) {
  if (name.empty()) return absl::InvalidArgumentError("name: must not be empty");
  if (scopes.empty())
    return absl::InvalidArgumentError("scopes: give at least one of read, submit, admin");
  for (size_t i = 0; i < scopes.size(); ++i) {
    Scope s;
    if (!ParseScope(scopes[i], &s)) {
      return absl::InvalidArgumentError("scopes[" + std::to_string(i) + "]: unknown scope '" +
                                        scopes[i] + "' (expected read, submit or admin)");
    }
  }
  unsigned char salt[16], secret[32];
  if (RAND_bytes(salt, sizeof salt) != 1 || RAND_bytes(secret, sizeof secret) != 1) {
    return absl::InternalError("cannot draw random bytes");
  }
  const std::string salt_s(reinterpret_cast<char*>(salt), sizeof salt);
  const std::string secret_hex = Hex(secret, sizeof secret);
  Created out;
  absl::Status st = pool_->Transact("create token", [&](pqxx::work& txn) -> absl::Status {
    pqxx::binarystring salt_b(salt_s), hash_b(Digest(salt_s, secret_hex));
    const int64_t id = txn.exec_params1(
                              "INSERT INTO api_tokens (name, scopes, salt, hash) "
                              "VALUES ($1, $2::text[], $3, $4) RETURNING id",
                              name, PgArrayLiteral(scopes), salt_b, hash_b)[0]
                           .as<int64_t>();
    out.token = TokenFromRow(txn.exec_params1(std::string(kTokenSelect) + "WHERE id = $1", id));
    out.secret = "ladder_" + std::to_string(id) + "_" + secret_hex;
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return out;
}

absl::StatusOr<v1::Token> TokenStore::Revoke(int64_t id) {
  v1::Token out;
  absl::Status st = pool_->Transact("revoke token", [&](pqxx::work& txn) -> absl::Status {
    pqxx::result r = txn.exec_params(
        "UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, now()) WHERE id = $1 RETURNING id",
        id);
    if (r.empty())
      return absl::NotFoundError("token_id: token " + std::to_string(id) + " does not exist");
    out = TokenFromRow(txn.exec_params1(std::string(kTokenSelect) + "WHERE id = $1", id));
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return out;
}

absl::StatusOr<std::vector<v1::Token>> TokenStore::List() {
  std::vector<v1::Token> out;
  absl::Status st = pool_->Transact("list tokens", [&](pqxx::work& txn) -> absl::Status {
    for (const auto& row : txn.exec(std::string(kTokenSelect) + "ORDER BY id"))
      out.push_back(TokenFromRow(row));
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return out;
}

bool TokenStore::WellFormed(const std::string& bearer) {
  // ladder_<id>_<64 hex>
  if (bearer.rfind("ladder_", 0) != 0) return false;
  const auto sep = bearer.find('_', 7);
  if (sep == std::string::npos || sep == 7 || sep - 7 > 18 || bearer.size() - sep - 1 != 64)
    return false;
  for (size_t i = 7; i < sep; ++i)
    if (bearer[i] < '0' || bearer[i] > '9') return false;
  return bearer.find_first_not_of("0123456789abcdef", sep + 1) == std::string::npos;
}

absl::StatusOr<TokenStore::Verified> TokenStore::Verify(const std::string& bearer) {
  const auto bad = absl::UnauthenticatedError("invalid bearer token");
  if (!WellFormed(bearer)) return bad;
  const auto sep = bearer.find('_', 7);
  const std::string id_s = bearer.substr(7, sep - 7);
  const int64_t id = std::stoll(id_s);
  const std::string secret = bearer.substr(sep + 1);
  ++verify_lookups_;
  Verified out;
  absl::Status st = pool_->Transact("verify token", [&](pqxx::work& txn) -> absl::Status {
    pqxx::result r = txn.exec_params(
        "SELECT salt, hash, array_to_string(scopes, ','), revoked_at IS NOT NULL FROM api_tokens "
        "WHERE id = $1",
        id);
    if (r.empty()) return bad;
    const std::string salt = pqxx::binarystring(r[0][0]).str();
    const std::string hash = pqxx::binarystring(r[0][1]).str();
    const std::string digest = Digest(salt, secret);
    if (hash.size() != digest.size() ||
        CRYPTO_memcmp(hash.data(), digest.data(), digest.size()) != 0)
      return bad;
    if (r[0][3].as<bool>())
      return absl::UnauthenticatedError("bearer token " + id_s + " has been revoked");
    out.id = id;
    const std::string scopes = r[0][2].as<std::string>();
    for (Scope s : {Scope::kRead, Scope::kSubmit, Scope::kAdmin}) {
      const std::string name = ScopeName(s);
      if (("," + scopes + ",").find("," + name + ",") != std::string::npos)
        out.scope = std::max(out.scope, s);
    }
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return out;
}

}  // namespace ladder::store
