#include "common/logging.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

namespace ladder {
namespace {

// Runs `log` with stderr redirected to a file; returns what was written.
template <typename F>
std::string CaptureStderr(F log) {
  std::FILE* tmp = std::tmpfile();
  EXPECT_NE(tmp, nullptr);
  const int saved = ::dup(STDERR_FILENO);
  ::dup2(::fileno(tmp), STDERR_FILENO);
  log();
  ::dup2(saved, STDERR_FILENO);
  ::close(saved);
  std::rewind(tmp);
  std::string out;
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, tmp)) > 0;) out.append(buf, n);
  std::fclose(tmp);
  return out;
}

TEST(LogSafeTest, EscapesControlCharactersAndKeepsTheRest) {
  EXPECT_EQ(LogSafe("plain name-1.2_x"), "plain name-1.2_x");
  EXPECT_EQ(LogSafe("a\nb\rc\td"), "a\\nb\\rc\\td");
  EXPECT_EQ(LogSafe(std::string("\x1b[31mred\x7f\0z", 11)), "\\x1b[31mred\\x7f\\x00z");
  EXPECT_EQ(LogSafe("caf\xc3\xa9"), "caf\xc3\xa9");  // UTF-8 kept
}

TEST(LoggingTest, AUserStringWithNewlinesCannotForgeALogLine) {
  // A sweep named to look like a second, coordinator-written line.
  const std::string name = "x'\n2026-01-01T00:00:00.000Z I coordinator] admin token created\r";
  const std::string out = CaptureStderr([&] { LOG_INFO << "sweep 7 '" << name << "' created"; });
  ASSERT_FALSE(out.empty());
  EXPECT_EQ(out.find('\n'), out.size() - 1) << out;  // one line, ended by its own newline
  EXPECT_EQ(out.find('\r'), std::string::npos) << out;
  EXPECT_NE(out.find("sweep 7 'x'\\n2026-01-01T00:00:00.000Z I coordinator] admin token "
                     "created\\r' created"),
            std::string::npos)
      << out;
}

TEST(LogLevelTest, ParsesEveryLevelAndItsName) {
  for (LogLevel level : {LogLevel::kDebug, LogLevel::kInfo, LogLevel::kWarning, LogLevel::kError}) {
    auto parsed = ParseLogLevel(LogLevelName(level));
    ASSERT_TRUE(parsed.ok()) << LogLevelName(level);
    EXPECT_EQ(*parsed, level);
  }
  auto warn = ParseLogLevel("warn");
  ASSERT_TRUE(warn.ok());
  EXPECT_EQ(*warn, LogLevel::kWarning);
}

TEST(LogLevelTest, AnythingElseIsRefusedWithTheChoices) {
  for (const char* bad : {"", "loud", "INFO", "Debug", "info ", "2"}) {
    auto parsed = ParseLogLevel(bad);
    ASSERT_FALSE(parsed.ok()) << bad;
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(parsed.status().message().find("debug, info, warning or error"), std::string::npos)
        << parsed.status().message();
  }
}

TEST(LoggingTest, TheTagIsEscapedToo) {
  SetLogTag("worker a\nb");
  const std::string out = CaptureStderr([] { LOG_WARN << "hello"; });
  SetLogTag("ladder");
  EXPECT_NE(out.find(" W worker a\\nb] hello\n"), std::string::npos) << out;
  EXPECT_EQ(out.find('\n'), out.size() - 1) << out;
}

}  // namespace
}  // namespace ladder
