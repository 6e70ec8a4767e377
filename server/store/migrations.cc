#include "server/store/migrations.h"

#include "common/logging.h"

namespace ladder::store {
namespace {
// Arbitrary constant naming Ladder's migration lock among advisory locks.
constexpr int64_t kMigrationLockKey = 0x4c61646465720001;  // "Ladder" 1
}  // namespace

absl::Status ApplyMigrations(PgPool& pool, std::vector<int>* applied) {
  return pool.WithConnection("apply migrations", [&](pqxx::connection& conn) -> absl::Status {
    {
      pqxx::nontransaction n(conn);
      n.exec_params("SELECT pg_advisory_lock($1)", kMigrationLockKey);
    }
    absl::Status status;
    try {
      {
        pqxx::work txn(conn);
        txn.exec0(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version integer PRIMARY KEY, name text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())");
        txn.commit();
      }
      std::vector<int> have;
      {
        pqxx::work txn(conn);
        for (const auto& row : txn.exec("SELECT version FROM schema_migrations ORDER BY version")) {
          have.push_back(row[0].as<int>());
        }
      }
      const auto& all = EmbeddedMigrations();
      const int known = all.empty() ? 0 : all.back().version;
      if (!have.empty() && have.back() > known) {
        status = absl::FailedPreconditionError(
            "database schema is at version " + std::to_string(have.back()) +
            ", newer than this coordinator knows (" + std::to_string(known) +
            "): upgrade the coordinator");
      } else {
        for (const Migration& m : all) {
          if (std::find(have.begin(), have.end(), m.version) != have.end()) continue;
          pqxx::work txn(conn);
          txn.exec0(m.sql);
          txn.exec_params0("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                           m.version, m.name);
          txn.commit();
          LOG_INFO << "applied migration " << m.name;
          if (applied) applied->push_back(m.version);
        }
      }
    } catch (const std::exception& e) {
      status = StatusFromException("apply migrations", e);
    }
    try {
      pqxx::nontransaction n(conn);
      n.exec_params("SELECT pg_advisory_unlock($1)", kMigrationLockKey);
    } catch (const std::exception& e) {
      if (status.ok()) status = StatusFromException("release migration lock", e);
    }
    return status;
  });
}

}  // namespace ladder::store
