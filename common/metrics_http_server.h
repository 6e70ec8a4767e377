// Serves a prometheus-cpp registry as text on GET /metrics (and a liveness
// answer on /healthz), over Boost.Beast on one background thread.
//
// Why not prometheus-cpp's own Exposer: it runs civetweb, whose threads get a
// fixed ~100 KiB stack that the thread-local storage of glog/METIS (Ceres)
// and libtorch eats into, so a scrape can overflow it in binaries that link
// them (DEPS.md, "Known gotchas"). Beast runs the scrape on a normal thread.
//
// Every connection is its own asynchronous session: one that connects and
// sends nothing, or sends half a request, is closed after `read_timeout` and
// never holds up another client (a Prometheus scrape, a Kubernetes liveness
// probe). At most `max_connections` are open at once; a connection beyond
// that gets "503 too many connections" (best effort, never blocking) and is
// closed. One request per connection. Requests are handled on the single io
// thread, so /metrics collections are serialised.
//
// Thread-safe: Start/Stop from one owner thread; collection reads the
// registry, which prometheus-cpp makes safe for concurrent updates.
#pragma once

#include <absl/status/statusor.h>
#include <prometheus/registry.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>

namespace ladder {

class MetricsHttpServer {
 public:
  struct Options {
    // A connection that has not sent a whole request (or not taken the whole
    // response) within this time is closed.
    std::chrono::milliseconds read_timeout{5000};
    // Connections open at once; more are refused.
    int max_connections = 64;
  };

  // Binds `address` (host:port; port 0 picks one) and starts serving.
  static absl::StatusOr<std::unique_ptr<MetricsHttpServer>> Start(
      const std::string& address, std::shared_ptr<prometheus::Registry> registry,
      const Options& options);
  static absl::StatusOr<std::unique_ptr<MetricsHttpServer>> Start(
      const std::string& address, std::shared_ptr<prometheus::Registry> registry) {
    return Start(address, std::move(registry), Options());
  }
  ~MetricsHttpServer();

  int port() const { return port_; }
  // Closes the listener and every open connection; idempotent.
  void Stop();

 private:
  struct Impl;
  class Session;
  MetricsHttpServer() = default;
  std::unique_ptr<Impl> impl_;
  std::thread thread_;
  int port_ = 0;
};

// Splits "host:port" (IPv6 hosts in brackets). False if malformed.
bool SplitHostPort(const std::string& address, std::string* host, int* port);

}  // namespace ladder
