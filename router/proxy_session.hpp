#pragma once
// Internal to the forward proxy: one client connection and the handlers it dispatches to.
//   run_connection  (proxy_session.cpp): read each request head (bounded), check framing and
//                   auth, dispatch; owns the keep-alive loop.
//   handle_connect  (proxy_tunnel.cpp):  CONNECT → decision → (SNI peek) → connect → splice.
//   handle_absolute (proxy_http.cpp):    absolute-form → decision → relay one exchange.
#include "router/forward_proxy.hpp"
#include "router/proxy_context.hpp"
#include "router/proxy_refusal.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <string>

namespace sallyport::router {

struct ClientConnection {
  ProxyContext& context;
  ConnectionControl& control;
  boost::beast::tcp_stream stream;
  boost::beast::flat_buffer buffer;  // bytes read from the client and not yet consumed
  std::string client;                // "ip:port", for events
};

// The per-request event, started when the head has been read.
struct RequestRecord {
  EgressEvent event;
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
  void finish(const ProxyContext& context);  // sets duration and emits
};

// Writes the refusal answer (Connection: close), counts errors_total, emits the event.
boost::asio::awaitable<void> refuse(ClientConnection& connection, RequestRecord& record,
                                    const Refusal& refusal, unsigned http_version);

// Applies a refusal's reason/rule/detail to the record without answering (tunnel already open).
void record_refusal(const ProxyContext& context, RequestRecord& record, const Refusal& refusal);

// An upstream connection kept between keep-alive absolute-form requests to the same place.
struct UpstreamSlot {
  std::optional<boost::beast::tcp_stream> stream;
  std::string host;
  std::uint16_t port = 0;
};

using HeadParser = boost::beast::http::request_parser<boost::beast::http::empty_body>;

boost::asio::awaitable<void> handle_connect(ClientConnection& connection, HeadParser& head,
                                            RequestRecord& record);
// True when the client connection may carry another request.
boost::asio::awaitable<bool> handle_absolute(ClientConnection& connection, HeadParser& head,
                                             RequestRecord& record, UpstreamSlot& upstream);

boost::asio::awaitable<void> run_connection(std::shared_ptr<ProxyContext> context,
                                            boost::asio::ip::tcp::socket socket,
                                            std::shared_ptr<ConnectionControl> control,
                                            std::string client);

}  // namespace sallyport::router
