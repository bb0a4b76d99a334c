#pragma once
// A small request/response HTTP/1.1 server for the admin listener: one coroutine per
// connection (Beast awaitable example shape), bounded header/body sizes, a timeout on every
// operation, keep-alive, and a clean stop. Streaming listeners (proxy, gateway) have their own.
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>

namespace sallyport::router {

using HttpRequest = boost::beast::http::request<boost::beast::http::string_body>;
using HttpResponse = boost::beast::http::response<boost::beast::http::string_body>;
using HttpHandler =
    std::function<HttpResponse(const HttpRequest&, const boost::asio::ip::tcp::endpoint& peer)>;

struct HttpServerLimits {
  std::uint32_t header_bytes = 8192;
  std::uint64_t body_bytes = 1024 * 1024;
  std::chrono::seconds io_timeout{30};
  std::uint32_t max_connections = 256;
};

class HttpServer {
 public:
  HttpServer(boost::asio::io_context& ioc, std::string name, HttpHandler handler,
             HttpServerLimits limits = {});
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and starts accepting; `address` is "ip:port" (port 0 picks a free port).
  boost::system::error_code listen(const std::string& address);
  boost::asio::ip::tcp::endpoint local_endpoint() const;
  void stop();  // closes the acceptor; open connections finish their current exchange
  std::size_t active_connections() const;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

// Builds a response with the usual headers (Server, Content-Type, Cache-Control: no-store).
HttpResponse make_response(const HttpRequest& req, unsigned status, std::string body,
                           std::string_view content_type = "text/plain; charset=utf-8");

}  // namespace sallyport::router
