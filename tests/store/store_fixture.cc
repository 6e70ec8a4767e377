#include "tests/store/store_fixture.h"

#include "common/protocol/trainer_events.h"
#include "server/store/migrations.h"
#include "server/sweep_manager.h"

namespace ladder::testing {

using namespace std::chrono_literals;

void StoreTest::SetUp() {
  pool_ = MakePool();
  ASSERT_TRUE(store::ApplyMigrations(*pool_).ok());
  sweeps_ = std::make_unique<store::SweepStore>(pool_.get());
  store::LeaseSettings s;
  s.ttl = 30s;
  s.retry_backoff = 0ms;
  leases_ = std::make_unique<store::LeaseStore>(pool_.get(), s);
}

std::unique_ptr<store::PgPool> StoreTest::MakePool(int size) {
  store::PgPool::Options o;
  o.url = db_.url();
  o.size = size;
  auto pool = store::PgPool::Connect(o);
  EXPECT_TRUE(pool.ok()) << pool.status();
  return pool.ok() ? *std::move(pool) : nullptr;
}

int64_t StoreTest::CreateSweep(int n, int max_attempts, int priority, double params) {
  std::string tokens;
  for (int i = 0; i < n; ++i) tokens += (i ? "," : "") + std::to_string(4096 * (i + 1));
  auto spec = ParseSweepSpec(
      "name: s\nkind: grid\nfamilies: [lstm]\nmax_attempts: " + std::to_string(max_attempts) +
      "\npriority: " + std::to_string(priority) + "\ngrid: {params: [" + std::to_string(params) +
      "], tokens: [" + tokens + "]}\n");
  EXPECT_TRUE(spec.ok()) << spec.status();
  auto runs = PlanSweep(*spec);
  EXPECT_TRUE(runs.ok()) << runs.status();
  auto sweep = sweeps_->CreateSweep(SweepRow("yaml", *spec), RunRows(*runs));
  EXPECT_TRUE(sweep.ok()) << sweep.status();
  return sweep->id();
}

int64_t StoreTest::Register(const std::string& name, int64_t memory, store::LeaseStore* leases) {
  v1::RegisterWorkerRequest req;
  req.set_name(name);
  req.set_hostname("host-" + name);
  req.set_trainer("ladder-sim");
  // Several devices: a device holds one live lease at a time.
  for (int i = 0; i < kDevices; ++i) {
    v1::Device* d = req.add_devices();
    d->set_index(i);
    d->set_kind("cpu");
    d->set_model("cpu");
    d->set_memory_bytes(memory);
    d->set_threads(1);
  }
  auto id = (leases ? leases : leases_.get())->RegisterWorker(req);
  EXPECT_TRUE(id.ok()) << id.status();
  return *id;
}

int StoreTest::FreeDevice(int64_t worker) {
  return std::stoi(db_.Query(
      "SELECT min(i) FROM generate_series(0, " + std::to_string(kDevices - 1) +
      ") i WHERE NOT EXISTS (SELECT 1 FROM attempts WHERE worker_id = " + std::to_string(worker) +
      " AND device_index = i AND outcome IS NULL)"));
}

v1::Lease StoreTest::MustLease(int64_t worker) {
  auto r = leases_->LeaseRun(worker, FreeDevice(worker));
  EXPECT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->granted());
  return r->lease();
}

absl::StatusOr<store::AttemptEnd> StoreTest::Complete(const v1::Lease& l, double loss) {
  v1::CompleteAttemptRequest req;
  req.set_attempt_id(l.attempt_id());
  req.set_lease_token(l.lease_token());
  req.set_result_json(PlausibleResult(l.run_id(), loss));
  return leases_->CompleteAttempt(req);
}

std::string StoreTest::PlausibleResult(int64_t run_id, double loss) {
  protocol::ResultEvent r;  // every required field; the others zero
  r.final_eval_loss = loss;
  r.tokens =
      std::stoll(db_.Query("SELECT planned_tokens FROM runs WHERE id = " + std::to_string(run_id)));
  r.flops =
      std::stod(db_.Query("SELECT planned_flops FROM runs WHERE id = " + std::to_string(run_id)));
  r.params_total = 10;
  r.simulated = true;
  return protocol::WriteEventLine(r);
}

absl::StatusOr<store::AttemptEnd> StoreTest::Fail(const v1::Lease& l, const std::string& reason) {
  v1::FailAttemptRequest req;
  req.set_attempt_id(l.attempt_id());
  req.set_lease_token(l.lease_token());
  req.set_reason(reason);
  req.set_message("test");
  return leases_->FailAttempt(req);
}

}  // namespace ladder::testing
