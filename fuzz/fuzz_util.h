// Checks shared by the fuzz targets: a failed check aborts, which libFuzzer
// records as a crash with the input that caused it.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "common/utf8.h"

namespace ladder::fuzz {

inline void Check(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "fuzz check failed: %s\n", what);
  std::abort();
}

// Strict UTF-8, as protobuf strings, PostgreSQL text and jsonb require.
inline bool ValidUtf8(std::string_view s) { return utf8::IsValid(s); }

}  // namespace ladder::fuzz
