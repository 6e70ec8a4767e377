// The one conversion between Ladder's internal absl::Status and gRPC's status.
// Handlers return ToGrpcStatus(core_call(...)); clients turn a gRPC status
// back with FromGrpcStatus. Codes keep their meaning for retry rules:
// UNAVAILABLE retry the call, ABORTED retry the transaction,
// FAILED_PRECONDITION do not retry, INVALID_ARGUMENT fix the request.
#pragma once

#include <absl/status/status.h>
#include <grpcpp/support/status.h>

namespace ladder {

grpc::Status ToGrpcStatus(const absl::Status& status);
absl::Status FromGrpcStatus(const grpc::Status& status);

// Short name of a gRPC code ("INVALID_ARGUMENT"), for logs, metrics, CLI.
const char* GrpcCodeName(grpc::StatusCode code);

}  // namespace ladder
