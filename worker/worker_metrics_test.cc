#include "worker/worker_metrics.h"

#include <gtest/gtest.h>
#include <prometheus/text_serializer.h>

#include <cmath>
#include <sstream>

namespace ladder::worker {
namespace {

v1::Device Device(int index, const std::string& kind, int64_t memory = 1 << 30) {
  v1::Device d;
  d.set_index(index);
  d.set_kind(kind);
  d.set_model(kind == "cuda" ? "NVIDIA H100 80GB HBM3" : "test cpu");
  d.set_memory_bytes(memory);
  d.set_threads(4);
  return d;
}

std::string Scrape(const WorkerMetrics& metrics) {
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, metrics.registry()->Collect());
  return out.str();
}

// The value of the sample line that is exactly `series` (name{labels}), NaN if absent.
double Sample(const std::string& text, const std::string& series) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
  }
  return NAN;
}

bool Has(const std::string& text, const std::string& needle) {
  return text.find(needle) != std::string::npos;
}

TEST(WorkerMetricsTest, DevicesAreCountedByKindFromTheFirstScrape) {
  WorkerMetrics m({Device(0, "cuda"), Device(1, "cuda"), Device(3, "cuda")});
  const std::string text = Scrape(m);
  EXPECT_EQ(Sample(text, "ladder_worker_devices{kind=\"cuda\"}"), 3);
  EXPECT_EQ(Sample(text, "ladder_worker_devices{kind=\"cpu\"}"), 0);
  EXPECT_EQ(Sample(text, "ladder_worker_trainers_running"), 0);
  EXPECT_EQ(Sample(text, "ladder_worker_progress_points_buffered"), 0);
  EXPECT_EQ(Sample(text, "ladder_worker_attempts_ended_total{outcome=\"succeeded\",reason=\"\"}"),
            0);
}

TEST(WorkerMetricsTest, AttemptThroughputIsLabelledWhileRunningAndRemovedAfter) {
  WorkerMetrics m({Device(0, "cpu")});
  const AttemptLabels a{7, 42, 0};
  m.TrainerStarted(0, 1234);
  m.SetAttemptProgress(a, 5000, 3e12, 0.41);
  std::string text = Scrape(m);
  const std::string labels = "{device=\"0\",run=\"42\",sweep=\"7\"}";
  EXPECT_EQ(Sample(text, "ladder_worker_attempt_tokens_per_second" + labels), 5000);
  EXPECT_EQ(Sample(text, "ladder_worker_attempt_flops_per_second" + labels), 3e12);
  EXPECT_DOUBLE_EQ(Sample(text, "ladder_worker_attempt_mfu_ratio" + labels), 0.41);
  EXPECT_EQ(Sample(text, "ladder_worker_trainers_running"), 1);
  ASSERT_EQ(m.RunningTrainers().size(), 1u);
  EXPECT_EQ(m.RunningTrainers().at(0).pgid, 1234);

  m.TrainerExited(0);
  m.RemoveAttempt(a);
  m.RemoveAttempt(a);  // idempotent
  text = Scrape(m);
  EXPECT_FALSE(Has(text, "run=\"42\"")) << text;
  EXPECT_EQ(Sample(text, "ladder_worker_trainers_running"), 0);
  EXPECT_TRUE(m.RunningTrainers().empty());
}

TEST(WorkerMetricsTest, UnknownMfuHasNoSampleRatherThanAMadeUpOne) {
  WorkerMetrics m({Device(0, "cpu")});
  const AttemptLabels a{1, 2, 0};
  m.SetAttemptProgress(a, 100, 1e9, 0.5);
  m.SetAttemptProgress(a, 100, 1e9, std::nullopt);
  const std::string text = Scrape(m);
  EXPECT_FALSE(Has(text, "ladder_worker_attempt_mfu_ratio{")) << text;
  EXPECT_EQ(
      Sample(text, "ladder_worker_attempt_tokens_per_second{device=\"0\",run=\"2\",sweep=\"1\"}"),
      100);
}

TEST(WorkerMetricsTest, OutcomesAndReasonsAreBounded) {
  WorkerMetrics m({Device(0, "cpu")});
  m.CountAttemptEnded("failed", "diverged");
  m.CountAttemptEnded("failed", "diverged");
  m.CountAttemptEnded("failed", "some trainer's own words");
  m.CountAttemptEnded("released", "drained");
  const std::string text = Scrape(m);
  EXPECT_EQ(
      Sample(text, "ladder_worker_attempts_ended_total{outcome=\"failed\",reason=\"diverged\"}"),
      2);
  EXPECT_EQ(Sample(text, "ladder_worker_attempts_ended_total{outcome=\"failed\",reason=\"other\"}"),
            1);
  EXPECT_EQ(
      Sample(text, "ladder_worker_attempts_ended_total{outcome=\"released\",reason=\"drained\"}"),
      1);
  EXPECT_EQ(BoundedWorkerReason("non_finite"), "non_finite");
  EXPECT_EQ(BoundedWorkerReason("x"), "other");
}

TEST(WorkerMetricsTest, RpcErrorsAreCountedByMethodAndCodeAndOkIsNot) {
  WorkerMetrics m({Device(0, "cpu")});
  m.CountRpcError("LeaseRun", grpc::Status(grpc::StatusCode::UNAVAILABLE, "down"));
  m.CountRpcError("LeaseRun", grpc::Status(grpc::StatusCode::UNAVAILABLE, "down"));
  m.CountRpcError("CompleteAttempt", grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, "stale"));
  m.CountRpcError("Heartbeat", grpc::Status::OK);
  const std::string text = Scrape(m);
  EXPECT_EQ(
      Sample(text, "ladder_worker_rpc_errors_total{code=\"UNAVAILABLE\",method=\"LeaseRun\"}"), 2);
  EXPECT_EQ(Sample(text,
                   "ladder_worker_rpc_errors_total{code=\"FAILED_PRECONDITION\",method="
                   "\"CompleteAttempt\"}"),
            1);
  EXPECT_FALSE(Has(text, "method=\"Heartbeat\"")) << text;
}

TEST(WorkerMetricsTest, BufferedPointsFollowSignedDeltas) {
  WorkerMetrics m({Device(0, "cpu")});
  m.AddBufferedPoints(30);
  m.AddBufferedPoints(12);
  m.AddBufferedPoints(-30);
  m.CountPointsDropped(5);
  const std::string text = Scrape(m);
  EXPECT_EQ(Sample(text, "ladder_worker_progress_points_buffered"), 12);
  EXPECT_EQ(Sample(text, "ladder_worker_progress_points_dropped_total"), 5);
}

TEST(WorkerMetricsTest, DeviceUsageOfUnregisteredDevicesIsIgnoredAndMissingFieldsRemoved) {
  WorkerMetrics m({Device(0, "cuda"), Device(1, "cuda")});
  m.SetDeviceUsage({0, 0.37, 1234.0 * (1 << 20), 81559.0 * (1 << 20)});
  m.SetDeviceUsage({5, 0.9, 1.0, 2.0});  // not registered
  std::string text = Scrape(m);
  EXPECT_DOUBLE_EQ(
      Sample(text, "ladder_worker_device_utilization_ratio{device=\"0\",kind=\"cuda\"}"), 0.37);
  EXPECT_EQ(Sample(text, "ladder_worker_device_memory_used_bytes{device=\"0\",kind=\"cuda\"}"),
            1234.0 * (1 << 20));
  EXPECT_EQ(Sample(text, "ladder_worker_device_memory_total_bytes{device=\"0\",kind=\"cuda\"}"),
            81559.0 * (1 << 20));
  EXPECT_FALSE(Has(text, "device=\"5\"")) << text;
  m.SetDeviceUsage({0, std::nullopt, 1.0, 2.0});
  text = Scrape(m);
  EXPECT_FALSE(Has(text, "ladder_worker_device_utilization_ratio{device=\"0\"")) << text;
  EXPECT_EQ(Sample(text, "ladder_worker_device_memory_used_bytes{device=\"0\",kind=\"cuda\"}"), 1);
}

}  // namespace
}  // namespace ladder::worker
