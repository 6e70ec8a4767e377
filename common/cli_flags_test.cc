#include "common/cli_flags.h"

#include <gtest/gtest.h>

namespace ladder {
namespace {

using namespace std::chrono_literals;

// Parses `args` (after the program name) with one --wait duration and
// --log-level; the ParseError's message, or "" when it parsed.
std::string Parse(std::vector<std::string> args, std::chrono::milliseconds* wait, LogLevel* level) {
  CLI::App app;
  AddDurationOption(app, "--wait", wait, "how long");
  AddLogLevelOption(app, level);
  std::vector<const char*> argv = {"test"};
  for (const auto& a : args) argv.push_back(a.c_str());
  try {
    app.parse(static_cast<int>(argv.size()), const_cast<char**>(argv.data()));
  } catch (const CLI::ParseError& e) {
    return e.what();
  }
  return "";
}

TEST(CliFlagsTest, DurationsTakeTheCommonSyntax) {
  for (const auto& [text, want] : std::vector<std::pair<std::string, std::chrono::milliseconds>>{
           {"500ms", 500ms}, {"30s", 30s}, {"2m", 2min}, {"1h", 1h}, {"1.5", 1500ms}}) {
    std::chrono::milliseconds wait = 7s;
    LogLevel level = LogLevel::kInfo;
    EXPECT_EQ(Parse({"--wait", text}, &wait, &level), "") << text;
    EXPECT_EQ(wait, want) << text;
  }
}

TEST(CliFlagsTest, ADefaultIsKeptAndShownInTheHelp) {
  std::chrono::milliseconds wait = 90s;
  LogLevel level = LogLevel::kWarning;
  EXPECT_EQ(Parse({}, &wait, &level), "");
  EXPECT_EQ(wait, 90s);
  EXPECT_EQ(level, LogLevel::kWarning);
  CLI::App app;
  AddDurationOption(app, "--wait", &wait, "how long");
  AddLogLevelOption(app, &level);
  const std::string help = app.help();
  EXPECT_NE(help.find("--wait DURATION=90s"), std::string::npos) << help;
  EXPECT_NE(help.find("--log-level LEVEL=warning"), std::string::npos) << help;
}

TEST(CliFlagsTest, ABadValueIsAParseErrorNamingTheFlag) {
  std::chrono::milliseconds wait = 1s;
  LogLevel level = LogLevel::kInfo;
  std::string error = Parse({"--wait", "soon"}, &wait, &level);
  EXPECT_NE(error.find("--wait"), std::string::npos) << error;
  EXPECT_NE(error.find("'soon' is not a duration"), std::string::npos) << error;
  error = Parse({"--wait=-3s"}, &wait, &level);
  EXPECT_NE(error.find("--wait"), std::string::npos) << error;
  EXPECT_EQ(wait, 1s);
  error = Parse({"--log-level", "loud"}, &wait, &level);
  EXPECT_NE(error.find("--log-level"), std::string::npos) << error;
  EXPECT_NE(error.find("debug, info, warning or error"), std::string::npos) << error;
  EXPECT_EQ(level, LogLevel::kInfo);
}

TEST(CliFlagsTest, LogLevelsParse) {
  std::chrono::milliseconds wait = 1s;
  LogLevel level = LogLevel::kInfo;
  EXPECT_EQ(Parse({"--log-level", "debug"}, &wait, &level), "");
  EXPECT_EQ(level, LogLevel::kDebug);
  EXPECT_EQ(Parse({"--log-level=warn"}, &wait, &level), "");
  EXPECT_EQ(level, LogLevel::kWarning);
}

}  // namespace
}  // namespace ladder
