// The /metrics and /healthz server over real sockets: idle and slow clients
// neither hold up other clients nor stay open past the read timeout, and
// connections beyond the cap are refused.
#include "common/metrics_http_server.h"

#include <gtest/gtest.h>
#include <prometheus/counter.h>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <thread>

namespace ladder {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

// Generous: only a broken server (one that never answers) comes near it.
constexpr auto kClientDeadline = 20s;

struct Reply {
  beast::error_code ec;  // of the whole exchange; timeout when the server never answered
  int status = 0;
  std::string body;
};

// GET `target` on a fresh connection, giving up after kClientDeadline.
Reply Get(int port, const std::string& target) {
  asio::io_context io;
  beast::tcp_stream stream(io);
  Reply reply;
  http::request<http::empty_body> req(http::verb::get, target, 11);
  req.set(http::field::host, "127.0.0.1");
  beast::flat_buffer buffer;
  http::response<http::string_body> res;
  stream.expires_after(kClientDeadline);
  stream.async_connect(
      tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), [&](beast::error_code ec) {
        if (ec) {
          reply.ec = ec;
          return;
        }
        http::async_write(stream, req, [&](beast::error_code ec, std::size_t) {
          if (ec) {
            reply.ec = ec;
            return;
          }
          http::async_read(stream, buffer, res,
                           [&](beast::error_code ec, std::size_t) { reply.ec = ec; });
        });
      });
  io.run();
  reply.status = res.result_int();
  reply.body = res.body();
  return reply;
}

// A connection that the test holds open, optionally having sent `bytes`.
class RawConnection {
 public:
  RawConnection(int port, const std::string& bytes = "") : socket_(io_) {
    socket_.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    if (!bytes.empty()) asio::write(socket_, asio::buffer(bytes));
  }

  // Everything the server sends until it closes the connection; *ec is eof
  // when it closed it, timed_out when it had not within kClientDeadline.
  std::string ReadUntilClosed(beast::error_code* ec) {
    beast::tcp_stream stream(std::move(socket_));
    std::string out;
    auto buffer = asio::dynamic_buffer(out);
    stream.expires_after(kClientDeadline);
    asio::async_read(stream, buffer, [&](beast::error_code e, std::size_t) { *ec = e; });
    io_.run();
    return out;
  }

  void Close() {
    beast::error_code ec;
    socket_.close(ec);
  }

 private:
  asio::io_context io_;
  tcp::socket socket_;
};

std::unique_ptr<MetricsHttpServer> StartServer(MetricsHttpServer::Options options) {
  auto registry = std::make_shared<prometheus::Registry>();
  prometheus::BuildCounter()
      .Name("test_scrapes_total")
      .Help("t")
      .Register(*registry)
      .Add({})
      .Increment();
  auto server = MetricsHttpServer::Start("127.0.0.1:0", registry, options);
  EXPECT_TRUE(server.ok()) << server.status();
  return server.ok() ? *std::move(server) : nullptr;
}

TEST(MetricsHttpServerTest, IdleAndHalfSentRequestsDoNotHoldUpHealthzOrMetrics) {
  MetricsHttpServer::Options options;
  options.read_timeout = 10min;  // the idle clients stay open throughout
  auto server = StartServer(options);
  ASSERT_NE(server, nullptr);
  // Accepted in this order: the idle and the slow client come first.
  RawConnection idle(server->port());
  RawConnection slow(server->port(), "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n");

  Reply health = Get(server->port(), "/healthz");
  ASSERT_FALSE(health.ec) << health.ec.message();
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(health.body, "ok: metrics at /metrics\n");

  Reply metrics = Get(server->port(), "/metrics");
  ASSERT_FALSE(metrics.ec) << metrics.ec.message();
  EXPECT_EQ(metrics.status, 200);
  EXPECT_NE(metrics.body.find("test_scrapes_total 1"), std::string::npos) << metrics.body;

  Reply missing = Get(server->port(), "/nope");
  ASSERT_FALSE(missing.ec) << missing.ec.message();
  EXPECT_EQ(missing.status, 404);
}

TEST(MetricsHttpServerTest, IdleAndSlowConnectionsAreClosedAfterTheReadTimeout) {
  MetricsHttpServer::Options options;
  options.read_timeout = 200ms;
  auto server = StartServer(options);
  ASSERT_NE(server, nullptr);
  RawConnection idle(server->port());
  RawConnection slow(server->port(), "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n");

  beast::error_code ec;
  EXPECT_EQ(idle.ReadUntilClosed(&ec), "");
  EXPECT_EQ(ec, asio::error::eof) << "the server closed the idle connection: " << ec.message();
  EXPECT_EQ(slow.ReadUntilClosed(&ec), "");
  EXPECT_EQ(ec, asio::error::eof) << "the server closed the slow connection: " << ec.message();

  Reply health = Get(server->port(), "/healthz");
  ASSERT_FALSE(health.ec) << health.ec.message();
  EXPECT_EQ(health.status, 200);
}

TEST(MetricsHttpServerTest, ConnectionsBeyondTheCapAreRefusedAndServedOnceOthersClose) {
  MetricsHttpServer::Options options;
  options.read_timeout = 10min;
  options.max_connections = 2;
  auto server = StartServer(options);
  ASSERT_NE(server, nullptr);
  RawConnection first(server->port());
  RawConnection second(server->port());

  RawConnection third(server->port());
  beast::error_code ec;
  const std::string refused = third.ReadUntilClosed(&ec);
  EXPECT_EQ(ec, asio::error::eof) << ec.message();
  EXPECT_EQ(refused.rfind("HTTP/1.1 503 Service Unavailable\r\n", 0), 0u) << refused;
  EXPECT_NE(refused.find("too many connections"), std::string::npos) << refused;

  // Once the holders go, scrapes are served again (the server notices the
  // closes on its own time, hence the retries).
  first.Close();
  second.Close();
  Reply health;
  for (int i = 0; i < 400; ++i) {
    health = Get(server->port(), "/healthz");
    if (!health.ec && health.status == 200) break;
    std::this_thread::sleep_for(50ms);
  }
  ASSERT_FALSE(health.ec) << health.ec.message();
  EXPECT_EQ(health.status, 200);
}

TEST(MetricsHttpServerTest, StopClosesOpenConnections) {
  auto server = StartServer(MetricsHttpServer::Options());
  ASSERT_NE(server, nullptr);
  RawConnection idle(server->port());
  // Let the server accept it before stopping: a served request proves the
  // accept loop has moved past the idle connection.
  ASSERT_EQ(Get(server->port(), "/healthz").status, 200);
  server->Stop();
  beast::error_code ec;
  idle.ReadUntilClosed(&ec);
  EXPECT_TRUE(ec == asio::error::eof || ec == asio::error::connection_reset) << ec.message();
}

}  // namespace
}  // namespace ladder
