// A fresh, empty PostgreSQL database per test, on the suite's throwaway
// server (tests/postgres.sh, a ctest fixture). The server's admin URL comes
// from $LADDER_TEST_DATABASE_URL or the fixture's file (test_env.h).
// The database is dropped when the object goes.
#pragma once

#include <string>

namespace ladder::testing {

class TestDatabase {
 public:
  // Creates the database; aborts the test binary with a clear message if no
  // server is configured (tests must not silently skip).
  TestDatabase();
  ~TestDatabase();
  TestDatabase(const TestDatabase&) = delete;
  TestDatabase& operator=(const TestDatabase&) = delete;

  // URL of this test's database.
  const std::string& url() const { return url_; }
  const std::string& name() const { return name_; }

  // Runs one SQL statement as the database owner and returns the first
  // column of the first row ("" if none). For assertions on stored state.
  std::string Query(const std::string& sql) const;

  // The server's admin URL.
  static std::string AdminUrl();

 private:
  std::string name_;
  std::string url_;
};

}  // namespace ladder::testing
