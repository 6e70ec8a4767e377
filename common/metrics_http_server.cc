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
  asio::io_context io;
  tcp::acceptor acceptor{io};
  std::shared_ptr<prometheus::Registry> registry;

  void Accept() {
    acceptor.async_accept([this](beast::error_code ec, tcp::socket socket) {
      if (ec) {
        if (ec != asio::error::operation_aborted) Accept();
        return;
      }
      Serve(std::move(socket));
      Accept();
    });
  }

  // One request per connection, handled inline: scrapes are rare and small.
  void Serve(tcp::socket socket) {
    beast::error_code ec;
    beast::flat_buffer buffer;
    http::request<http::string_body> req;
    socket.set_option(asio::socket_base::linger(true, 1), ec);
    http::read(socket, buffer, req, ec);
    if (ec) return;
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
    http::write(socket, res, ec);
    socket.shutdown(tcp::socket::shutdown_both, ec);
  }
};

absl::StatusOr<std::unique_ptr<MetricsHttpServer>> MetricsHttpServer::Start(
    const std::string& address, std::shared_ptr<prometheus::Registry> registry) {
  std::string host;
  int port = 0;
  if (!SplitHostPort(address, &host, &port)) {
    return absl::InvalidArgumentError("metrics address: must be host:port, got '" + address + "'");
  }
  std::unique_ptr<MetricsHttpServer> server(new MetricsHttpServer());
  server->impl_ = std::make_unique<Impl>();
  Impl& impl = *server->impl_;
  impl.registry = std::move(registry);
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
  asio::post(impl_->io, [this] {
    beast::error_code ec;
    impl_->acceptor.close(ec);
  });
  impl_->io.stop();
  if (thread_.joinable()) thread_.join();
  impl_.reset();
}

}  // namespace ladder
