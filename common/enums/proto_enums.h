// The run and sweep states between their stored names (enums.h) and the
// wire (ladder.v1). Header-only; whoever includes it links ladder_proto.
// tests/store/sweep_store_test.cc checks that each pair names the same state.
#pragma once

#include <array>
#include <optional>
#include <utility>

#include "common/enums/enums.h"
#include "ladder/v1/ladder.pb.h"

namespace ladder::enums {

inline constexpr std::array<std::pair<RunState, v1::RunState>, 6> kRunStateWire = {{
    {RunState::kQueued, v1::RUN_STATE_QUEUED},
    {RunState::kLeased, v1::RUN_STATE_LEASED},
    {RunState::kRunning, v1::RUN_STATE_RUNNING},
    {RunState::kSucceeded, v1::RUN_STATE_SUCCEEDED},
    {RunState::kFailed, v1::RUN_STATE_FAILED},
    {RunState::kCancelled, v1::RUN_STATE_CANCELLED},
}};

inline constexpr std::array<std::pair<SweepState, v1::SweepState>, 4> kSweepStateWire = {{
    {SweepState::kActive, v1::SWEEP_STATE_ACTIVE},
    {SweepState::kSucceeded, v1::SWEEP_STATE_SUCCEEDED},
    {SweepState::kFailed, v1::SWEEP_STATE_FAILED},
    {SweepState::kCancelled, v1::SWEEP_STATE_CANCELLED},
}};

constexpr v1::RunState ToProto(RunState s) {
  for (const auto& [e, p] : kRunStateWire) {
    if (e == s) return p;
  }
  return v1::RUN_STATE_UNSPECIFIED;
}

constexpr v1::SweepState ToProto(SweepState s) {
  for (const auto& [e, p] : kSweepStateWire) {
    if (e == s) return p;
  }
  return v1::SWEEP_STATE_UNSPECIFIED;
}

// nullopt for UNSPECIFIED (and any value not in the table).
constexpr std::optional<RunState> FromProto(v1::RunState s) {
  for (const auto& [e, p] : kRunStateWire) {
    if (p == s) return e;
  }
  return std::nullopt;
}

constexpr std::optional<SweepState> FromProto(v1::SweepState s) {
  for (const auto& [e, p] : kSweepStateWire) {
    if (p == s) return e;
  }
  return std::nullopt;
}

}  // namespace ladder::enums
