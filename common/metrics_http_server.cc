#include "common/metrics_http_server.h"

#include <absl/status/status.h>
#include <prometheus/text_serializer.h>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <sstream>

#include "common/logging.h"

namespace ladder {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

bool SplitHostPort(const std::string& address, std::string* host, int* port) {
  std::string h, p;
  if (!address.empty() && address[0] == '[') {
    const auto close = address.find(']');
    if (close == std::string::npos || close + 1 >= address.size() || address[close + 1] != ':')
      return false;
    h = address.substr(1, close - 1);
    p = address.substr(close + 2);
  } else {
    const auto colon = address.rfind(':');
    if (colon == std::string::npos) return false;
    h = address.substr(0, colon);
    p = address.substr(colon + 1);
  }
  if (h.empty() || p.empty() || p.find_first_not_of("0123456789") != std::string::npos ||
      p.size() > 5)
    return false;
  *host = h == "localhost" ? "127.0.0.1" : h;
  *port = std::stoi(p);
  return *port <= 65535;
}

struct MetricsHttpServer::Impl {
  // Declared before `io` so that sessions destroyed with the io_context's
  // pending handlers can still count themselves out.
  const Options options;
  const std::shared_ptr<prometheus::Registry> registry;
  int open = 0;  // sessions alive; touched only on the io thread
  asio::io_context io;
  tcp::acceptor acceptor{io};

  Impl(Options o, std::shared_ptr<prometheus::Registry> r) : options(o), registry(std::move(r)) {}

  void Accept();
  http::response<http::string_body> Respond(const http::request<http::string_body>& req) const;
};

// One connection: read one request under the timeout, answer, close.
class MetricsHttpServer::Session : public std::enable_shared_from_this<Session> {
 public:
  Session(Impl* impl, tcp::socket socket) : impl_(impl), stream_(std::move(socket)) {
    ++impl_->open;
  }
  ~Session() { --impl_->open; }

  void Run() {
    stream_.expires_after(impl_->options.read_timeout);
    http::async_read(stream_, buffer_, req_,
                     beast::bind_front_handler(&Session::OnRead, shared_from_this()));
  }

 private:
  void OnRead(beast::error_code ec, std::size_t) {
    // A timeout (idle or slow client), EOF or a malformed request: close.
    if (ec) return;
    res_ = impl_->Respond(req_);
    stream_.expires_after(impl_->options.read_timeout);
    http::async_write(stream_, res_,
                      beast::bind_front_handler(&Session::OnWrite, shared_from_this()));
  }

  void OnWrite(beast::error_code ec, std::size_t) {
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    // The socket closes when the last handler holding this session returns.
  }

  Impl* const impl_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  http::request<http::string_body> req_;
  http::response<http::string_body> res_;
};

void MetricsHttpServer::Impl::Accept() {
  acceptor.async_accept([this](beast::error_code ec, tcp::socket socket) {
    if (ec) {
      if (ec != asio::error::operation_aborted) Accept();
      return;
    }
    if (open >= options.max_connections) {
      // Refused without blocking the io thread: the answer fits in the
      // socket's send buffer, or is dropped.
      static constexpr char kBusy[] =
          "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\n"
          "Content-Length: 21\r\nConnection: close\r\n\r\ntoo many connections\n";
      socket.non_blocking(true, ec);
      if (!ec) socket.write_some(asio::buffer(kBusy, sizeof(kBusy) - 1), ec);
      socket.shutdown(tcp::socket::shutdown_send, ec);
      socket.close(ec);
    } else {
      std::make_shared<Session>(this, std::move(socket))->Run();
    }
    Accept();
  });
}

http::response<http::string_body> MetricsHttpServer::Impl::Respond(
    const http::request<http::string_body>& req) const {
  http::response<http::string_body> res;
  res.version(req.version());
  res.set(http::field::server, "ladder");
  res.keep_alive(false);
  const std::string target(req.target());
  if (req.method() != http::verb::get && req.method() != http::verb::head) {
    res.result(http::status::method_not_allowed);
    res.body() = "only GET\n";
  } else if (target == "/metrics" || target.rfind("/metrics?", 0) == 0) {
    std::ostringstream out;
    prometheus::TextSerializer().Serialize(out, registry->Collect());
    res.result(http::status::ok);
    res.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
    res.body() = out.str();
  } else if (target == "/" || target == "/healthz") {
    res.result(http::status::ok);
    res.set(http::field::content_type, "text/plain");
    res.body() = "ok: metrics at /metrics\n";
  } else {
    res.result(http::status::not_found);
    res.body() = "not found\n";
  }
  res.prepare_payload();
  return res;
}

absl::StatusOr<std::unique_ptr<MetricsHttpServer>> MetricsHttpServer::Start(
    const std::string& address, std::shared_ptr<prometheus::Registry> registry,
    const Options& options) {
  std::string host;
  int port = 0;
  if (!SplitHostPort(address, &host, &port)) {
    return absl::InvalidArgumentError("metrics address: must be host:port, got '" + address + "'");
  }
  if (options.read_timeout.count() <= 0)
    return absl::InvalidArgumentError("metrics read timeout: must be positive");
  if (options.max_connections < 1)
    return absl::InvalidArgumentError("metrics max connections: must be at least 1");
  std::unique_ptr<MetricsHttpServer> server(new MetricsHttpServer());
  server->impl_ = std::make_unique<Impl>(options, std::move(registry));
  Impl& impl = *server->impl_;
  beast::error_code ec;
  const auto ip = asio::ip::make_address(host, ec);
  if (ec) return absl::InvalidArgumentError("metrics address: bad host '" + host + "'");
  tcp::endpoint endpoint(ip, static_cast<unsigned short>(port));
  impl.acceptor.open(endpoint.protocol(), ec);
  if (!ec) impl.acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) impl.acceptor.bind(endpoint, ec);
  if (!ec) impl.acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec)
    return absl::UnavailableError("metrics address: cannot listen on " + address + ": " +
                                  ec.message());
  server->port_ = impl.acceptor.local_endpoint().port();
  impl.Accept();
  server->thread_ = std::thread([&impl] { impl.io.run(); });
  return server;
}

MetricsHttpServer::~MetricsHttpServer() { Stop(); }

void MetricsHttpServer::Stop() {
  if (!impl_) return;
  impl_->io.stop();
  if (thread_.joinable()) thread_.join();
  // Destroying the io_context destroys the pending handlers, and with them
  // every session and its socket; then the acceptor closes.
  impl_.reset();
}

}  // namespace ladder
