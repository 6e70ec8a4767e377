#include "tests/testing/test_env.h"

#include <cstdlib>
#include <iostream>

namespace ladder::testing {

std::string BuildDir() {
  const char* dir = std::getenv("LADDER_TEST_BUILD_DIR");
  if (dir == nullptr || *dir == '\0') {
    std::cerr << "FATAL: LADDER_TEST_BUILD_DIR is not set: run the tests with ctest from the build "
                 "directory\n";
    std::abort();
  }
  return dir;
}

std::string BinDir() { return BuildDir() + "/bin"; }
std::string TestCertsDir() { return BuildDir() + "/test-certs"; }
std::string PostgresUrlFile() { return BuildDir() + "/test-postgres/url"; }
std::string SourceDir() { return LADDER_SOURCE_DIR; }

}  // namespace ladder::testing
