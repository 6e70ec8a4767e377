// A fixed-size pool of libpqxx connections to Ladder's PostgreSQL database.
//
// libpqxx throws; this is where its exceptions become absl::Status, once, for
// the whole store, with codes chosen so a caller's retry rule is mechanical:
//   pqxx::broken_connection      -> UNAVAILABLE      (retry the call)
//   serialization / deadlock     -> ABORTED          (retried here first)
//   unique_violation             -> ALREADY_EXISTS
//   other SQL errors             -> INTERNAL
// Statements registered with PgStatement are prepared on every connection, so
// their SQL sits beside the method that runs it and runs without re-parsing.
//
// Thread-safe: any thread may call Transact; each call holds one connection
// for its duration and blocks (up to the deadline given at construction)
// while all are in use.
#pragma once

#include <absl/status/status.h>
#include <absl/status/statusor.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <pqxx/pqxx>
#include <string>
#include <vector>

namespace ladder::store {

// A named SQL statement, prepared on every pooled connection. Declare them as
// namespace-scope constants beside the code that runs them:
//   const PgStatement kGetSweep("get_sweep", "SELECT ... WHERE id = $1");
// and run them with txn.exec_prepared(kGetSweep.name, ...).
struct PgStatement {
  PgStatement(const char* name, const char* sql);
  const char* name;
  const char* sql;
};

// Every statement declared so far (for audits of their parameter types).
const std::vector<const PgStatement*>& RegisteredStatements();

class PgPool {
 public:
  struct Options {
    std::string url;  // libpq connection string or postgresql:// URL
    int size = 8;     // connections
    // How long Transact waits for a free connection before UNAVAILABLE.
    std::chrono::milliseconds acquire_timeout{10000};
    int max_retries = 4;  // of a transaction aborted by serialization or deadlock
  };

  // Opens `size` connections (fails fast with UNAVAILABLE if the first fails).
  static absl::StatusOr<std::unique_ptr<PgPool>> Connect(const Options& options);
  ~PgPool();

  using TxnFn = std::function<absl::Status(pqxx::work&)>;
  // Runs `fn` in one transaction (READ COMMITTED) and commits if it returns
  // OK; a non-OK status from `fn` rolls back and is returned as is. `what`
  // names the operation in error messages ("lease run: ...").
  absl::Status Transact(const char* what, const TxnFn& fn);

  using AutocommitFn = std::function<absl::Status(pqxx::nontransaction&)>;
  // Runs `fn` without BEGIN/COMMIT: each statement commits on its own. For
  // work that is one statement (atomic by itself), it saves two round trips.
  // Retried like Transact on serialization failures and deadlocks.
  absl::Status Autocommit(const char* what, const AutocommitFn& fn);

  // Runs `fn` outside a transaction block (e.g. for LISTEN or advisory locks
  // held across transactions).
  absl::Status WithConnection(const char* what,
                              const std::function<absl::Status(pqxx::connection&)>& fn);

  const Options& options() const { return options_; }

 private:
  explicit PgPool(Options options);
  absl::StatusOr<std::unique_ptr<pqxx::connection>> Open();
  absl::StatusOr<std::unique_ptr<pqxx::connection>> Acquire();
  void Release(std::unique_ptr<pqxx::connection> conn);
  template <typename Txn, typename Fn>
  absl::Status Run(const char* what, const Fn& fn);

  const Options options_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<pqxx::connection>> idle_;  // guarded by mu_
  int open_ = 0;                                         // guarded by mu_
};

// Maps a libpqxx exception to a status, for code that runs SQL outside
// Transact. `what` prefixes the message.
absl::Status StatusFromException(const char* what, const std::exception& e);

// Formats ints as a PostgreSQL array literal ("{1,2,3}") to pass as one
// parameter with a ::bigint[] cast (libpqxx 6 has no array parameters).
std::string PgArrayLiteral(const std::vector<int64_t>& values);
std::string PgArrayLiteral(const std::vector<int32_t>& values);
// Same for text; elements are quoted and escaped (nullopt: NULL).
std::string PgArrayLiteral(const std::vector<std::string>& values);
std::string PgArrayLiteral(const std::vector<std::optional<std::string>>& values);

}  // namespace ladder::store
