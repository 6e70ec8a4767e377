// Schema migrations: numbered, forward-only SQL files in migrations/,
// embedded in the binary at build time and applied at start.
#pragma once

#include <absl/status/status.h>

#include <string>
#include <vector>

#include "server/store/pg_pool.h"

namespace ladder::store {

struct Migration {
  int version;       // NNNN from the file name
  std::string name;  // file name without .sql
  std::string sql;
};

// Every migration in migrations/, by version.
const std::vector<Migration>& EmbeddedMigrations();

// Applies the missing migrations, each in its own transaction, recorded in
// schema_migrations. Holds a session advisory lock meanwhile, so coordinators
// starting together apply each migration exactly once. Returns
// FAILED_PRECONDITION if the database has a version this binary does not know
// (a newer coordinator migrated it: refuse rather than run on a schema we do
// not understand). `applied` (optional) receives the versions applied now.
absl::Status ApplyMigrations(PgPool& pool, std::vector<int>* applied = nullptr);

}  // namespace ladder::store
