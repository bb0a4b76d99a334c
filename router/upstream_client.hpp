#pragma once
// HTTPS client side of the inference gateway: a keep-alive connection pool per upstream
// (scheme + host + port + CA file), with every connection checked against the egress policy.
//
// Contract:
// - acquire() hands out an idle pooled connection (when allowed) or opens a new one:
//     egress check_host(host) → resolve (bounded by the connect timeout) → check_address on
//     EVERY resolved address (denied ones are skipped; none left = egress_denied) → connect to a
//     checked address (no second resolution) → TLS handshake with SNI, certificate chain (system
//     store + optional ca_file) and host name / IP verification.
//   A null PolicySource result denies (fail closed). Metadata addresses can never be allowed
//   (blocklist guarantees it), so a crafted base_url cannot reach IMDS through the gateway.
// - The caller does one exchange with send_request / read_response_header / read_body_some and
//   gives the connection back with release() only after a complete, keep-alive exchange; any
//   other connection is simply destroyed (closed).
// - Timeouts: connect (resolve + connect + handshake), first byte (send + response header) and
//   idle (each body read). There is no total timeout: a long stream lives as long as it moves.
// Thread-safe: the pool is shared by all gateway sessions; a connection is used by one at a time.
#include "blocklist/egress_policy.hpp"
#include "router/gateway_routes.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace sallyport::router {

using blocklist::PolicySource;

struct UpstreamTimeouts {
  std::chrono::milliseconds connect{5000};
  std::chrono::milliseconds first_byte{120000};
  std::chrono::milliseconds idle{60000};
};

// Why an upstream exchange failed (metric label sallyport_gateway_upstream_errors_total{kind}).
enum class UpstreamError : std::uint8_t {
  none,
  egress_denied,       // host or every resolved address denied by the egress policy
  resolve,             // name did not resolve
  connect,             // no address accepted the connection
  tls,                 // handshake / certificate / host name verification failed
  send,                // writing the request failed
  first_byte_timeout,  // no response header within first_byte
  idle_timeout,        // the body stalled longer than idle
  read,                // connection broke while reading
  protocol,            // malformed HTTP from upstream
};
const char* to_string(UpstreamError error) noexcept;

class UpstreamConnection {
 public:
  using TlsStream = boost::asio::ssl::stream<boost::beast::tcp_stream>;

  UpstreamConnection(std::string pool_key, std::unique_ptr<boost::beast::tcp_stream> plain);
  UpstreamConnection(std::string pool_key, std::shared_ptr<boost::asio::ssl::context> ctx,
                     std::unique_ptr<TlsStream> tls);
  UpstreamConnection(const UpstreamConnection&) = delete;
  UpstreamConnection& operator=(const UpstreamConnection&) = delete;

  // Calls f(stream) with the TLS or the plain stream (both satisfy AsyncStream).
  template <class F>
  decltype(auto) visit(F&& f) {
    return tls_ ? f(*tls_) : f(*plain_);
  }
  boost::beast::tcp_stream& tcp() { return tls_ ? tls_->next_layer() : *plain_; }
  boost::beast::flat_buffer& buffer() { return buffer_; }
  const std::string& pool_key() const { return pool_key_; }
  bool reused() const { return reused_; }
  void close();  // cancels pending I/O (client gone) and closes the socket

 private:
  friend class UpstreamPool;
  std::string pool_key_;
  std::shared_ptr<boost::asio::ssl::context> ctx_;  // outlives tls_
  std::unique_ptr<TlsStream> tls_;
  std::unique_ptr<boost::beast::tcp_stream> plain_;
  boost::beast::flat_buffer buffer_;
  bool reused_ = false;
  std::chrono::steady_clock::time_point idle_since_{};
};

struct UpstreamCheckout {
  std::unique_ptr<UpstreamConnection> connection;
  UpstreamError error = UpstreamError::none;
  std::string detail;  // what failed (egress reason, TLS verify error); never a credential
};

class UpstreamPool {
 public:
  UpstreamPool(boost::asio::any_io_executor executor, PolicySource policy, UpstreamTimeouts timeouts,
               std::size_t max_idle_per_upstream = 64);

  boost::asio::awaitable<UpstreamCheckout> acquire(const BaseUrl& base, const std::string& ca_file,
                                                   bool allow_reuse);
  // Returns a connection after a complete keep-alive exchange.
  void release(std::unique_ptr<UpstreamConnection> connection);
  void clear();
  std::size_t idle_count() const;
  const UpstreamTimeouts& timeouts() const { return timeouts_; }

 private:
  std::unique_ptr<UpstreamConnection> take_idle(const std::string& key);
  boost::asio::awaitable<UpstreamCheckout> open(const BaseUrl& base, const std::string& ca_file,
                                                std::string key);
  std::shared_ptr<boost::asio::ssl::context> tls_context(const std::string& ca_file,
                                                         std::string& error);

  boost::asio::any_io_executor executor_;
  PolicySource policy_;
  UpstreamTimeouts timeouts_;
  std::size_t max_idle_;
  mutable std::mutex mutex_;
  std::map<std::string, std::vector<std::unique_ptr<UpstreamConnection>>> idle_;
  std::map<std::string, std::shared_ptr<boost::asio::ssl::context>> contexts_;
};

using UpstreamRequest = boost::beast::http::request<boost::beast::http::string_body>;
using UpstreamParser = boost::beast::http::response_parser<boost::beast::http::string_body>;

// One exchange on a checked-out connection. Errors come back as values.
boost::asio::awaitable<UpstreamError> send_request(UpstreamConnection& c, UpstreamRequest& request,
                                                   std::chrono::milliseconds timeout);
boost::asio::awaitable<UpstreamError> read_response_header(UpstreamConnection& c,
                                                           UpstreamParser& parser,
                                                           std::chrono::milliseconds timeout);
// Reads what is available of the body into parser.get().body() (appended; the caller may clear
// it between calls to stream). Returns none when parser.is_done() or some bytes arrived.
boost::asio::awaitable<UpstreamError> read_body_some(UpstreamConnection& c, UpstreamParser& parser,
                                                     std::chrono::milliseconds idle_timeout);

}  // namespace sallyport::router
