// The prepared statements every store registers with the pool (PgStatement),
// audited against a real PostgreSQL.
#include "server/store/pg_pool.h"

#include <gtest/gtest.h>

#include <pqxx/pqxx>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "tests/store/store_fixture.h"

namespace ladder {
namespace {

using namespace std::chrono_literals;
using testing::StoreTest;

// Every parameter of every prepared statement that PostgreSQL infers as a
// 32-bit integer is one reviewed here: a 64-bit value (tokens, ids, bytes)
// bound to an int4 parameter fails past 2^31 ("out of range for type integer").
TEST_F(StoreTest, NoStatementTakesA64BitValueThroughA32BitParameter) {
  const std::set<std::string> reviewed = {
      // device indices, priorities, attempt limits, counts: 32-bit by nature
      "insert_sweep$6",  // priority
      "insert_sweep$7",  // max_attempts
      "lease_run$2",     // device index
      "requeue_run$2",   // failures to add (0 or 1)
  };
  pqxx::connection c(db_.url());
  pqxx::nontransaction n(c);
  int prepared = 0;
  for (const store::PgStatement* st : store::RegisteredStatements()) {
    n.exec0(std::string("PREPARE audit_") + st->name + " AS " + st->sql);
    ++prepared;
  }
  ASSERT_GT(prepared, 10);
  std::vector<std::string> unreviewed;
  std::set<std::string> found;
  for (const auto& row : n.exec("SELECT substr(name, 7), array_to_string(parameter_types, ',') "
                                "FROM pg_prepared_statements WHERE name LIKE 'audit_%'")) {
    const std::string name = row[0].as<std::string>();
    std::stringstream types(row[1].as<std::string>());
    std::string type;
    for (int i = 1; std::getline(types, type, ','); ++i) {
      if (type != "integer" && type != "smallint") continue;
      const std::string key = name + "$" + std::to_string(i);
      found.insert(key);
      if (!reviewed.count(key)) unreviewed.push_back(key + " (" + type + ")");
    }
  }
  EXPECT_TRUE(unreviewed.empty()) << "32-bit parameters not reviewed: " << [&] {
    std::string all;
    for (const auto& u : unreviewed) all += u + " ";
    return all;
  }();
  for (const auto& r : reviewed) EXPECT_TRUE(found.count(r)) << r << " is no longer 32-bit";
}

}  // namespace
}  // namespace ladder
