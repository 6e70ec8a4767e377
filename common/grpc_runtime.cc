#include "common/grpc_runtime.h"

#include <absl/synchronization/mutex.h>

namespace ladder {

void ConfigureGrpcRuntime() { absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore); }

}  // namespace ladder
