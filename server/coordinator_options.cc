#include "server/coordinator_options.h"

#include <regex>
#include <sstream>

#include "common/channel_options.h"
#include "common/duration.h"

namespace ladder {

std::string RedactDatabaseUrl(const std::string& url) {
  // postgresql://user:secret@host -> postgresql://user:****@host
  static const std::regex kUrlPassword(R"(^([a-z]+://[^:/@]*:)[^@]*@)");
  // key=value form: password=secret
  static const std::regex kKvPassword(R"((password\s*=\s*)('[^']*'|\S+))");
  std::string out = std::regex_replace(url, kUrlPassword, "$1****@");
  return std::regex_replace(out, kKvPassword, "$1****");
}

absl::Status CoordinatorOptions::Validate() const {
  auto bad = [](const std::string& m) { return absl::InvalidArgumentError(m); };
  if (listen.empty() || listen.find(':') == std::string::npos) {
    return bad("--listen: must be host:port, got '" + listen + "'");
  }
  if (database_url.empty()) return bad("--database-url: required (or set LADDER_DATABASE_URL)");
  if (db_pool_size < 1 || db_pool_size > 512) return bad("--db-pool-size: must be in [1, 512]");
  if (rpc_threads < 2) return bad("--rpc-threads: must be at least 2");
  if (lease_ttl.count() < 100) return bad("--lease-ttl: must be at least 100ms");
  if (heartbeat_interval.count() < 10 || heartbeat_interval >= lease_ttl) {
    return bad("--heartbeat-interval: must be at least 10ms and less than --lease-ttl");
  }
  if (maintenance_interval.count() < 10)
    return bad("--maintenance-interval: must be at least 10ms");
  if (worker_gone_after < lease_ttl)
    return bad("--worker-gone-after: must be at least --lease-ttl");
  if (retry_backoff.count() < 0 || max_retry_backoff < retry_backoff) {
    return bad("--retry-backoff: must be >= 0 and at most --max-retry-backoff");
  }
  if (watch_poll_interval.count() < 10) return bad("--watch-poll-interval: must be at least 10ms");
  if (max_watch_streams < 1 || max_watch_streams > 100000)
    return bad("--max-watch-streams: must be in [1, 100000]");
  if (max_watch_streams_per_client < 1 || max_watch_streams_per_client > max_watch_streams) {
    return bad(
        "--max-watch-streams-per-client: must be at least 1 and at most --max-watch-streams");
  }
  if (insecure_plaintext && !IsLoopbackAddress(listen)) {
    return bad("--insecure-plaintext: refused for non-loopback address '" + listen +
               "'; plaintext is allowed only on 127.0.0.1/::1/localhost");
  }
  if (plaintext_workers && !insecure_plaintext) {
    return bad(
        "--plaintext-workers: only with --insecure-plaintext (on TLS, workers present "
        "client certificates)");
  }
  if (!insecure_plaintext && (tls_cert.empty() || tls_key.empty())) {
    return bad("--tls-cert/--tls-key: required unless --insecure-plaintext (loopback only)");
  }
  if (!insecure_plaintext && tls_client_ca.empty()) {
    return bad(
        "--tls-client-ca: required with TLS (workers authenticate with client certificates)");
  }
  if (token_cache_ttl.count() < 0) return bad("--token-cache-ttl: must not be negative");
  if (refit_debounce.count() < 0) return bad("--refit-debounce: must not be negative");
  if (fit_threads < 0 || fit_threads > 256) return bad("--fit-threads: must be in [0, 256]");
  if (bootstrap_resamples < 0 || bootstrap_resamples > 100000) {
    return bad("--bootstrap-resamples: must be in [0, 100000]");
  }
  if (fit_cache_ttl.count() < 0) return bad("--fit-cache-ttl: must not be negative");
  return absl::OkStatus();
}

std::string CoordinatorOptions::Describe() const {
  std::ostringstream o;
  o << "listen=" << listen << " database=" << RedactDatabaseUrl(database_url)
    << " db_pool_size=" << db_pool_size << " rpc_threads=" << rpc_threads
    << " lease_ttl=" << FormatDuration(lease_ttl)
    << " heartbeat_interval=" << FormatDuration(heartbeat_interval)
    << " maintenance_interval=" << FormatDuration(maintenance_interval)
    << " worker_gone_after=" << FormatDuration(worker_gone_after)
    << " retry_backoff=" << FormatDuration(retry_backoff)
    << " max_retry_backoff=" << FormatDuration(max_retry_backoff)
    << " watch_poll_interval=" << FormatDuration(watch_poll_interval)
    << " max_watch_streams_per_client=" << max_watch_streams_per_client
    << " max_watch_streams=" << max_watch_streams << " transport="
    << (insecure_plaintext ? (plaintext_workers ? "plaintext(loopback, workers)"
                                                : "plaintext(loopback, no workers)")
                           : "tls cert=" + tls_cert + " client_ca=" + tls_client_ca)
    << " refit_debounce=" << FormatDuration(refit_debounce) << " fit_threads=" << fit_threads
    << " bootstrap_resamples=" << bootstrap_resamples
    << " fit_cache_ttl=" << FormatDuration(fit_cache_ttl)
    << " token_cache_ttl=" << FormatDuration(token_cache_ttl)
    << " metrics_listen=" << (metrics_listen.empty() ? "off" : metrics_listen)
    << " migrate=" << migrate << " log_level=" << LogLevelName(log_level);
  return o.str();
}

}  // namespace ladder
