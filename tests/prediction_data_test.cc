// What a prediction stands on, end to end through the real CLI against a
// real ladder-coordinator over PostgreSQL: a fit whose E sits on its bound
// says so (`ladder fit`), a prediction reports the epochs of the sweep's
// corpus its target needs and warns past one (`ladder predict`), and
// --form picks the fit. The results are SIMULATED from a known law and
// imported (the corpus is known from the runs that repeated data).
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "tests/testing/local_stack.h"
#include "tests/testing/test_database.h"

namespace ladder {
namespace {

using testing::CliResult;
using testing::LocalStack;
using namespace std::chrono_literals;

constexpr double kCorpus = 1e9;

// SIMULATION: L(C) = -0.1 + 50 C^-0.1 bends down in log-log, so the fit of
// E + A C^-alpha puts E on its lower bound at 0. Eight runs at 20 tokens per
// parameter from 1e15 to 1e18 FLOPs; the two largest train past the 1e9-token
// corpus and say so (unique_tokens).
std::string LadderCsv() {
  std::ostringstream csv;
  csv.precision(10);
  csv << "family,params,tokens,loss,unique_tokens\n";
  for (int k = 0; k < 8; ++k) {
    const double c = 1e15 * std::pow(10.0, 3.0 * k / 7);
    const double d = std::sqrt(20 * c / 6), n = d / 20;
    csv << "lstm," << n << "," << d << "," << -0.1 + 50 * std::pow(c, -0.1) << ","
        << (d > kCorpus ? kCorpus : 0) << "\n";
  }
  return csv.str();
}

class PredictionDataTest : public ::testing::Test {
 protected:
  // Imports the ladder; waits for its power_law_compute fit; the sweep id.
  std::string ImportLadder() {
    const std::string path = stack_.dir() + "/ladder.csv";
    std::ofstream(path) << LadderCsv();
    CliResult imported = stack_.Cli({"import", path, "--name", "bounded"});
    EXPECT_EQ(imported.exit_code, 0) << imported.err;
    const std::string sweep = std::to_string(std::atoll(imported.out.c_str()));
    for (int i = 0; i < 600; ++i) {
      if (db_.Query("SELECT count(*) FROM fits WHERE sweep_id = " + sweep +
                    " AND form = 'power_law_compute'") != "0") {
        break;
      }
      std::this_thread::sleep_for(100ms);
    }
    return sweep;
  }

  testing::TestDatabase db_;
  LocalStack stack_{db_.url(), {"--refit-debounce=50ms", "--bootstrap-resamples=50"}};
};

TEST_F(PredictionDataTest, FitOnABoundAndEpochsPastTheCorpusAreSaid) {
  const std::string sweep = ImportLadder();

  CliResult fit = stack_.Cli({"fit", sweep, "--form", "power_law_compute"});
  ASSERT_EQ(fit.exit_code, 0) << fit.err;
  EXPECT_NE(fit.out.find("    E = 0 (on its lower bound)  [95%: "), std::string::npos) << fit.out;
  EXPECT_NE(fit.out.find("    warning: E = 0 is on its lower bound: the data do not place the "
                         "irreducible loss; extrapolations from this fit never flatten\n"),
            std::string::npos)
      << fit.out;
  CliResult json = stack_.Cli({"--json", "fit", sweep, "--form", "power_law_compute"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  const auto j = nlohmann::json::parse(json.out);
  EXPECT_EQ(j["fits"][0]["parameters"][0]["at_bound"], "lower") << json.out;

  // 100x the largest run: D = sqrt(20 C / 6) = 1.8e10 tokens, 18 epochs.
  CliResult far = stack_.Cli(
      {"predict", sweep, "--family", "lstm", "--compute", "1e20", "--form", "power_law_compute"});
  ASSERT_EQ(far.exit_code, 0) << far.err;
  EXPECT_NE(far.out.find("  target: 1.83e+10 tokens = 18 epochs of the corpus (1e+09 unique "
                         "tokens)\n"),
            std::string::npos)
      << far.out;
  EXPECT_NE(far.out.find("warning: the target needs 18.3 epochs of the sweep's 1B-token corpus; "
                         "the law assumes fresh data: expect a higher loss\n"),
            std::string::npos)
      << far.out;
  EXPECT_NE(far.out.find("warning: E = 0 is on its lower bound"), std::string::npos) << far.out;

  // Within the corpus (1e17 FLOPs: D = 5.8e8 tokens): no epoch warning.
  CliResult near = stack_.Cli({"--json", "predict", sweep, "--family", "lstm", "--compute", "1e17",
                               "--form", "power_law_compute"});
  ASSERT_EQ(near.exit_code, 0) << near.err;
  const auto p = nlohmann::json::parse(near.out);
  EXPECT_NEAR(p["epochs"].get<double>(), std::sqrt(20 * 1e17 / 6) / kCorpus, 1e-6) << near.out;
  EXPECT_EQ(p["unique_tokens"], kCorpus);
  ASSERT_EQ(p["warnings"].size(), 1u) << near.out;  // E on its bound, nothing of epochs
  EXPECT_EQ(p["warnings"][0].get<std::string>().rfind("E = 0 is on its lower bound", 0), 0u);

  CliResult bad =
      stack_.Cli({"predict", sweep, "--family", "lstm", "--compute", "1e20", "--form", "cubic"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("--form: unknown form 'cubic'"), std::string::npos) << bad.err;
}

}  // namespace
}  // namespace ladder
