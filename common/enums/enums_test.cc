// The enums' name tables: every value round-trips through its name, and the
// names are exactly those the database accepts (the CHECK constraints in
// migrations/, read from the SQL files themselves).
#include "common/enums/enums.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace ladder::enums {
namespace {

template <typename E>
void ExpectRoundTrip() {
  std::set<std::string_view> seen;
  for (E v : Values<E>()) {
    const std::string_view name = Name(v);
    EXPECT_NE(name, "unknown");
    EXPECT_TRUE(seen.insert(name).second) << "duplicate name " << name;
    auto back = Parse<E>(name);
    ASSERT_TRUE(back.has_value()) << name;
    EXPECT_EQ(*back, v) << name;
  }
  EXPECT_FALSE(Parse<E>("").has_value());
  EXPECT_FALSE(Parse<E>("unknown").has_value());
  // Exact match only: no case folding, no trimming.
  for (E v : Values<E>()) {
    std::string upper(Name(v));
    std::transform(upper.begin(), upper.end(), upper.begin(), ::toupper);
    EXPECT_FALSE(Parse<E>(upper).has_value()) << upper;
    EXPECT_FALSE(Parse<E>(std::string(Name(v)) + " ").has_value()) << Name(v);
  }
}

TEST(EnumsTest, EveryValueRoundTrips) {
  ExpectRoundTrip<SweepKind>();
  ExpectRoundTrip<SweepState>();
  ExpectRoundTrip<RunState>();
  ExpectRoundTrip<AttemptOutcome>();
  ExpectRoundTrip<FitForm>();
}

TEST(EnumsTest, ValuesAreInDeclarationOrder) {
  // Values() walks the table; the table lists each enum in declaration order.
  EXPECT_EQ(static_cast<int>(Values<RunState>().front()), 0);
  EXPECT_EQ(Values<RunState>().size(), 6u);
  EXPECT_EQ(static_cast<int>(FitForm::kDataConstrained), 3);
  for (std::size_t i = 0; i < Values<FitForm>().size(); ++i) {
    EXPECT_EQ(static_cast<std::size_t>(Values<FitForm>()[i]), i);
  }
}

TEST(EnumsTest, OutOfRangeValueIsUnknown) { EXPECT_EQ(Name(static_cast<RunState>(99)), "unknown"); }

TEST(EnumsTest, NameListForErrors) {
  EXPECT_EQ(NameList<SweepKind>(), "ladder, isoflop, grid, data_constrained or imported");
  EXPECT_EQ(NameList<RunState>(), "queued, leased, running, succeeded, failed or cancelled");
}

TEST(EnumsTest, IsLive) {
  EXPECT_TRUE(IsLive(RunState::kLeased));
  EXPECT_TRUE(IsLive(RunState::kRunning));
  EXPECT_FALSE(IsLive(RunState::kQueued));
  EXPECT_FALSE(IsLive(RunState::kSucceeded));
}

// table.column -> the names its CHECK (column IN (...)) accepts, from every
// migration in order (a later constraint on the same column replaces an
// earlier one).
std::map<std::string, std::set<std::string>> CheckedColumns() {
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::directory_iterator(LADDER_SOURCE_DIR "/migrations")) {
    if (e.path().extension() == ".sql") files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  std::map<std::string, std::set<std::string>> out;
  const std::regex table_re(R"((?:CREATE|ALTER)\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?(\w+))",
                            std::regex::icase);
  const std::regex check_re(R"(CHECK\s*\(\s*(\w+)\s+IN\s*\(([^)]*)\)\s*\))", std::regex::icase);
  const std::regex name_re(R"('([^']*)')");
  for (const auto& f : files) {
    std::ifstream in(f);
    std::stringstream ss;
    ss << in.rdbuf();
    // Without -- comments (they may hold ';' or quotes).
    const std::string sql = std::regex_replace(ss.str(), std::regex("--[^\n]*"), "");
    // Statements one at a time, so a CHECK belongs to the table of its statement.
    std::size_t start = 0;
    while (start < sql.size()) {
      std::size_t end = sql.find(';', start);
      if (end == std::string::npos) end = sql.size();
      const std::string stmt = sql.substr(start, end - start);
      start = end + 1;
      std::smatch t;
      if (!std::regex_search(stmt, t, table_re)) continue;
      for (auto it = std::sregex_iterator(stmt.begin(), stmt.end(), check_re);
           it != std::sregex_iterator(); ++it) {
        std::set<std::string> names;
        const std::string list = (*it)[2];
        for (auto n = std::sregex_iterator(list.begin(), list.end(), name_re);
             n != std::sregex_iterator(); ++n) {
          names.insert((*n)[1]);
        }
        out[t[1].str() + "." + (*it)[1].str()] = names;
      }
    }
  }
  return out;
}

template <typename E>
std::set<std::string> TableNames() {
  std::set<std::string> out;
  for (E v : Values<E>()) out.insert(std::string(Name(v)));
  return out;
}

TEST(EnumsTest, NamesMatchTheDatabaseChecks) {
  const auto checks = CheckedColumns();
  ASSERT_TRUE(checks.count("sweeps.kind")) << "no CHECK on sweeps.kind found in migrations/";
  ASSERT_TRUE(checks.count("sweeps.state"));
  ASSERT_TRUE(checks.count("runs.state"));
  ASSERT_TRUE(checks.count("attempts.outcome"));
  EXPECT_EQ(checks.at("sweeps.kind"), TableNames<SweepKind>());
  EXPECT_EQ(checks.at("sweeps.state"), TableNames<SweepState>());
  EXPECT_EQ(checks.at("runs.state"), TableNames<RunState>());
  EXPECT_EQ(checks.at("attempts.outcome"), TableNames<AttemptOutcome>());
}

TEST(EnumsTest, FitFormsMatchTheForms) {
  // fits.form has no CHECK; its stored names are these (rows exist with them).
  EXPECT_EQ(TableNames<FitForm>(),
            (std::set<std::string>{"power_law_compute", "chinchilla", "isoflop", "data_constrained",
                                   "power_law_shared_e"}));
}

}  // namespace
}  // namespace ladder::enums
