// Migrations against a real PostgreSQL: applied once, idempotent, safe when
// coordinators start together, and a newer schema is refused.
#include "server/store/migrations.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "server/store/pg_pool.h"
#include "tests/store/store_fixture.h"

namespace ladder {
namespace {

using namespace std::chrono_literals;
using testing::StoreTest;

TEST_F(StoreTest, MigrationsAreAppliedOnceAndAreIdempotent) {
  std::vector<int> applied;
  ASSERT_TRUE(store::ApplyMigrations(*pool_, &applied).ok());
  EXPECT_TRUE(applied.empty()) << "second application must apply nothing";
  EXPECT_EQ(db_.Query("SELECT count(*) FROM schema_migrations"),
            std::to_string(store::EmbeddedMigrations().size()));
}

TEST(MigrationRaceTest, CoordinatorsStartingTogetherApplyEachMigrationOnce) {
  testing::TestDatabase db;
  std::atomic<int> applied{0};
  std::atomic<int> failed{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 6; ++i) {
    threads.emplace_back([&] {
      store::PgPool::Options o;
      o.url = db.url();
      o.size = 1;
      auto pool = store::PgPool::Connect(o);
      if (!pool.ok()) {
        ++failed;
        return;
      }
      std::vector<int> mine;
      if (!store::ApplyMigrations(**pool, &mine).ok()) ++failed;
      applied += static_cast<int>(mine.size());
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(applied.load(), static_cast<int>(store::EmbeddedMigrations().size()));
  EXPECT_EQ(db.Query("SELECT count(*) FROM schema_migrations"),
            std::to_string(store::EmbeddedMigrations().size()));
}

TEST_F(StoreTest, ANewerSchemaIsRefused) {
  db_.Query(
      "INSERT INTO schema_migrations (version, name) VALUES (9999, '9999_future') RETURNING "
      "version");
  absl::Status st = store::ApplyMigrations(*pool_);
  EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition) << st;
}

}  // namespace
}  // namespace ladder
