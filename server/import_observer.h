// A named observer of sweeps whose results changed outside the agent path
// (instead of a wiring lambda): SweepManager tells each of its observers of
// every import, on the RPC's thread, once the import committed. RefitLoop is
// one: an imported sweep is fitted.
#pragma once

#include <cstdint>

namespace ladder {

class ImportObserver {
 public:
  virtual ~ImportObserver() = default;
  // Must be quick: it runs on the RPC's thread.
  virtual void OnSweepImported(int64_t sweep_id) = 0;
};

}  // namespace ladder
