// ladder runs SWEEP [--limit N] [--page P]: one line per run, a page at a
// time, with a footer saying where the next page is.
#include <algorithm>
#include <cctype>
#include <climits>
#include <cmath>
#include <iostream>

#include "client/commands.h"
#include "client/format.h"
#include "client/run_pages.h"
#include "common/enums/proto_enums.h"

namespace ladder::cli {
namespace {

// The coordinator's page cap (server/sweep_manager.h kMaxRunsPageSize).
constexpr int kMaxLimit = 1000;

// ListRuns' page token for the runs after `ordinal`. Tokens are the
// coordinator's (server/sweep_manager.h RunsPageToken); this client ships
// with it and builds one to jump to a page, as a sweep's ordinals run 0, 1,
// 2, ... Other clients pass next_page_token back as it came.
std::string PageTokenAfter(int64_t ordinal) { return "o" + std::to_string(ordinal); }

std::string Grouped(int64_t n) {
  std::string s = std::to_string(n);
  for (int i = static_cast<int>(s.size()) - 3; i > 0; i -= 3) s.insert(i, ",");
  return s;
}

}  // namespace

void AddRunsCommand(CLI::App& app, CliContext& ctx, int* exit_code) {
  auto* cmd = app.add_subcommand("runs", "List a sweep's runs, a page at a time");
  auto* sweep_id = new int64_t(0);
  auto* state = new std::string;
  auto* limit_text = new std::string;
  auto* page_text = new std::string;
  cmd->add_option("SWEEP", *sweep_id, "sweep id")->required();
  cmd->add_option("--state", *state,
                  "only runs in this state (" + enums::NameList<enums::RunState>() + ")");
  cmd->add_option("--limit", *limit_text,
                  "runs per page, 1-" + std::to_string(kMaxLimit) +
                      " (default 100; with --json and no --limit or --page: every run)");
  cmd->add_option("--page", *page_text, "page to show, from 1 (default 1)");
  cmd->callback([&ctx, exit_code, sweep_id, state, limit_text, page_text] {
    v1::ListRunsRequest req;
    req.set_sweep_id(*sweep_id);
    if (!state->empty()) {
      std::string lower;
      for (char c : *state) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      auto s = enums::Parse<enums::RunState>(lower);
      if (!s) {
        *exit_code = ctx.Usage("--state: unknown run state '" + *state + "' (expected " +
                               enums::NameList<enums::RunState>() + ")");
        return;
      }
      req.set_state(enums::ToProto(*s));
    }
    // Whole positive numbers only ("2x", "-1", "1e3" and "" are refused).
    const auto parse = [](const std::string& text, int64_t max, int64_t* out) {
      if (text.empty() || text.size() > 12 ||
          text.find_first_not_of("0123456789") != std::string::npos) {
        return false;
      }
      *out = std::stoll(text);
      return *out >= 1 && *out <= max;
    };
    int64_t limit = 100, page = 1;
    if (!limit_text->empty() && !parse(*limit_text, kMaxLimit, &limit)) {
      *exit_code = ctx.Usage("--limit: must be a whole number from 1 to " +
                             std::to_string(kMaxLimit) + ", got '" + *limit_text + "'");
      return;
    }
    if (!page_text->empty() && !parse(*page_text, INT_MAX, &page)) {
      *exit_code = ctx.Usage("--page: must be a whole number from 1 (the first page), got '" +
                             *page_text + "'");
      return;
    }
    auto* stub = ctx.runs();
    if (!stub) {
      *exit_code = 2;
      return;
    }
    const std::string what = "runs " + std::to_string(*sweep_id);
    v1::ListRunsResponse resp;
    // --json without --limit or --page: every run, page after page, as one
    // response (scripts read it whole).
    if (ctx.json() && limit_text->empty() && page_text->empty()) {
      grpc::Status st = ListAllRuns(ctx, *stub, req, &resp);
      if (!st.ok()) {
        *exit_code = ctx.Fail(st, what);
        return;
      }
      std::cout << ToJson(resp) << "\n";
      *exit_code = 0;
      return;
    }
    req.set_page_size(static_cast<int>(limit));
    const int64_t skip = (page - 1) * limit;  // runs before the page
    if (skip > 0 && req.state() == v1::RUN_STATE_UNSPECIFIED) {
      // Every run: ordinals run 0, 1, 2, ..., so page P starts after
      // ordinal (P-1) x limit - 1.
      if (skip - 1 > INT_MAX) {
        *exit_code = ctx.Usage("--page: past the last run");
        return;
      }
      req.set_page_token(PageTokenAfter(skip - 1));
    } else if (skip > 0) {
      // Runs in one state: walk to the page (the coordinator's keyset is the
      // ordinal, not a position among the matching runs).
      v1::ListRunsRequest walk = req;
      walk.set_page_size(kMaxLimit);
      int64_t left = skip;
      while (left > 0) {
        walk.set_page_size(static_cast<int>(std::min<int64_t>(left, kMaxLimit)));
        v1::ListRunsResponse part;
        grpc::Status st = stub->ListRuns(ctx.Call().get(), walk, &part);
        if (!st.ok()) {
          *exit_code = ctx.Fail(st, what);
          return;
        }
        left -= part.runs_size();
        if (part.next_page_token().empty() || part.runs_size() == 0) {
          left = -1;  // past the last page
          break;
        }
        walk.set_page_token(part.next_page_token());
      }
      if (left < 0) {
        walk.set_page_token(PageTokenAfter(INT_MAX));  // an empty page, with the total
      }
      req.set_page_token(walk.page_token());
    }
    grpc::Status st = stub->ListRuns(ctx.Call().get(), req, &resp);
    // A page the coordinator cut short (its runs' configs are large) is
    // filled up from where it stopped.
    while (st.ok() && resp.runs_size() < limit && !resp.next_page_token().empty()) {
      v1::ListRunsRequest more = req;
      more.set_page_size(static_cast<int>(limit) - resp.runs_size());
      more.set_page_token(resp.next_page_token());
      v1::ListRunsResponse part;
      st = stub->ListRuns(ctx.Call().get(), more, &part);
      for (auto& r : *part.mutable_runs()) *resp.add_runs() = std::move(r);
      resp.set_next_page_token(part.next_page_token());
    }
    if (!st.ok()) {
      *exit_code = ctx.Fail(st, what);
      return;
    }
    const int64_t pages = resp.total() == 0 ? 1 : (resp.total() + limit - 1) / limit;
    if (page > pages) {
      *exit_code =
          ctx.Usage("--page: sweep " + std::to_string(*sweep_id) + " has " + Grouped(pages) +
                    (pages == 1 ? " page" : " pages") + " of " + std::to_string(limit) + " runs (" +
                    Grouped(resp.total()) + " runs), not " + std::to_string(page));
      return;
    }
    if (ctx.json()) {
      std::cout << ToJson(resp) << "\n";
    } else {
      std::vector<std::vector<std::string>> rows = {
          {"run", "#", "family", "shape", "N", "D", "C", "state", "try", "loss", "worker", "note"}};
      for (const auto& r : resp.runs()) {
        const bool done = r.state() == v1::RUN_STATE_SUCCEEDED;
        rows.push_back(
            {std::to_string(r.id()), std::to_string(r.ordinal()), r.family(), r.shape(),
             Si(r.planned_non_embedding_params()), Si(r.planned_tokens()), Sci(r.planned_flops()),
             StateName(r.state()), std::to_string(r.attempts()),
             done ? Sci(r.final_eval_loss(), 4)
                  : (std::isfinite(r.last_train_loss()) ? "~" + Sci(r.last_train_loss(), 4) : "-"),
             r.worker_name().empty() ? "-" : r.worker_name(),
             (r.simulated() ? std::string("SIMULATED ") : std::string()) + r.last_error()});
      }
      std::cout << Table(rows);
      std::cout << "page " << Grouped(page) << " of " << Grouped(pages) << " ("
                << Grouped(resp.total()) << (resp.total() == 1 ? " run" : " runs") << ")";
      if (page < pages) {
        std::cout << "; next: ladder runs " << *sweep_id
                  << (state->empty() ? std::string() : " --state " + *state) << " --limit " << limit
                  << " --page " << page + 1;
      }
      std::cout << "\n";
    }
    *exit_code = 0;
  });
}

}  // namespace ladder::cli
