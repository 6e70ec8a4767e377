// A minimal blocking HTTP GET for tests (Boost.Beast): returns the body, or
// "" with *status set to 0 when the server cannot be reached.
#pragma once

#include <string>

namespace ladder::testing {

std::string HttpGet(const std::string& host, int port, const std::string& target,
                    int* status = nullptr);

// The value of the first sample line of `metrics` (Prometheus text format)
// that starts with `prefix` (e.g. `ladder_leases_total{granted="true"}`);
// NaN if there is none.
double MetricValue(const std::string& metrics, const std::string& prefix);

}  // namespace ladder::testing
