// GCC 12 reports a false -Wmismatched-new-delete on Asio coroutine frames (the awaitable
// promise has its own operator new/delete pair); the allocation and deallocation do match.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
#include "router/http_server.hpp"

#include "common/log.hpp"
#include "router/listen_address.hpp"
#include "router/version.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

namespace sallyport::router {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

struct HttpServer::State : std::enable_shared_from_this<HttpServer::State> {
  State(asio::io_context& io, std::string n, HttpHandler h, HttpServerLimits l)
        : ioc(io), acceptor(asio::make_strand(io)), name(std::move(n)), handler(std::move(h)), limits(l) {}

  asio::io_context& ioc;
  tcp::acceptor acceptor;
  std::string name;
  HttpHandler handler;
  HttpServerLimits limits;
  std::atomic<std::size_t> active{0};
  std::atomic<bool> stopping{false};

  asio::awaitable<void> accept_loop() {
    auto self = shared_from_this();
    while (!stopping.load()) {
      auto [ec, socket] = co_await acceptor.async_accept(
          asio::make_strand(ioc), asio::as_tuple(asio::use_awaitable));
      if (ec) {
        if (ec == asio::error::operation_aborted || stopping.load()) co_return;
        log::warn(name, "accept failed", {{"error", ec.message()}});
        continue;
      }
      if (active.load() >= limits.max_connections) {
        log::warn(name, "connection limit reached; closing new connection");
        continue;  // socket closes when it goes out of scope
      }
      asio::co_spawn(socket.get_executor(), session(std::move(socket)), asio::detached);
    }
  }

  asio::awaitable<void> session(tcp::socket socket) {
    auto self = shared_from_this();
    ++active;
    struct Leave {
      std::atomic<std::size_t>& n;
      ~Leave() { --n; }
    } leave{active};
    boost::system::error_code peer_ec;
    const tcp::endpoint peer = socket.remote_endpoint(peer_ec);
    beast::tcp_stream stream(std::move(socket));
    beast::flat_buffer buffer;
    for (;;) {
      http::request_parser<http::string_body> parser;
      parser.header_limit(limits.header_bytes);
      parser.body_limit(limits.body_bytes);
      stream.expires_after(limits.io_timeout);
      auto [read_ec, n] =
          co_await http::async_read(stream, buffer, parser, asio::as_tuple(asio::use_awaitable));
      if (read_ec == http::error::end_of_stream || read_ec == asio::error::operation_aborted ||
          read_ec == beast::error::timeout || read_ec == asio::error::eof ||
          read_ec == asio::error::connection_reset) {
        break;
      }
      HttpResponse res;
      if (read_ec) {
        HttpRequest dummy;
        res = make_response(dummy, 400, "bad request: " + read_ec.message() + "\n");
        res.keep_alive(false);
      } else {
        HttpRequest req = parser.release();
        try {
          res = handler(req, peer);
        } catch (const std::exception& e) {
          log::error(name, "handler failed", {{"error", e.what()}, {"target", std::string(req.target())}});
          res = make_response(req, 500, "internal error\n");
        }
        res.keep_alive(req.keep_alive() && !stopping.load());
      }
      res.prepare_payload();
      stream.expires_after(limits.io_timeout);
      auto [write_ec, w] = co_await http::async_write(stream, res, asio::as_tuple(asio::use_awaitable));
      if (write_ec || !res.keep_alive()) break;
    }
    boost::system::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  }
};

HttpServer::HttpServer(asio::io_context& ioc, std::string name, HttpHandler handler,
                       HttpServerLimits limits)
    : state_(std::make_shared<State>(ioc, std::move(name), std::move(handler), limits)) {}

HttpServer::~HttpServer() { stop(); }

boost::system::error_code HttpServer::listen(const std::string& address) {
  const auto endpoint = parse_listen_address(address);
  if (!endpoint) return asio::error::invalid_argument;
  boost::system::error_code ec;
  auto& acceptor = state_->acceptor;
  acceptor.open(endpoint->protocol(), ec);
  if (ec) return ec;
  acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  acceptor.bind(*endpoint, ec);
  if (ec) return ec;
  acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return ec;
  asio::co_spawn(acceptor.get_executor(), state_->accept_loop(), asio::detached);
  return {};
}

tcp::endpoint HttpServer::local_endpoint() const {
  boost::system::error_code ec;
  return state_->acceptor.local_endpoint(ec);
}

void HttpServer::stop() {
  state_->stopping.store(true);
  // close() must run on the acceptor's executor to be safe against a concurrent accept.
  asio::post(state_->acceptor.get_executor(), [state = state_] {
    boost::system::error_code ec;
    state->acceptor.close(ec);
  });
}

std::size_t HttpServer::active_connections() const { return state_->active.load(); }

HttpResponse make_response(const HttpRequest& req, unsigned status, std::string body,
                           std::string_view content_type) {
  HttpResponse res{static_cast<http::status>(status), req.version() ? req.version() : 11};
  res.set(http::field::server, std::string("sallyport/") + std::string(kVersion));
  res.set(http::field::content_type, content_type);
  res.set(http::field::cache_control, "no-store");
  res.body() = std::move(body);
  return res;
}

}  // namespace sallyport::router
