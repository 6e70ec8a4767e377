// Large-sweep benchmark over gRPC against a running ladder-coordinator
// (run_sweeps_bench.sh starts PostgreSQL and the coordinator, and adds the
// CLI's end-to-end figures and the coordinator's memory):
//
//   1. CreateSweep of a grid sweep of --runs runs (params x tokens x seeds);
//   2. GetSweep (what `ladder status SWEEP` calls), median of 5;
//   3. ListRuns: the first page, and the page after the one ending at the
//      middle of the sweep, of --page-size runs each, median of 5;
//   4. WatchSweep: time to the first event, its size and how many runs it
//      carries;
//   5. CancelSweep, and how long a watcher takes to hear of every run's
//      end (the stream ends with the sweep), in how many events.
//
// Every figure is printed as key=value on one line; a call that fails is
// reported as key=error:<code> (the run goes on), so the same program
// measures a coordinator that cannot answer a call yet.
//
//   ladder_sweeps_bench --coordinator HOST:PORT --runs 100000 --page-size 100
//   ladder_sweeps_bench --coordinator HOST:PORT --cancel SWEEP
#include <grpcpp/grpcpp.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <iostream>
#include <string>
#include <vector>

#include "common/grpc_runtime.h"
#include "ladder/v1/ladder.grpc.pb.h"

namespace {

using Clock = std::chrono::steady_clock;
using namespace ladder;

double MsSince(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

std::unique_ptr<grpc::ClientContext> Ctx(int seconds = 120) {
  auto c = std::make_unique<grpc::ClientContext>();
  c->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(seconds));
  return c;
}

std::string Error(const grpc::Status& st) {
  return "error:" + std::to_string(st.error_code()) + " (" + st.error_message().substr(0, 120) +
         ")";
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// A grid sweep of `runs` runs: one size, `tokens` lengths, runs/tokens seeds.
std::string GridSpec(int runs) {
  int token_values = 1;
  for (int t : {1000, 500, 250, 200, 100, 50, 40, 25, 20, 10, 8, 5, 4, 2, 1}) {
    if (runs % t == 0 && t <= runs) {
      token_values = t;
      break;
    }
  }
  const int seeds = runs / token_values;
  std::string tokens, seed_list;
  for (int i = 0; i < token_values; ++i) tokens += (i ? "," : "") + std::to_string(4096 * (i + 1));
  for (int i = 0; i < seeds; ++i) seed_list += (i ? "," : "") + std::to_string(i + 1);
  return "name: sweeps bench (SIMULATED)\nkind: grid\nfamilies: [lstm]\nmax_attempts: 1\n"
         "seeds: [" +
         seed_list + "]\ngrid: {params: [3e4], tokens: [" + tokens + "]}\n";
}

int Bench(const std::string& address, int runs, int page_size) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(-1);  // measure what the server sends, not a client cap
  auto channel = grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
  auto sweeps = v1::Sweeps::NewStub(channel);
  auto runs_stub = v1::Runs::NewStub(channel);

  v1::CreateSweepRequest create;
  create.set_spec_yaml(GridSpec(runs));
  v1::CreateSweepResponse created;
  Clock::time_point t = Clock::now();
  grpc::Status st = sweeps->CreateSweep(Ctx().get(), create, &created);
  const double create_ms = MsSince(t);
  if (!st.ok()) {
    std::cout << "create_sweep_ms=" << Error(st) << "\n";
    return 1;
  }
  const int64_t id = created.sweep().id();
  std::cout << "sweep_id=" << id << "\nruns=" << created.sweep().counts().total()
            << "\ncreate_sweep_ms=" << create_ms << "\n";

  std::vector<double> ms;
  v1::Sweep sweep;
  for (int i = 0; i < 5; ++i) {
    v1::GetSweepRequest req;
    req.set_sweep_id(id);
    t = Clock::now();
    st = sweeps->GetSweep(Ctx().get(), req, &sweep);
    ms.push_back(MsSince(t));
    if (!st.ok()) break;
  }
  if (st.ok()) {
    std::cout << "get_sweep_ms=" << Median(ms) << "\nget_sweep_bytes=" << sweep.ByteSizeLong()
              << "\n";
  } else {
    std::cout << "get_sweep_ms=" << Error(st) << "\n";
  }

  // The first page, then the page after the middle run.
  for (const auto& [key, token] : {std::pair<std::string, std::string>{"first", ""},
                                   {"middle", "o" + std::to_string(runs / 2 - 1)}}) {
    ms.clear();
    v1::ListRunsResponse page;
    for (int i = 0; i < 5; ++i) {
      v1::ListRunsRequest req;
      req.set_sweep_id(id);
      req.set_page_size(page_size);
      req.set_page_token(token);
      page.Clear();
      t = Clock::now();
      st = runs_stub->ListRuns(Ctx().get(), req, &page);
      ms.push_back(MsSince(t));
      if (!st.ok()) break;
    }
    if (st.ok()) {
      std::cout << "list_runs_" << key << "_page_ms=" << Median(ms) << "\nlist_runs_" << key
                << "_page_runs=" << page.runs_size() << "\nlist_runs_" << key
                << "_page_bytes=" << page.ByteSizeLong() << "\n";
    } else {
      std::cout << "list_runs_" << key << "_page_ms=" << Error(st) << "\n";
    }
  }

  {
    v1::WatchSweepRequest req;
    req.set_sweep_id(id);
    auto ctx = Ctx(60);
    t = Clock::now();
    auto reader = sweeps->WatchSweep(ctx.get(), req);
    v1::SweepEvent event;
    if (reader->Read(&event)) {
      std::cout << "watch_first_event_ms=" << MsSince(t)
                << "\nwatch_first_event_runs=" << event.runs_size()
                << "\nwatch_first_event_bytes=" << event.ByteSizeLong()
                << "\nwatch_first_event_total=" << event.sweep().counts().total() << "\n";
      ctx->TryCancel();
      reader->Finish();
    } else {
      st = reader->Finish();
      std::cout << "watch_first_event_ms=" << Error(st) << "\n";
    }
  }
  return 0;
}

// Cancelling changes every run at once: how long until a watcher has been
// told of each and the stream ends, in how many events.
int Cancel(const std::string& address, int64_t id) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(-1);
  auto channel = grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
  auto sweeps = v1::Sweeps::NewStub(channel);
  Clock::time_point t;
  grpc::Status st;
  {
    v1::WatchSweepRequest req;
    req.set_sweep_id(id);
    auto ctx = Ctx(600);
    auto reader = sweeps->WatchSweep(ctx.get(), req);
    v1::SweepEvent event;
    if (!reader->Read(&event)) {
      std::cout << "watch_cancel_ms=" << Error(reader->Finish()) << "\n";
      return 0;
    }
    v1::CancelSweepRequest cancel;
    cancel.set_sweep_id(id);
    v1::Sweep cancelled;
    t = Clock::now();
    st = sweeps->CancelSweep(Ctx().get(), cancel, &cancelled);
    const double cancel_ms = MsSince(t);
    if (!st.ok()) {
      std::cout << "cancel_sweep_ms=" << Error(st) << "\n";
      return 0;
    }
    int events = 0;
    int64_t runs_seen = 0;
    size_t largest = 0;
    while (reader->Read(&event)) {
      ++events;
      runs_seen += event.runs_size();
      largest = std::max(largest, event.ByteSizeLong());
    }
    st = reader->Finish();
    std::cout << "cancel_sweep_ms=" << cancel_ms << "\n";
    if (st.ok()) {
      std::cout << "watch_cancel_to_end_ms=" << MsSince(t) << "\nwatch_cancel_events=" << events
                << "\nwatch_cancel_runs=" << runs_seen
                << "\nwatch_cancel_largest_event_bytes=" << largest << "\n";
    } else {
      std::cout << "watch_cancel_to_end_ms=" << Error(st) << "\n";
    }
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  ladder::ConfigureGrpcRuntime();
  CLI::App app{"ladder_sweeps_bench: a large sweep's calls on a real coordinator"};
  std::string address;
  int runs = 100000, page_size = 100;
  int64_t cancel = 0;
  app.add_option("--coordinator", address)->required();
  app.add_option("--cancel", cancel, "instead: cancel this sweep while watching it (step 5)");
  app.add_option("--runs", runs)->capture_default_str()->check(CLI::Range(1, 100000));
  app.add_option("--page-size", page_size)->capture_default_str()->check(CLI::Range(1, 1000));
  CLI11_PARSE(app, argc, argv);
  if (cancel > 0) return Cancel(address, cancel);
  return Bench(address, runs, page_size);
}
