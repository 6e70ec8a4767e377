#include "tests/testing/test_database.h"

#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <pqxx/pqxx>
#include <random>

#include "tests/testing/test_env.h"

namespace ladder::testing {
namespace {
std::atomic<int> g_counter{0};

std::string WithDatabase(const std::string& url, const std::string& db) {
  // postgresql://user@host:port/postgres -> .../db
  const auto slash = url.rfind('/');
  return url.substr(0, slash + 1) + db;
}
}  // namespace

std::string TestDatabase::AdminUrl() {
  if (const char* url = std::getenv("LADDER_TEST_DATABASE_URL"); url && *url) return url;
  if (std::getenv("LADDER_TEST_BUILD_DIR") != nullptr) {
    std::ifstream in(PostgresUrlFile());
    std::string url;
    if (std::getline(in, url) && !url.empty()) return url;
  }
  std::cerr << "FATAL: no test PostgreSQL: run the tests with ctest (which starts one via "
               "tests/postgres.sh) "
               "or set LADDER_TEST_DATABASE_URL\n";
  std::abort();
}

TestDatabase::TestDatabase() {
  std::random_device rd;
  name_ = "ladder_test_" + std::to_string(getpid()) + "_" + std::to_string(g_counter++) + "_" +
          std::to_string(rd() % 100000);
  const std::string admin = AdminUrl();
  pqxx::connection c(admin);
  pqxx::nontransaction n(c);
  n.exec0("CREATE DATABASE " + name_);
  url_ = WithDatabase(admin, name_);
}

TestDatabase::~TestDatabase() {
  try {
    pqxx::connection c(AdminUrl());
    pqxx::nontransaction n(c);
    n.exec0("DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
  } catch (const std::exception& e) {
    std::cerr << "warning: dropping " << name_ << ": " << e.what() << "\n";
  }
}

std::string TestDatabase::Query(const std::string& sql) const {
  pqxx::connection c(url_);
  pqxx::nontransaction n(c);
  pqxx::result r = n.exec(sql);
  if (r.empty() || r[0].empty() || r[0][0].is_null()) return "";
  return r[0][0].as<std::string>();
}

}  // namespace ladder::testing
