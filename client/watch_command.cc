// ladder watch SWEEP: live progress bars until the sweep ends.
// On a terminal the display is redrawn in place (the sweep's progress from
// its counts, and at most 20 runs, the live ones first); otherwise one line
// is printed per change (logs and CI stay readable).
#include <unistd.h>

#include <algorithm>
#include <iostream>
#include <map>
#include <sstream>

#include "client/commands.h"
#include "client/format.h"

namespace ladder::cli {
namespace {

class WatchDisplay {
 public:
  explicit WatchDisplay(bool tty) : tty_(tty) {}

  void Apply(const v1::SweepEvent& e) {
    if (e.has_sweep()) sweep_ = e.sweep();
    for (const auto& r : e.runs()) {
      if (!tty_) PrintChange(r);
      v1::Run& kept = runs_[r.ordinal()];
      kept = r;
      kept.clear_config_json();  // not shown; a large sweep's would add up
    }
    for (const auto& f : e.fits()) {
      fits_[f.family() + "/" + f.form()] = f;
      if (!tty_) std::cout << "fit " << Describe(f) << "\n";
    }
    if (tty_) Redraw();
    std::cout.flush();
  }

  void Finish() {
    std::cout << "sweep " << sweep_.id() << " " << StateName(sweep_.state()) << ": "
              << sweep_.counts().succeeded() << " succeeded, " << sweep_.counts().failed()
              << " failed, " << sweep_.counts().cancelled() << " cancelled\n";
  }

  const v1::Sweep& sweep() const { return sweep_; }

 private:
  static std::string Describe(const v1::Fit& f) {
    std::ostringstream o;
    o << f.family() << " " << f.form() << " v" << f.version() << " (" << f.runs_used()
      << " runs): " << f.status();
    for (const auto& p : f.parameters())
      o << " " << p.name() << "=" << Sci(p.value().estimate(), 4);
    if (!f.reason().empty()) o << " - " << f.reason();
    return o.str();
  }

  void PrintChange(const v1::Run& r) {
    auto it = runs_.find(r.ordinal());
    const bool state_changed = it == runs_.end() || it->second.state() != r.state();
    if (!state_changed) return;
    std::cout << "run " << r.ordinal() << " " << r.family() << " " << r.shape() << ": "
              << StateName(r.state());
    if (r.state() == v1::RUN_STATE_SUCCEEDED) {
      std::cout << " loss " << Sci(r.final_eval_loss(), 4) << (r.simulated() ? " (SIMULATED)" : "");
    }
    if (!r.last_error().empty() && r.state() != v1::RUN_STATE_SUCCEEDED)
      std::cout << " (" << r.last_error() << ")";
    std::cout << "  [sweep " << Bar(sweep_.progress(), 20) << "]\n";
  }

  void Redraw() {
    std::ostringstream o;
    if (lines_ > 0) o << "\x1b[" << lines_ << "F\x1b[J";  // up and clear
    int lines = 0;
    o << "sweep " << sweep_.id() << " '" << sweep_.name() << "' " << StateName(sweep_.state())
      << "  " << Bar(sweep_.progress(), 30) << "  " << sweep_.counts().succeeded() << "/"
      << sweep_.counts().total() << " done\n";
    ++lines;
    // At most kShownRuns runs, the live ones picked first, drawn by ordinal:
    // a large sweep's progress is the header's, from its counts.
    std::vector<const v1::Run*> shown;
    for (const bool live : {true, false}) {
      for (const auto& [ordinal, r] : runs_) {
        const bool is_live =
            r.state() == v1::RUN_STATE_LEASED || r.state() == v1::RUN_STATE_RUNNING;
        if (is_live == live && static_cast<int>(shown.size()) < kShownRuns) shown.push_back(&r);
      }
    }
    std::sort(shown.begin(), shown.end(),
              [](const v1::Run* a, const v1::Run* b) { return a->ordinal() < b->ordinal(); });
    for (const v1::Run* run : shown) {
      const v1::Run& r = *run;
      const int ordinal = r.ordinal();
      double frac =
          r.planned_tokens() > 0 ? static_cast<double>(r.tokens_done()) / r.planned_tokens() : 0;
      if (r.state() == v1::RUN_STATE_SUCCEEDED) frac = 1;
      std::string tail;
      if (r.state() == v1::RUN_STATE_SUCCEEDED) {
        tail = "loss " + Sci(r.final_eval_loss(), 4) + (r.simulated() ? " SIM" : "");
      } else if (r.state() == v1::RUN_STATE_RUNNING) {
        tail = "train " + Sci(r.last_train_loss(), 4) + "  " + Si(r.tokens_per_second()) + " tok/s";
      } else if (!r.last_error().empty()) {
        tail = r.last_error().substr(0, 50);
      }
      char head[96];
      std::snprintf(head, sizeof head, "%4d %-11s %-28.28s %-9s ", ordinal, r.family().c_str(),
                    r.shape().c_str(), StateName(r.state()).c_str());
      o << head << Bar(frac, 20) << "  " << tail << "\n";
      ++lines;
    }
    if (sweep_.counts().total() > static_cast<int64_t>(shown.size())) {
      o << "  ... " << sweep_.counts().total() - static_cast<int64_t>(shown.size())
        << " more runs (ladder runs " << sweep_.id() << ")\n";
      ++lines;
    }
    for (const auto& [key, f] : fits_) {
      o << "  fit " << Describe(f) << "\n";
      ++lines;
    }
    lines_ = lines;
    std::cout << o.str();
  }

  // Runs drawn on a terminal at most.
  static constexpr int kShownRuns = 20;

  const bool tty_;
  v1::Sweep sweep_;
  std::map<int, v1::Run> runs_;
  std::map<std::string, v1::Fit> fits_;
  int lines_ = 0;
};

}  // namespace

void AddWatchCommand(CLI::App& app, CliContext& ctx, int* exit_code) {
  auto* cmd = app.add_subcommand(
      "watch", "Follow a sweep live until it ends (exit 0 if it succeeded, 1 if not)");
  auto* sweep_id = new int64_t(0);
  cmd->add_option("SWEEP", *sweep_id, "sweep id")->required();
  cmd->callback([&ctx, exit_code, sweep_id] {
    auto* stub = ctx.sweeps();
    if (!stub) {
      *exit_code = 2;
      return;
    }
    v1::WatchSweepRequest req;
    req.set_sweep_id(*sweep_id);
    auto call = ctx.Call(/*streaming=*/true);
    auto reader = stub->WatchSweep(call.get(), req);
    WatchDisplay display(!ctx.json() && isatty(STDOUT_FILENO));
    v1::SweepEvent event;
    bool any = false;
    while (reader->Read(&event)) {
      any = true;
      if (ctx.json()) {
        std::cout << ToJson(event) << "\n" << std::flush;
        if (event.has_sweep()) *exit_code = event.sweep().state();
      }
      display.Apply(event);
    }
    grpc::Status st = reader->Finish();
    if (!st.ok()) {
      *exit_code = ctx.Fail(st, "watch " + std::to_string(*sweep_id));
      return;
    }
    if (!any) {
      *exit_code =
          ctx.Usage("watch " + std::to_string(*sweep_id) + ": the stream ended without an event");
      return;
    }
    if (!ctx.json()) display.Finish();
    *exit_code = display.sweep().state() == v1::SWEEP_STATE_SUCCEEDED ? 0 : 1;
  });
}

}  // namespace ladder::cli
