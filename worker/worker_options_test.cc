#include "worker/worker_options.h"

#include <gtest/gtest.h>

namespace ladder::worker {
namespace {

WorkerOptions Valid() {
  WorkerOptions o;
  o.coordinator.address = "127.0.0.1:7070";
  o.coordinator.insecure = true;
  o.name = "w1";
  o.trainer = "/bin/true";
  o.work_dir = "/tmp/ladder-work";
  return o;
}

TEST(WorkerOptionsTest, DefaultsWithRequiredFieldsAreValid) {
  EXPECT_TRUE(ValidateWorkerOptions(Valid()).ok()) << ValidateWorkerOptions(Valid());
}

TEST(WorkerOptionsTest, EachBadFieldIsNamed) {
  auto expect_bad = [](WorkerOptions o, const std::string& flag) {
    const absl::Status s = ValidateWorkerOptions(o);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << flag;
    EXPECT_EQ(s.message().rfind(flag, 0), 0u) << s;
  };
  WorkerOptions o = Valid();
  o.cpu_slots = 0;
  expect_bad(o, "--cpu-slots");
  o = Valid();
  o.trainer = "/nonexistent/ladder-train";
  expect_bad(o, "--trainer");
  o = Valid();
  o.trainer = "relative/ladder-train";
  expect_bad(o, "--trainer");
  o = Valid();
  o.work_dir = "relative";
  expect_bad(o, "--work-dir");
  o = Valid();
  o.kill_grace = std::chrono::milliseconds(0);
  expect_bad(o, "--kill-grace");
  o = Valid();
  o.coordinator.address = "10.0.0.1:7070";  // plaintext to a remote address
  expect_bad(o, "--coordinator");
  o = Valid();
  o.name = "";
  expect_bad(o, "--name");
  o = Valid();
  o.threads_per_slot = -1;
  expect_bad(o, "--threads-per-slot");
}

TEST(WorkerOptionsTest, DescriptionHasNoSecrets) {
  WorkerOptions o = Valid();
  o.coordinator.insecure = false;
  o.coordinator.bearer_token = "s3cret";
  const std::string text = DescribeWorkerOptions(o);
  EXPECT_EQ(text.find("s3cret"), std::string::npos) << text;
  EXPECT_NE(text.find("bearer token"), std::string::npos) << text;
  EXPECT_NE(text.find("silence-timeout 10m"), std::string::npos) << text;
}

}  // namespace
}  // namespace ladder::worker
