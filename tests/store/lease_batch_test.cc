// Group commit in the lease store against a real PostgreSQL: batches of
// leases and completions keep every fencing rule of the single calls — a
// stale lease in a batch writes nothing while the live ones beside it do, a
// run gets exactly one result, each request is judged on its own, and
// batches racing on two stores (two coordinators) never lease a run twice.
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "tests/store/store_fixture.h"

namespace ladder {
namespace {

using namespace std::chrono_literals;
using store::LeaseStore;
using testing::AheadOfTheDatabase;
using testing::StoreTest;

v1::CompleteAttemptRequest Completion(const v1::Lease& l, const std::string& result) {
  v1::CompleteAttemptRequest req;
  req.set_attempt_id(l.attempt_id());
  req.set_lease_token(l.lease_token());
  req.set_result_json(result);
  return req;
}

std::string Msg(const absl::Status& st) { return std::string(st.message()); }

TEST_F(StoreTest, OneRequestLeasesARunForEachFreeDevice) {
  CreateSweep(5);
  const int64_t w = Register("w");
  auto r = leases_->LeaseRuns({LeaseStore::LeaseAsk{w, {0, 1, 2}, true}});
  ASSERT_TRUE(r[0].ok()) << r[0].status();
  ASSERT_EQ(r[0]->leases_size(), 3);
  EXPECT_TRUE(r[0]->granted());
  std::set<int64_t> runs;
  std::set<int32_t> devices;
  for (const auto& l : r[0]->leases()) {
    runs.insert(l.run_id());
    devices.insert(l.device_index());
  }
  EXPECT_EQ(runs.size(), 3u);
  EXPECT_EQ(devices, (std::set<int32_t>{0, 1, 2}));
  EXPECT_EQ(r[0]->lease().attempt_id(), r[0]->leases(0).attempt_id());
  // Priority order: the three lowest run ids, device 0 first.
  EXPECT_LT(r[0]->leases(0).run_id(), r[0]->leases(1).run_id());
  EXPECT_EQ(db_.Query("SELECT count(*) FROM attempts WHERE outcome IS NULL"), "3");
  EXPECT_EQ(db_.Query("SELECT count(*) FROM runs WHERE state = 'leased'"), "3");
}

TEST_F(StoreTest, ALeaseBatchJudgesEachRequestOnItsOwn) {
  CreateSweep(4);
  const int64_t busy = Register("busy"), good = Register("good");
  const v1::Lease busy_lease = leases_->LeaseRun(busy, 1)->lease();
  auto r = leases_->LeaseRuns(
      {LeaseStore::LeaseAsk{424242, {0}, false}, LeaseStore::LeaseAsk{busy, {0, 1}, true},
       LeaseStore::LeaseAsk{good, {0, kDevices}, true}, LeaseStore::LeaseAsk{good, {1}, false}});
  EXPECT_EQ(r[0].status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(Msg(r[0].status()).find("worker_id"), std::string::npos) << r[0].status();
  // The busy device's own lease again, and a run for its free one.
  ASSERT_TRUE(r[1].ok()) << r[1].status();
  ASSERT_EQ(r[1]->leases_size(), 2);
  EXPECT_EQ(r[1]->leases(1).device_index(), 1);
  EXPECT_EQ(r[1]->leases(1).attempt_id(), busy_lease.attempt_id());
  EXPECT_EQ(r[2].status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(Msg(r[2].status()).find("device_indexes[1]"), std::string::npos) << r[2].status();
  ASSERT_TRUE(r[3].ok()) << r[3].status();
  EXPECT_TRUE(r[3]->granted());
  // A refused request leased nothing, not even its good device.
  EXPECT_EQ(db_.Query("SELECT count(*) FROM attempts WHERE outcome IS NULL"), "3");
}

TEST_F(StoreTest, ADrainingWorkersRequestWithAnUnknownDeviceIsNotFound) {
  CreateSweep(2);
  const int64_t w = Register("w");
  db_.Query("UPDATE workers SET state = 'draining' WHERE id = " + std::to_string(w));
  auto r = leases_->LeaseRuns({LeaseStore::LeaseAsk{w, {kDevices + 1, 0}, true}});
  EXPECT_EQ(r[0].status().code(), absl::StatusCode::kNotFound) << r[0].status();
  EXPECT_NE(Msg(r[0].status()).find("device_indexes[0]"), std::string::npos) << r[0].status();
  auto drained = leases_->LeaseRuns({LeaseStore::LeaseAsk{w, {0, 1}, true}});
  ASSERT_TRUE(drained[0].ok()) << drained[0].status();
  EXPECT_TRUE(drained[0]->drain());
  EXPECT_FALSE(drained[0]->granted());
}

TEST_F(StoreTest, ALeaseBatchNamingOneDeviceTwiceGrantsItOnce) {
  CreateSweep(3);
  const int64_t w = Register("w");
  auto r = leases_->LeaseRuns(
      {LeaseStore::LeaseAsk{w, {3}, false}, LeaseStore::LeaseAsk{w, {3}, false}});
  ASSERT_TRUE(r[0].ok() && r[0]->granted()) << r[0].status();
  EXPECT_EQ(r[1].status().code(), absl::StatusCode::kFailedPrecondition) << r[1].status();
  EXPECT_EQ(db_.Query("SELECT count(*) FROM attempts WHERE outcome IS NULL"), "1");
}

TEST_F(StoreTest, ADeviceTheBatchsRunsDoNotFitSearchesOnAndTooSmallGetsNothing) {
  // Runs of two sizes: the big ones come first in the queue.
  CreateSweep(2, 3, /*priority=*/5, /*params=*/1e6);
  CreateSweep(2, 3, /*priority=*/0, /*params=*/1e4);
  const int64_t big_mem = std::stoll(db_.Query("SELECT max(memory_bytes) FROM runs"));
  const int64_t small_mem = std::stoll(db_.Query("SELECT min(memory_bytes) FROM runs"));
  ASSERT_LT(small_mem, big_mem);
  const int64_t small = Register("small", small_mem);
  const int64_t tiny = Register("tiny", small_mem - 1);
  const int64_t big = Register("big", big_mem);
  auto r = leases_->LeaseRuns({LeaseStore::LeaseAsk{small, {0}, false},
                               LeaseStore::LeaseAsk{tiny, {0}, false},
                               LeaseStore::LeaseAsk{big, {0}, false}});
  for (const auto& x : r) ASSERT_TRUE(x.ok()) << x.status();
  ASSERT_TRUE(r[0]->granted()) << "the small device gets a small run past the big ones";
  EXPECT_EQ(db_.Query("SELECT memory_bytes FROM runs WHERE id = " +
                      std::to_string(r[0]->lease().run_id())),
            std::to_string(small_mem));
  EXPECT_FALSE(r[1]->granted()) << "nothing fits the tiny device";
  ASSERT_TRUE(r[2]->granted());
  EXPECT_EQ(db_.Query("SELECT memory_bytes FROM runs WHERE id = " +
                      std::to_string(r[2]->lease().run_id())),
            std::to_string(big_mem));
}

TEST_F(StoreTest, ACompletionBatchMixingAStaleAndALiveLeaseStoresOnlyTheLiveOne) {
  store::LeaseSettings s;
  s.ttl = 150ms;
  FakeClock clock(AheadOfTheDatabase());
  store::LeaseStore leases(pool_.get(), s, &clock);
  CreateSweep(2);
  const int64_t w1 = Register("w1"), w2 = Register("w2");
  const v1::Lease stale = leases.LeaseRun(w1, 0)->lease();
  clock.Advance(150ms);
  ASSERT_TRUE(leases.ExpireLeases().ok());
  const v1::Lease taken_over = leases.LeaseRun(w2, 0)->lease();  // the same run, again
  ASSERT_EQ(taken_over.run_id(), stale.run_id());
  const v1::Lease live = leases.LeaseRun(w2, 1)->lease();
  v1::Lease forged = live;
  forged.set_lease_token(std::string(32, '0'));
  const auto a = Completion(stale, PlausibleResult(stale.run_id(), 9.0));
  const auto b = Completion(live, PlausibleResult(live.run_id(), 2.0));
  const auto c = Completion(forged, PlausibleResult(live.run_id(), 7.0));
  auto r = leases.CompleteAttempts({&a, &b, &c});
  EXPECT_EQ(r[0].status().code(), absl::StatusCode::kFailedPrecondition) << r[0].status();
  ASSERT_TRUE(r[1].ok()) << r[1].status();
  EXPECT_FALSE(r[1]->already_recorded);
  EXPECT_EQ(r[2].status().code(), absl::StatusCode::kPermissionDenied) << r[2].status();
  EXPECT_EQ(db_.Query("SELECT state FROM runs WHERE id = " + std::to_string(stale.run_id())),
            "leased")
      << "the stale lease wrote nothing";
  EXPECT_EQ(
      db_.Query("SELECT final_eval_loss || ':' || succeeded_attempt_id FROM runs WHERE id = " +
                std::to_string(live.run_id())),
      "2:" + std::to_string(live.attempt_id()));
  EXPECT_EQ(db_.Query("SELECT count(*) FROM attempts WHERE outcome = 'succeeded'"), "1");
}

TEST_F(StoreTest, ACompletionRepeatedInOneBatchIsStoredOnce) {
  CreateSweep(1);
  const v1::Lease l = MustLease(Register("w"));
  const auto first = Completion(l, PlausibleResult(l.run_id(), 3.0));
  const auto again = Completion(l, PlausibleResult(l.run_id(), 4.0));
  auto r = leases_->CompleteAttempts({&first, &again});
  ASSERT_TRUE(r[0].ok() && r[1].ok()) << r[0].status() << " / " << r[1].status();
  EXPECT_FALSE(r[0]->already_recorded);
  EXPECT_TRUE(r[1]->already_recorded);
  EXPECT_EQ(db_.Query("SELECT final_eval_loss FROM runs"), "3");
}

TEST_F(StoreTest, ABadResultInABatchFailsOnlyItsOwnAttempt) {
  CreateSweep(2);
  const int64_t w = Register("w");
  const v1::Lease bad = MustLease(w), good = MustLease(w);
  const auto a = Completion(bad, "{\"final_eval_loss\": null}");
  const auto b = Completion(good, PlausibleResult(good.run_id(), 2.5));
  auto r = leases_->CompleteAttempts({&a, &b});
  EXPECT_EQ(r[0].status().code(), absl::StatusCode::kInvalidArgument) << r[0].status();
  EXPECT_NE(Msg(r[0].status()).find("final_eval_loss"), std::string::npos);
  ASSERT_TRUE(r[1].ok()) << r[1].status();
  EXPECT_EQ(db_.Query("SELECT state || ':' || failures FROM runs WHERE id = " +
                      std::to_string(bad.run_id())),
            "queued:1");
  EXPECT_EQ(db_.Query("SELECT state || ':' || final_eval_loss FROM runs WHERE id = " +
                      std::to_string(good.run_id())),
            "succeeded:2.5");
}

TEST_F(StoreTest, BatchesOnTwoStoresDrainAQueueWithEachRunLeasedAndCompletedOnce) {
  constexpr int kRuns = 120;
  CreateSweep(kRuns);
  auto pool_a = MakePool(3), pool_b = MakePool(3);
  store::LeaseStore a(pool_a.get(), store::LeaseSettings{});
  store::LeaseStore b(pool_b.get(), store::LeaseSettings{});
  std::vector<int64_t> workers;
  for (int i = 0; i < 6; ++i) workers.push_back(Register("w" + std::to_string(i)));
  std::mutex mu;
  std::vector<int64_t> leased;
  std::atomic<int> errors{0};
  const auto drain = [&](store::LeaseStore& leases, int first_worker) {
    for (;;) {
      std::vector<LeaseStore::LeaseAsk> asks;
      for (int i = first_worker; i < first_worker + 3; ++i)
        asks.push_back({workers[i], {0, 1, 2, 3}, true});
      auto r = leases.LeaseRuns(asks);
      std::vector<v1::CompleteAttemptRequest> done;
      for (const auto& x : r) {
        if (!x.ok()) {
          ++errors;
          continue;
        }
        for (const auto& l : x->leases())
          done.push_back(Completion(l, PlausibleResult(l.run_id(), 2.0)));
      }
      if (done.empty()) return;
      std::vector<const v1::CompleteAttemptRequest*> ptrs;
      for (const auto& d : done) ptrs.push_back(&d);
      for (const auto& e : leases.CompleteAttempts(ptrs)) {
        if (!e.ok()) ++errors;
      }
      std::lock_guard<std::mutex> lock(mu);
      for (const auto& d : done) leased.push_back(d.attempt_id());
    }
  };
  std::thread ta([&] { drain(a, 0); }), tb([&] { drain(b, 3); });
  ta.join();
  tb.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(leased.size(), static_cast<size_t>(kRuns));
  EXPECT_EQ(db_.Query("SELECT count(*) FROM runs WHERE state = 'succeeded'"),
            std::to_string(kRuns));
  EXPECT_EQ(db_.Query("SELECT count(*) FROM attempts"), std::to_string(kRuns))
      << "no run was leased twice";
  EXPECT_EQ(db_.Query("SELECT count(*) FROM attempts WHERE outcome = 'succeeded'"),
            std::to_string(kRuns));
}

}  // namespace
}  // namespace ladder
