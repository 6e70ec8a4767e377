#include "client/run_pages.h"

namespace ladder::cli {

grpc::Status ListAllRuns(const CliContext& ctx, v1::Runs::Stub& stub, v1::ListRunsRequest request,
                         v1::ListRunsResponse* out) {
  out->Clear();
  request.set_page_size(1000);
  request.clear_page_token();
  for (;;) {
    v1::ListRunsResponse part;
    grpc::Status st = stub.ListRuns(ctx.Call().get(), request, &part);
    if (!st.ok()) return st;
    for (auto& r : *part.mutable_runs()) *out->add_runs() = std::move(r);
    out->set_total(part.total());
    if (part.next_page_token().empty()) return grpc::Status::OK;
    request.set_page_token(part.next_page_token());
  }
}

}  // namespace ladder::cli
