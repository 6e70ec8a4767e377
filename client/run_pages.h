// Every run a ListRuns request matches, page after page: ListRuns answers
// at most a page (1,000 runs) per call, so commands that need a whole sweep
// (export, plot, `runs --json`) follow next_page_token to the end.
#pragma once

#include <grpcpp/grpcpp.h>

#include "client/cli_context.h"
#include "ladder/v1/ladder.grpc.pb.h"

namespace ladder::cli {

// `*out` receives every matching run, in ordinal order, and the total; the
// request's page_size and page_token are set here. The first failed call's
// status is returned.
grpc::Status ListAllRuns(const CliContext& ctx, v1::Runs::Stub& stub, v1::ListRunsRequest request,
                         v1::ListRunsResponse* out);

}  // namespace ladder::cli
