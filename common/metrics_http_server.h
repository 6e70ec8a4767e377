// Serves a prometheus-cpp registry as text on GET /metrics, over
// Boost.Beast on one background thread.
//
// Why not prometheus-cpp's own Exposer: it runs civetweb, whose threads get a
// fixed ~100 KiB stack that the thread-local storage of glog/METIS (Ceres)
// and libtorch eats into, so a scrape can overflow it in binaries that link
// them (DEPS.md, "Known gotchas"). Beast runs the scrape on a normal thread.
//
// Thread-safe: Start/Stop from one owner thread; collection reads the
// registry, which prometheus-cpp makes safe for concurrent updates.
#pragma once

#include <absl/status/statusor.h>
#include <prometheus/registry.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>

namespace ladder {

class MetricsHttpServer {
 public:
  // Binds `address` (host:port; port 0 picks one) and starts serving.
  static absl::StatusOr<std::unique_ptr<MetricsHttpServer>> Start(
      const std::string& address, std::shared_ptr<prometheus::Registry> registry);
  ~MetricsHttpServer();

  int port() const { return port_; }
  void Stop();

 private:
  struct Impl;
  MetricsHttpServer() = default;
  std::unique_ptr<Impl> impl_;
  std::thread thread_;
  int port_ = 0;
};

// Splits "host:port" (IPv6 hosts in brackets). False if malformed.
bool SplitHostPort(const std::string& address, std::string* host, int* port);

}  // namespace ladder
