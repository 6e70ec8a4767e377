// Where a watch stream finds the fits stored since it last looked, so
// watchers see new fits as they land. FitQueries is the one in service;
// WatchHub asks it on its own thread.
#pragma once

#include <absl/status/statusor.h>

#include <cstdint>
#include <vector>

#include "ladder/v1/ladder.pb.h"

namespace ladder {

class FitFeed {
 public:
  virtual ~FitFeed() = default;
  // Fits of `sweep_id` stored after fit id `after_id`, oldest first.
  virtual absl::StatusOr<std::vector<v1::Fit>> FitsAfter(int64_t sweep_id, int64_t after_id) = 0;
};

}  // namespace ladder
