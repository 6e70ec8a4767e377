// Where the suite's fixtures and programs are, from $LADDER_TEST_BUILD_DIR
// (set by ctest; see tests/CMakeLists.txt). Each function aborts with a clear
// message when the fixture is missing: a test must fail, never skip.
#pragma once

#include <string>

namespace ladder::testing {

std::string BuildDir();
std::string BinDir();  // build/bin: ladder, ladder-coordinator, ladder-worker, ladder-sim, ...
std::string TestCertsDir();  // made by tests/testing/make-test-certs.sh
std::string PostgresUrlFile();
std::string SourceDir();  // the repository root

}  // namespace ladder::testing
