#include "worker/trainer_event.h"

#include <gtest/gtest.h>

namespace ladder::worker {
namespace {

constexpr char kStarted[] =
    R"({"event":"started","trainer":"ladder-sim","version":"0.1","simulated":true,)"
    R"("device":"cpu","threads":2,"params_total":1000,"params_non_embedding":800,)"
    R"("flops_per_token":6000.0,"flops_per_token_6n":4800,"total_steps":64,)"
    R"("resumed_from_step":0,"resumed_from_tokens":0})";
constexpr char kProgress[] =
    R"({"event":"progress","step":10,"tokens":10240,"flops":6.1e7,"train_loss":3.5,)"
    R"("eval_loss":null,"lr":0.001,"grad_norm":1.2,"tokens_per_second":5000,)"
    R"("flops_per_second":3e7,"mfu":null})";
constexpr char kResult[] =
    R"({"event":"result","final_eval_loss":2.1,"final_train_loss":2.0,"params_total":1000,)"
    R"("params_non_embedding":800,"tokens":65536,"unique_tokens":65536,"epochs":1.0,)"
    R"("flops":3.9e8,"flops_6n":3.1e8,"wall_seconds":0.3,"device":"cpu","simulated":true,)"
    R"("details":{"law":"x"}})";

// `text` with its first `from` replaced by `to`.
std::string Replace(std::string text, const std::string& from, const std::string& to) {
  const auto at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

TEST(TrainerEventTest, ParsesStarted) {
  auto e = ParseTrainerEvent(kStarted);
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->name, "started");
  const auto& s = std::get<StartedEvent>(e->body);
  EXPECT_EQ(s.trainer, "ladder-sim");
  EXPECT_TRUE(s.simulated);
  EXPECT_EQ(s.params_total, 1000);
  EXPECT_EQ(s.flops_per_token_6n, 4800);
  EXPECT_EQ(s.total_steps, 64);
}

TEST(TrainerEventTest, ParsesProgressWithNullEvalLossAndMfu) {
  auto e = ParseTrainerEvent(kProgress);
  ASSERT_TRUE(e.ok()) << e.status();
  const auto& p = std::get<ProgressEvent>(e->body);
  EXPECT_EQ(p.step, 10);
  EXPECT_EQ(p.tokens, 10240);
  EXPECT_DOUBLE_EQ(p.flops, 6.1e7);
  EXPECT_FALSE(p.eval_loss.has_value());
  EXPECT_FALSE(p.mfu.has_value());
}

TEST(TrainerEventTest, ParsesProgressWithEvalLoss) {
  const std::string line = Replace(kProgress, "\"eval_loss\":null", "\"eval_loss\":2.5");
  auto e = ParseTrainerEvent(line);
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_DOUBLE_EQ(*std::get<ProgressEvent>(e->body).eval_loss, 2.5);
}

TEST(TrainerEventTest, ParsesCheckpointResultAndError) {
  auto c = ParseTrainerEvent(R"({"event":"checkpoint","step":32,"tokens":32768})");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(std::get<CheckpointEvent>(c->body).step, 32);

  auto r = ParseTrainerEvent(kResult);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_DOUBLE_EQ(std::get<ResultEvent>(r->body).final_eval_loss, 2.1);
  EXPECT_EQ(std::get<ResultEvent>(r->body).tokens, 65536);

  auto err = ParseTrainerEvent(R"({"event":"error","kind":"diverged","message":"loss 1e4"})");
  ASSERT_TRUE(err.ok()) << err.status();
  EXPECT_EQ(std::get<ErrorEvent>(err->body).reason, "diverged");
  EXPECT_EQ(std::get<ErrorEvent>(err->body).message, "loss 1e4");
}

TEST(TrainerEventTest, IntegralFloatsCountAsIntegers) {
  auto c = ParseTrainerEvent(R"({"event":"checkpoint","step":32.0,"tokens":3.2768e4})");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(std::get<CheckpointEvent>(c->body).tokens, 32768);
  auto bad = ParseTrainerEvent(R"({"event":"checkpoint","step":32.5,"tokens":1})");
  EXPECT_EQ(bad.status().message(), "checkpoint: field 'step' must be an integer");
}

TEST(TrainerEventTest, ExtraFieldsAreIgnored) {
  auto c = ParseTrainerEvent(R"({"event":"checkpoint","step":1,"tokens":2,"path":"/x","new":[1]})");
  EXPECT_TRUE(c.ok()) << c.status();
}

TEST(TrainerEventTest, MalformedJsonIsRefused) {
  for (const char* line : {"hello world", "{\"event\":\"progress\"", "", "{'event':'x'}"}) {
    auto e = ParseTrainerEvent(line);
    EXPECT_EQ(e.status().code(), absl::StatusCode::kInvalidArgument) << line;
    EXPECT_EQ(e.status().message().rfind("not JSON", 0), 0u) << e.status();
  }
}

TEST(TrainerEventTest, NonObjectsAndMissingEventAreRefused) {
  EXPECT_EQ(ParseTrainerEvent("[1,2]").status().message(), "not a JSON object");
  EXPECT_EQ(ParseTrainerEvent("42").status().message(), "not a JSON object");
  EXPECT_EQ(ParseTrainerEvent(R"({"step":1})").status().message(), "no 'event' string");
  EXPECT_EQ(ParseTrainerEvent(R"({"event":7})").status().message(), "no 'event' string");
}

TEST(TrainerEventTest, UnknownEventIsRefused) {
  auto e = ParseTrainerEvent(R"({"event":"finished","loss":1})");
  EXPECT_EQ(e.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(e.status().message(), "unknown event 'finished'");
}

TEST(TrainerEventTest, MissingFieldsAreNamed) {
  auto p = ParseTrainerEvent(R"({"event":"progress","step":1})");
  EXPECT_EQ(p.status().message(), "progress: missing field 'tokens'");
  const std::string started = Replace(kStarted, "\"total_steps\":64,", "");
  EXPECT_EQ(ParseTrainerEvent(started).status().message(), "started: missing field 'total_steps'");
  const std::string result = Replace(kResult, ",\"details\":{\"law\":\"x\"}", "");
  EXPECT_EQ(ParseTrainerEvent(result).status().message(), "result: missing field 'details'");
  EXPECT_EQ(ParseTrainerEvent(R"({"event":"error","kind":"data"})").status().message(),
            "error: missing field 'message'");
}

TEST(TrainerEventTest, WrongTypesAreNamed) {
  const std::string line = Replace(kProgress, "\"train_loss\":3.5", "\"train_loss\":\"3.5\"");
  EXPECT_EQ(ParseTrainerEvent(line).status().message(),
            "progress: field 'train_loss' must be a number");
  const std::string started = Replace(kStarted, "\"simulated\":true", "\"simulated\":1");
  EXPECT_EQ(ParseTrainerEvent(started).status().message(),
            "started: field 'simulated' must be true or false");
}

TEST(TrainerEventTest, UnknownErrorKindBecomesInternalKeepingTheKind) {
  auto e = ParseTrainerEvent(R"({"event":"error","kind":"oom","message":"CUDA out of\nmemory"})");
  ASSERT_TRUE(e.ok()) << e.status();
  const auto& err = std::get<ErrorEvent>(e->body);
  EXPECT_EQ(err.reason, "internal");
  EXPECT_EQ(err.message, "trainer error kind 'oom': CUDA out of memory");
  // Found by fuzz/trainer_event_fuzz.cc: the kind's own newlines were kept.
  auto two = ParseTrainerEvent(R"({"event":"error","kind":"o\nom","message":"m"})");
  ASSERT_TRUE(two.ok()) << two.status();
  EXPECT_EQ(std::get<ErrorEvent>(two->body).message, "trainer error kind 'o om': m");
}

// Hostile lines from a trainer end as errors, never as exceptions: 1e400 made
// nlohmann throw out_of_range (not a parse_error) and killed ladder-worker.
TEST(TrainerEventTest, NumbersNoDoubleHoldsAreRefusedNotThrown) {
  for (const std::string& line :
       {Replace(kProgress, "\"flops\":6.1e7", "\"flops\":1e400"),
        Replace(kProgress, "\"flops\":6.1e7", "\"flops\":-1e400"),
        Replace(kResult, "\"details\":{\"law\":\"x\"}", "\"details\":{\"deep\":[1e999]}")}) {
    absl::StatusOr<TrainerEvent> e = absl::InternalError("not called");
    EXPECT_NO_THROW(e = ParseTrainerEvent(line)) << line;
    EXPECT_EQ(e.status().code(), absl::StatusCode::kInvalidArgument) << line;
    EXPECT_EQ(e.status().message(), "not JSON: a number out of range") << line;
  }
}

TEST(TrainerEventTest, CountsOutOfRangeAreRefused) {
  // 2^64 - 1 read as int64 was -1; 1e19 cast to int64 was undefined.
  const std::string huge = Replace(kProgress, "\"step\":10", "\"step\":18446744073709551615");
  EXPECT_EQ(ParseTrainerEvent(huge).status().message(), "progress: field 'step' is out of range");
  const std::string big = Replace(kProgress, "\"tokens\":10240", "\"tokens\":1e19");
  EXPECT_EQ(ParseTrainerEvent(big).status().message(), "progress: field 'tokens' is out of range");
  const std::string negative = Replace(kProgress, "\"step\":10", "\"step\":-3");
  EXPECT_EQ(ParseTrainerEvent(negative).status().message(),
            "progress: field 'step' must not be negative");
  auto max = ParseTrainerEvent(R"({"event":"checkpoint","step":9223372036854775807,"tokens":0})");
  ASSERT_TRUE(max.ok()) << max.status();
  EXPECT_EQ(std::get<CheckpointEvent>(max->body).step, 9223372036854775807);
}

TEST(TrainerEventTest, TruncatedMessagesStayValidUtf8) {
  // 2-byte characters from an odd offset: a byte cut lands inside one.
  std::string message = "x";
  for (int i = 0; i < 1000; ++i) message += "\u00e9";
  auto e = ParseTrainerEvent(R"({"event":"error","kind":"data","message":")" + message + "\"}");
  ASSERT_TRUE(e.ok()) << e.status();
  const std::string& got = std::get<ErrorEvent>(e->body).message;
  EXPECT_LE(got.size(), kMaxErrorMessage);
  EXPECT_EQ(got.size() % 2, 1u) << "cut inside a character";
  EXPECT_EQ(got.back(), '\xa9');
}

}  // namespace
}  // namespace ladder::worker
