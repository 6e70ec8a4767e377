#include "server/fit/observation.h"

namespace ladder::fit {

const char* FlopsCountName(FlopsCount count) {
  switch (count) {
    case FlopsCount::kExact:
      return "exact";
    case FlopsCount::kSixND:
      return "6nd";
  }
  return "exact";
}

bool ParseFlopsCount(const std::string& name, FlopsCount* count) {
  if (name == "exact") {
    *count = FlopsCount::kExact;
    return true;
  }
  if (name == "6nd") {
    *count = FlopsCount::kSixND;
    return true;
  }
  return false;
}

double ComputeOf(const Observation& run, FlopsCount count) {
  if (count == FlopsCount::kExact) return run.flops;
  return run.flops_6nd > 0 ? run.flops_6nd : 6.0 * run.params * run.tokens;
}

}  // namespace ladder::fit
