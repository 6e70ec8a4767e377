// The trainer events' tables, reader and writer, and TRAINER_PROTOCOL.md's
// tables checked against them.
#include "common/protocol/trainer_events.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

namespace ladder::protocol {
namespace {

using nlohmann::json;

// Every field of `E` set to a value unlike its default and its neighbours'.
template <class E>
E Distinct() {
  E e;
  int i = 0;
  for (const Field<E>& f : EventSchema<E>::Fields()) {
    ++i;
    std::visit(
        [&](auto member) {
          auto& v = e.*member;
          using T = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<T, int64_t> || std::is_same_v<T, std::optional<int64_t>>) {
            v = int64_t{1000} + i;
          } else if constexpr (std::is_same_v<T, double> ||
                               std::is_same_v<T, std::optional<double>>) {
            v = 0.5 + i;
          } else if constexpr (std::is_same_v<T, std::string>) {
            v = std::string("s-") + f.name;
          } else if constexpr (std::is_same_v<T, bool>) {
            v = true;
          } else {
            v = json{{"k", i}};
          }
        },
        f.member);
  }
  return e;
}

template <class E>
void ExpectEqualFields(const E& a, const E& b) {
  for (const Field<E>& f : EventSchema<E>::Fields()) {
    std::visit([&](auto member) { EXPECT_EQ(a.*member, b.*member) << f.name; }, f.member);
  }
}

template <class E>
void RoundTrips() {
  const E sent = Distinct<E>();
  const std::string line = WriteEventLine(sent);
  TrainerEvent got;
  const auto error = ReadEventLine(line, &got);
  ASSERT_FALSE(error) << error->message << ": " << line;
  EXPECT_EQ(got.name, EventSchema<E>::kName);
  ExpectEqualFields(sent, std::get<E>(got.body));
  // And every field is required unless the table says otherwise.
  for (const Field<E>& f : EventSchema<E>::Fields()) {
    json j = json::parse(line);
    j.erase(f.name);
    E e;
    const auto missing = ReadEvent(j, &e);
    if (f.presence == Presence::kOptional) {
      EXPECT_FALSE(missing) << f.name;
    } else {
      ASSERT_TRUE(missing) << f.name;
      EXPECT_EQ(missing->message,
                std::string(EventSchema<E>::kName) + ": missing field '" + f.name + "'");
      EXPECT_EQ(missing->field, f.name);
      EXPECT_EQ(missing->problem, "is required");
    }
  }
}

TEST(TrainerEventsTest, EveryEventRoundTripsAndEveryFieldIsRequiredUnlessMarked) {
  RoundTrips<StartedEvent>();
  RoundTrips<ProgressEvent>();
  RoundTrips<CheckpointEvent>();
  RoundTrips<ResultEvent>();
  RoundTrips<ErrorEvent>();
}

template <class E>
void CheckTable() {
  std::set<std::string> names;
  for (const Field<E>& f : EventSchema<E>::Fields()) {
    EXPECT_TRUE(names.insert(f.name).second) << "duplicate " << f.name;
    EXPECT_NE(std::string(f.name), "event");
    // Only an optional member can hold a null or an absent field.
    const bool optional_member = std::visit(
        [](auto member) {
          using T = std::decay_t<decltype(std::declval<E&>().*member)>;
          return std::is_same_v<T, std::optional<int64_t>> ||
                 std::is_same_v<T, std::optional<double>>;
        },
        f.member);
    EXPECT_EQ(optional_member, f.presence != Presence::kRequired) << f.name;
  }
}

TEST(TrainerEventsTest, TablesAreWellFormed) {
  CheckTable<StartedEvent>();
  CheckTable<ProgressEvent>();
  CheckTable<CheckpointEvent>();
  CheckTable<ResultEvent>();
  CheckTable<ErrorEvent>();
  std::set<std::string> columns;
  for (const auto& f : EventSchema<ResultEvent>::Fields()) {
    if (!f.column_name().empty()) {
      EXPECT_TRUE(columns.insert(std::string(f.column_name())).second) << f.name;
    }
  }
  EXPECT_TRUE(columns.count("flops_6nd")) << "flops_6n is stored as flops_6nd";
  EXPECT_FALSE(columns.count("flops_6n"));
}

TEST(TrainerEventsTest, NullableFieldsMayBeNullButNotAbsent) {
  ProgressEvent p = Distinct<ProgressEvent>();
  p.eval_loss.reset();
  p.mfu.reset();
  const json j = WriteEvent(p);
  EXPECT_TRUE(j.at("eval_loss").is_null());
  EXPECT_TRUE(j.at("mfu").is_null());
  ProgressEvent back;
  EXPECT_FALSE(ReadEvent(j, &back));
  EXPECT_FALSE(back.eval_loss.has_value());
  json wrong = j;
  wrong["eval_loss"] = "2.5";
  const auto error = ReadEvent(wrong, &back);
  ASSERT_TRUE(error);
  EXPECT_EQ(error->message, "progress: field 'eval_loss' must be a number or null");
}

TEST(TrainerEventsTest, NonFiniteNumbersAreWrittenAsNull) {
  ProgressEvent p = Distinct<ProgressEvent>();
  p.grad_norm = std::nan("");
  p.train_loss = INFINITY;
  const json j = WriteEvent(p);
  EXPECT_TRUE(j.at("grad_norm").is_null());
  EXPECT_TRUE(j.at("train_loss").is_null());
}

TEST(TrainerEventsTest, WritingNeverThrowsOnInvalidUtf8) {
  ErrorEvent e{"data", std::string("cannot open \xFF\xFE.txt")};
  std::string line;
  EXPECT_NO_THROW(line = WriteEventLine(e));
  EXPECT_NE(line.find("\xEF\xBF\xBD"), std::string::npos) << line;
  TrainerEvent back;
  EXPECT_FALSE(ReadEventLine(line, &back));
}

// A value nested 500,000 deep where the protocol keeps any object (a
// result's `details`) parses, but copying it recursed once per level and
// overflowed the worker's stack: refused at parse time instead.
TEST(TrainerEventsTest, DeeplyNestedDetailsAreRefusedNotCopied) {
  // A result line whose details hold `levels` nested arrays.
  const auto line_with_details = [](int levels) {
    json result = WriteEvent(Distinct<ResultEvent>());
    result["details"] = "HERE";
    std::string line = result.dump();
    const std::string nested = std::string(levels, '[') + std::string(levels, ']');
    line.replace(line.find("\"HERE\""), 6, "{\"x\":" + nested + "}");
    return line;
  };
  TrainerEvent back;
  const auto error = ReadEventLine(line_with_details(500000), &back);
  ASSERT_TRUE(error);
  EXPECT_EQ(error->message, "not JSON: nested deeper than 64 levels");
  // Up to 64 levels in all are read: the result object, details, 62 arrays.
  EXPECT_FALSE(ReadEventLine(line_with_details(62), &back));
  EXPECT_TRUE(ReadEventLine(line_with_details(63), &back));
}

TEST(TrainerEventsTest, HostileLinesGiveErrorsNotExceptions) {
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  const std::map<std::string, std::string> cases = {
      {R"({"event":"checkpoint","step":1e400,"tokens":1})", "not JSON: a number out of range"},
      {deep, "not JSON: nested deeper than 64 levels"},
      {"{\"event\":\"checkpoint\",\"x\":\"\xC3\x28\"}", "not JSON (byte 29)"},
      {"[1]", "not a JSON object"},
      {R"({"event":1})", "no 'event' string"},
      {R"({"event":"finished"})", "unknown event 'finished'"},
      {R"({"event":"checkpoint","step":-1,"tokens":1})",
       "checkpoint: field 'step' must not be negative"},
      {R"({"event":"checkpoint","step":18446744073709551615,"tokens":1})",
       "checkpoint: field 'step' is out of range"},
      {R"({"event":"checkpoint","step":1.5,"tokens":1})",
       "checkpoint: field 'step' must be an integer"},
  };
  for (const auto& [line, message] : cases) {
    TrainerEvent e;
    std::optional<ReadError> error;
    EXPECT_NO_THROW(error = ReadEventLine(line, &e)) << line.substr(0, 80);
    ASSERT_TRUE(error) << line.substr(0, 80);
    EXPECT_EQ(error->message, message) << line.substr(0, 80);
  }
}

// ---------------------------------------------------------------- the doc

// TRAINER_PROTOCOL.md's "Out" section: for each "### `event`" heading, its
// table's rows as field -> type.
std::map<std::string, std::map<std::string, std::string>> DocTables() {
  std::ifstream in(std::string(LADDER_SOURCE_DIR) + "/worker/TRAINER_PROTOCOL.md");
  EXPECT_TRUE(in) << "cannot read worker/TRAINER_PROTOCOL.md under " << LADDER_SOURCE_DIR;
  std::map<std::string, std::map<std::string, std::string>> tables;
  std::string line, event;
  bool in_out = false;
  auto cell = [](const std::string& s) {
    const size_t b = s.find_first_not_of(' '), e = s.find_last_not_of(' ');
    return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
  };
  while (std::getline(in, line)) {
    if (line.rfind("## ", 0) == 0) in_out = line.rfind("## Out", 0) == 0;
    if (!in_out) continue;
    if (line.rfind("### `", 0) == 0) {
      event = line.substr(5, line.find('`', 5) - 5);
      tables[event];
      continue;
    }
    if (event.empty() || line.rfind("| `", 0) != 0) continue;
    std::vector<std::string> cells;
    std::stringstream row(line.substr(1));
    std::string c;
    while (std::getline(row, c, '|')) cells.push_back(cell(c));
    if (cells.size() < 2 || cells[0].size() < 2) continue;
    tables[event][cells[0].substr(1, cells[0].size() - 2)] = cells[1];
  }
  return tables;
}

template <class E>
void MatchesDoc(const std::map<std::string, std::map<std::string, std::string>>& tables) {
  const std::string name = EventSchema<E>::kName;
  auto it = tables.find(name);
  ASSERT_NE(it, tables.end()) << "no \"### `" << name << "`\" table in TRAINER_PROTOCOL.md";
  std::map<std::string, std::string> doc = it->second;
  for (const Field<E>& f : EventSchema<E>::Fields()) {
    auto d = doc.find(f.name);
    if (d == doc.end()) {
      ADD_FAILURE() << name << "." << f.name << " is in the protocol but not in the doc";
      continue;
    }
    EXPECT_EQ(d->second, DocType(f)) << name << "." << f.name << ": the doc's type";
    doc.erase(d);
  }
  for (const auto& [field, type] : doc) {
    ADD_FAILURE() << name << "." << field << " is in the doc but not in the protocol";
  }
}

TEST(TrainerEventsTest, TrainerProtocolDocMatchesTheTables) {
  const auto tables = DocTables();
  MatchesDoc<StartedEvent>(tables);
  MatchesDoc<ProgressEvent>(tables);
  MatchesDoc<CheckpointEvent>(tables);
  MatchesDoc<ResultEvent>(tables);
  MatchesDoc<ErrorEvent>(tables);
  EXPECT_EQ(tables.size(), 5u) << "an event in the doc the protocol does not know";
}

// A run resumed after its last step (killed during the final eval) logs no
// step in its last attempt: its result's final_train_loss is null, and the
// result is still a result.
TEST(TrainerEventsTest, AResultWithoutATrainLossIsStillAResult) {
  ResultEvent r = Distinct<ResultEvent>();
  r.final_train_loss.reset();
  const json j = WriteEvent(r);
  EXPECT_TRUE(j.at("final_train_loss").is_null());
  ResultEvent back;
  EXPECT_FALSE(ReadEvent(j, &back));
  EXPECT_FALSE(back.final_train_loss.has_value());
  EXPECT_EQ(back.final_eval_loss, r.final_eval_loss);
}

}  // namespace
}  // namespace ladder::protocol
