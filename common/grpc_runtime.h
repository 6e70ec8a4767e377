// Process-wide settings for the programs that serve or call gRPC. Call
// ConfigureGrpcRuntime() first thing in main().
#pragma once

namespace ladder {

// Debian builds Abseil with absl::Mutex deadlock detection on: every lock
// that gRPC takes (several per call) also updates a global lock-order graph,
// which showed up as a few percent of the coordinator's CPU under load. The
// detector is a debugging aid, so production binaries turn it off.
void ConfigureGrpcRuntime();

}  // namespace ladder
