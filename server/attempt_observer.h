// A named observer of attempts that ended (instead of a wiring lambda): the
// Scheduler tells each of its observers, on the thread that ended the
// attempt (an Agent RPC's), once the transaction that ended it committed.
// RefitLoop is one: a success refits its sweep.
#pragma once

#include "common/enums/enums.h"
#include "server/store/lease_store.h"

namespace ladder {

class AttemptObserver {
 public:
  virtual ~AttemptObserver() = default;
  // Must be quick: it runs on the RPC's thread.
  virtual void OnAttemptEnded(const store::AttemptEnd& end, enums::AttemptOutcome outcome) = 0;
};

}  // namespace ladder
