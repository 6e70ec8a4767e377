// Debian's Prometheus server scraping a real local stack: ladder-coordinator
// on the suite's PostgreSQL, two ladder-worker daemons running ladder-sim (a
// SIMULATED trainer), a real sweep. Prometheus runs the shipped
// deploy/prometheus/prometheus.yml (its file-based discovery, with this
// test's ports in the targets files, at a 1 s interval) and alerts.yml, and
// everything is asserted through its own HTTP query API: the series arrive
// with sane values, the alert rules evaluate cleanly on real data, and every
// query of the Grafana dashboard runs.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <thread>

#include "tests/testing/http_get.h"
#include "tests/testing/local_stack.h"
#include "tests/testing/test_database.h"
#include "tests/testing/test_env.h"

namespace ladder {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using nlohmann::json;
using testing::HttpGet;
using testing::LocalStack;
using worker::testing::ReadFile;
using worker::testing::Subprocess;

constexpr const char* kPrometheus = "/usr/bin/prometheus";

bool Eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(200ms);
  }
  return condition();
}

// The port of the first "serving /metrics on port N" line in `log`, or 0.
int MetricsPort(const std::string& log) {
  static const std::regex serving("serving /metrics on port ([0-9]+)");
  std::smatch m;
  return std::regex_search(log, m, serving) ? std::stoi(m[1]) : 0;
}

int FreePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

std::string UrlEncode(const std::string& s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

// A Prometheus server on a private TSDB, configured from the shipped files.
class PrometheusServer {
 public:
  // `coordinators` and `workers` are host:port metrics targets.
  PrometheusServer(const std::string& dir, const std::vector<std::string>& coordinators,
                   const std::vector<std::string>& workers)
      : dir_(dir) {
    // The shipped configuration, at test speed and without the loopback
    // defaults (static targets) or an Alertmanager: targets come only from
    // the file-based discovery globs it declares.
    YAML::Node config = YAML::LoadFile(testing::SourceDir() + "/deploy/prometheus/prometheus.yml");
    config["global"]["scrape_interval"] = "1s";
    config["global"]["scrape_timeout"] = "1s";
    config["global"]["evaluation_interval"] = "1s";
    config.remove("alerting");
    config["rule_files"][0] = testing::SourceDir() + "/deploy/prometheus/alerts.yml";
    for (auto job : config["scrape_configs"]) {
      job.remove("static_configs");
      job["file_sd_configs"][0]["refresh_interval"] = "1s";
    }
    fs::create_directories(dir_ + "/targets");
    auto targets = [](const std::vector<std::string>& list) {
      YAML::Node group;
      for (const auto& t : list) group["targets"].push_back(t);
      YAML::Node groups;
      groups.push_back(group);
      return groups;
    };
    std::ofstream(dir_ + "/targets/coordinators-test.yml") << targets(coordinators) << "\n";
    std::ofstream(dir_ + "/targets/workers-test.yml") << targets(workers) << "\n";
    std::ofstream(dir_ + "/prometheus.yml") << config << "\n";

    for (int attempt = 0; attempt < 3 && !ready_; ++attempt) {
      port_ = FreePort();
      process_ = std::make_unique<Subprocess>(
          std::vector<std::string>{kPrometheus, "--config.file=" + dir_ + "/prometheus.yml",
                                   "--storage.tsdb.path=" + dir_ + "/data",
                                   "--web.listen-address=127.0.0.1:" + std::to_string(port_)},
          dir_ + "/prometheus.log", dir_ + "/prometheus.log");
      ready_ = Eventually(
                   [&] {
                     int status = 0;
                     HttpGet("127.0.0.1", port_, "/-/ready", &status);
                     return status == 200 || process_->Wait(0ms).has_value();
                   },
                   30s) &&
               !process_->Wait(0ms).has_value();
    }
  }
  ~PrometheusServer() {
    if (process_) {
      process_->Signal(SIGTERM);
      process_->Wait(10s);
    }
  }
  bool ready() const { return ready_; }
  std::string log() const { return ReadFile(dir_ + "/prometheus.log"); }

  // GET /api/v1/<path>; the parsed reply ({"status": "error", ...} if none).
  json Api(const std::string& path) const {
    int status = 0;
    const std::string body = HttpGet("127.0.0.1", port_, "/api/v1/" + path, &status);
    try {
      return json::parse(body);
    } catch (const std::exception&) {
      return {{"status", "error"}, {"error", "HTTP " + std::to_string(status) + ": " + body}};
    }
  }
  json Query(const std::string& promql) const { return Api("query?query=" + UrlEncode(promql)); }
  // The value of a query that yields one sample; NaN if it yields none.
  double Scalar(const std::string& promql) const {
    const json r = Query(promql);
    if (r.value("status", "") != "success" || r["data"]["result"].empty()) return NAN;
    return std::stod(r["data"]["result"][0]["value"][1].get<std::string>());
  }

 private:
  std::string dir_;
  int port_ = 0;
  bool ready_ = false;
  std::unique_ptr<Subprocess> process_;
};

class PrometheusIntegrationTest : public ::testing::Test {
 protected:
  testing::TestDatabase db_;
};

TEST_F(PrometheusIntegrationTest, CoordinatorAndWorkerSeriesArriveWithSaneValues) {
  ASSERT_EQ(::access(kPrometheus, X_OK), 0)
      << kPrometheus << " is missing: apt-get install prometheus (deploy/install-deps.sh)";

  LocalStack stack(db_.url());
  const int coordinator_metrics = MetricsPort(stack.CoordinatorLog());
  ASSERT_GT(coordinator_metrics, 0) << stack.CoordinatorLog();
  const std::vector<std::string> metrics_flags = {"--metrics-listen=127.0.0.1:0",
                                                  "--device-sample-interval=500ms"};
  stack.StartWorker("prom-w1", 2, "", metrics_flags);
  stack.StartWorker("prom-w2", 1, "", metrics_flags);
  std::vector<std::string> workers;
  for (const char* name : {"prom-w1", "prom-w2"}) {
    int port = 0;
    const std::string log = stack.dir() + "/worker-" + name + ".log";
    ASSERT_TRUE(Eventually([&] { return (port = MetricsPort(ReadFile(log))) > 0; }, 10s))
        << ReadFile(log);
    workers.push_back("127.0.0.1:" + std::to_string(port));
  }

  PrometheusServer prometheus(stack.dir() + "/prometheus",
                              {"127.0.0.1:" + std::to_string(coordinator_metrics)}, workers);
  ASSERT_TRUE(prometheus.ready()) << prometheus.log();
  // Both jobs' targets are discovered from the files and scraped.
  ASSERT_TRUE(Eventually(
      [&] {
        return prometheus.Scalar("sum(up{job=\"ladder-coordinator\"})") == 1 &&
               prometheus.Scalar("sum(up{job=\"ladder-worker\"})") == 2;
      },
      20s))
      << prometheus.Query("up").dump() << prometheus.log();

  // A sweep of 4 SIMULATED runs, 2.5 s each, on 3 slots.
  const std::string sweep_file = stack.dir() + "/sweep.yaml";
  std::ofstream(sweep_file) << "name: prometheus\nkind: grid\nfamilies: [transformer, lstm]\n"
                               "max_attempts: 3\ntrain: {batch_tokens: 4096}\n"
                               "grid: {params: [30000, 60000], tokens: [409600]}\n"
                               "simulation: {seconds: 2.5}\n";
  const testing::CliResult submit = stack.Cli({"submit", sweep_file});
  ASSERT_EQ(submit.exit_code, 0) << submit.err;
  const std::string sweep = std::to_string(std::atoll(submit.out.c_str()));
  const std::string s = "sweep=\"" + sweep + "\"";

  // While runs train: throughput seen by the workers and by the coordinator.
  EXPECT_TRUE(Eventually(
      [&] {
        return prometheus.Scalar("max(ladder_worker_attempt_tokens_per_second{" + s + "})") > 0 &&
               prometheus.Scalar("max(ladder_run_tokens_per_second{" + s + "})") > 0;
      },
      20s))
      << prometheus.Query("ladder_worker_attempt_tokens_per_second").dump();
  EXPECT_GT(prometheus.Scalar("max(ladder_worker_trainers_running)"), 0);
  EXPECT_GT(prometheus.Scalar("max(ladder_run_flops_per_second{" + s + "})"), 0);

  const testing::CliResult watch = stack.Cli({"watch", sweep}, 120);
  ASSERT_EQ(watch.exit_code, 0) << watch.out << watch.err;

  // After the sweep: the gauges settle on the database's truth.
  EXPECT_TRUE(Eventually(
      [&] {
        return prometheus.Scalar("max(ladder_runs{" + s + ", state=\"succeeded\"})") == 4 &&
               prometheus.Scalar(
                   "sum(ladder_worker_attempts_ended_total{outcome=\"succeeded\"})") == 4;
      },
      15s))
      << prometheus.Query("ladder_runs").dump()
      << prometheus.Query("ladder_worker_attempts_ended_total").dump();
  EXPECT_EQ(prometheus.Scalar("max(ladder_workers{state=\"active\"})"), 2);
  EXPECT_EQ(prometheus.Scalar("max(ladder_queue_depth)"), 0);
  EXPECT_GE(prometheus.Scalar("sum(ladder_leases_total{granted=\"true\"})"), 4);
  EXPECT_EQ(prometheus.Scalar("sum(ladder_attempts_ended_total{outcome=\"succeeded\"})"), 4);
  EXPECT_GT(prometheus.Scalar("sum(ladder_rpc_duration_seconds_count{method=\"Agent.LeaseRun\"})"),
            0);
  EXPECT_GT(prometheus.Scalar("sum(ladder_lease_duration_seconds_count)"), 0);
  const double p99 = prometheus.Scalar(
      "histogram_quantile(0.99, sum by (le) (rate(ladder_rpc_duration_seconds_bucket[1m])))");
  EXPECT_TRUE(p99 > 0 && p99 < 10) << "RPC p99 " << p99 << " s";
  // The workers: 3 CPU slots with memory, the finished runs' series gone, nothing buffered.
  EXPECT_EQ(prometheus.Scalar("sum(ladder_worker_devices{kind=\"cpu\"})"), 3);
  EXPECT_EQ(prometheus.Scalar("count(ladder_worker_device_memory_total_bytes > 0)"), 3);
  EXPECT_EQ(prometheus.Scalar("count(ladder_worker_device_utilization_ratio >= 0)"), 3);
  EXPECT_GT(prometheus.Scalar("max(max_over_time(ladder_worker_device_memory_used_bytes[5m]))"), 0);
  EXPECT_TRUE(std::isnan(prometheus.Scalar("max(ladder_worker_attempt_tokens_per_second)")))
      << "no run trains, so no per-run series";
  EXPECT_EQ(prometheus.Scalar("sum(ladder_worker_progress_points_buffered)"), 0);
  EXPECT_EQ(prometheus.Scalar("sum(ladder_worker_trainers_running)"), 0);

  // The alert rules are loaded and evaluate cleanly on real series; none fires.
  const json rules = prometheus.Api("rules");
  ASSERT_EQ(rules.value("status", ""), "success") << rules.dump();
  std::set<std::string> groups;
  int rule_count = 0;
  for (const auto& group : rules["data"]["groups"]) {
    groups.insert(group["name"].get<std::string>());
    for (const auto& rule : group["rules"]) {
      ++rule_count;
      EXPECT_EQ(rule.value("health", ""), "ok") << rule.dump();
      EXPECT_EQ(rule.value("state", ""), "inactive") << rule.dump();
    }
  }
  EXPECT_EQ(groups,
            (std::set<std::string>{"ladder-scheduling", "ladder-fitting", "ladder-health"}));
  EXPECT_EQ(rule_count, 8);

  // Every query of the Grafana dashboard runs against the real series (the
  // fit panels' metrics exist only once the coordinator fits; their queries
  // must still parse and run).
  const json dashboard =
      json::parse(ReadFile(testing::SourceDir() + "/deploy/grafana/dashboards/ladder-sweep.json"));
  auto expand = [&](std::string expr) {
    for (auto [var, value] : {std::pair<std::string, std::string>{"$sweep", sweep},
                              {"$worker", ".*"},
                              {"$__rate_interval", "1m"}}) {
      for (size_t at; (at = expr.find(var)) != std::string::npos;)
        expr.replace(at, var.size(), value);
    }
    return expr;
  };
  std::vector<std::string> exprs;
  for (const auto& panel : dashboard["panels"]) {
    for (const auto& target : panel.value("targets", json::array()))
      exprs.push_back(target["expr"]);
  }
  for (const auto& a : dashboard["annotations"]["list"]) {
    if (a.contains("expr")) exprs.push_back(a["expr"]);
  }
  ASSERT_GT(exprs.size(), 20u);
  int with_data = 0;
  for (const auto& expr : exprs) {
    const json r = prometheus.Query(expand(expr));
    EXPECT_EQ(r.value("status", ""), "success") << expand(expr) << "\n" << r.dump();
    with_data += r.value("status", "") == "success" && !r["data"]["result"].empty();
  }
  EXPECT_GE(with_data, 15) << "most panels show data for a finished sweep";
  for (const char* shows_data :
       {"max by (state) (ladder_runs{sweep=~\"$sweep\"})", "max(ladder_queue_depth)",
        "ladder_worker_device_utilization_ratio{instance=~\"$worker\"}",
        "histogram_quantile(0.99, sum by (le, method) "
        "(rate(ladder_rpc_duration_seconds_bucket[$__rate_interval])))"}) {
    EXPECT_FALSE(prometheus.Query(expand(shows_data))["data"]["result"].empty()) << shows_data;
  }
}

}  // namespace
}  // namespace ladder
