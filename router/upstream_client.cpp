// GCC 12 reports a false -Wmismatched-new-delete on Asio coroutine frames (the awaitable frame's
// operator new/delete pair is Asio's own recycling allocator).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
#include "router/upstream_client.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <algorithm>

namespace sallyport::router {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using asio::ip::tcp;
using namespace asio::experimental::awaitable_operators;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

blocklist::IpAddress to_ip(const asio::ip::address& a) {
  if (a.is_v4()) return blocklist::IpAddress::v4(a.to_v4().to_uint());
  return blocklist::IpAddress::v6(a.to_v6().to_bytes());
}

// A pooled connection idle longer than this is dropped rather than reused: providers close
// idle keep-alive connections after tens of seconds, and a stale one costs a retry.
constexpr std::chrono::seconds kMaxIdleAge{30};

UpstreamError map_read_error(const boost::system::error_code& ec, bool header) {
  if (ec == beast::error::timeout) {
    return header ? UpstreamError::first_byte_timeout : UpstreamError::idle_timeout;
  }
  const boost::system::error_code beast_http_error = http::error::bad_version;
  if (ec.category() == beast_http_error.category() && ec != http::error::end_of_stream &&
      ec != http::error::partial_message) {
    return UpstreamError::protocol;
  }
  return UpstreamError::read;
}

}  // namespace

const char* to_string(UpstreamError error) noexcept {
  switch (error) {
    case UpstreamError::none: return "none";
    case UpstreamError::egress_denied: return "egress_denied";
    case UpstreamError::resolve: return "resolve";
    case UpstreamError::connect: return "connect";
    case UpstreamError::tls: return "tls";
    case UpstreamError::send: return "send";
    case UpstreamError::first_byte_timeout: return "first_byte_timeout";
    case UpstreamError::idle_timeout: return "idle_timeout";
    case UpstreamError::read: return "read";
    case UpstreamError::protocol: return "protocol";
  }
  return "unknown";
}

UpstreamConnection::UpstreamConnection(std::string pool_key,
                                       std::unique_ptr<beast::tcp_stream> plain)
    : pool_key_(std::move(pool_key)), plain_(std::move(plain)) {}

UpstreamConnection::UpstreamConnection(std::string pool_key, std::shared_ptr<ssl::context> ctx,
                                       std::unique_ptr<TlsStream> tls)
    : pool_key_(std::move(pool_key)), ctx_(std::move(ctx)), tls_(std::move(tls)) {}

void UpstreamConnection::close() {
  boost::system::error_code ignored;
  tcp().socket().cancel(ignored);
  tcp().socket().shutdown(tcp::socket::shutdown_both, ignored);
  tcp().socket().close(ignored);
}

UpstreamPool::UpstreamPool(asio::any_io_executor executor, PolicySource policy,
                           UpstreamTimeouts timeouts, std::size_t max_idle_per_upstream)
    : executor_(std::move(executor)),
      policy_(std::move(policy)),
      timeouts_(timeouts),
      max_idle_(max_idle_per_upstream) {}

std::unique_ptr<UpstreamConnection> UpstreamPool::take_idle(const std::string& key) {
  const auto now = std::chrono::steady_clock::now();
  std::lock_guard lock(mutex_);
  auto it = idle_.find(key);
  if (it == idle_.end()) return nullptr;
  auto& list = it->second;
  while (!list.empty()) {
    auto c = std::move(list.back());
    list.pop_back();
    if (now - c->idle_since_ < kMaxIdleAge && c->tcp().socket().is_open()) {
      c->reused_ = true;
      return c;
    }
  }
  return nullptr;
}

void UpstreamPool::release(std::unique_ptr<UpstreamConnection> connection) {
  if (!connection || !connection->tcp().socket().is_open()) return;
  if (connection->buffer_.size() != 0) return;  // unexpected extra bytes: not reusable
  connection->idle_since_ = std::chrono::steady_clock::now();
  connection->tcp().expires_never();
  std::lock_guard lock(mutex_);
  auto& list = idle_[connection->pool_key_];
  if (list.size() < max_idle_) list.push_back(std::move(connection));
}

void UpstreamPool::clear() {
  std::lock_guard lock(mutex_);
  idle_.clear();
}

std::size_t UpstreamPool::idle_count() const {
  std::lock_guard lock(mutex_);
  std::size_t n = 0;
  for (const auto& [key, list] : idle_) n += list.size();
  return n;
}

std::shared_ptr<ssl::context> UpstreamPool::tls_context(const std::string& ca_file,
                                                        std::string& error) {
  std::lock_guard lock(mutex_);
  if (auto it = contexts_.find(ca_file); it != contexts_.end()) return it->second;
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
  boost::system::error_code ec;
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                   ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
  ctx->set_default_verify_paths(ec);
  if (!ca_file.empty()) {
    ctx->load_verify_file(ca_file, ec);
    if (ec) {
      error = "cannot load ca_file " + ca_file + ": " + ec.message();
      return nullptr;
    }
  }
  ctx->set_verify_mode(ssl::verify_peer);
  contexts_.emplace(ca_file, ctx);
  return ctx;
}

asio::awaitable<UpstreamCheckout> UpstreamPool::acquire(const BaseUrl& base,
                                                        const std::string& ca_file,
                                                        bool allow_reuse) {
  std::string key = (base.tls ? "https://" : "http://") + base.host + ":" +
                    std::to_string(base.port) + "|" + ca_file;
  if (allow_reuse) {
    if (auto c = take_idle(key)) co_return UpstreamCheckout{std::move(c), UpstreamError::none, {}};
  }
  co_return co_await open(base, ca_file, std::move(key));
}

asio::awaitable<UpstreamCheckout> UpstreamPool::open(const BaseUrl& base, const std::string& ca_file,
                                                     std::string key) {
  const auto policy = policy_ ? policy_() : nullptr;
  if (!policy) co_return UpstreamCheckout{nullptr, UpstreamError::egress_denied, "no egress policy"};
  const auto host_check = policy->check_host(base.host);
  if (!host_check.decision.allowed()) {
    co_return UpstreamCheckout{nullptr, UpstreamError::egress_denied, host_check.decision.reason};
  }
  tcp::resolver resolver(executor_);
  asio::steady_timer timer(executor_);
  timer.expires_after(timeouts_.connect);
  auto raced = co_await (resolver.async_resolve(base.host, std::to_string(base.port), kTuple) ||
                         timer.async_wait(kTuple));
  if (raced.index() != 0) co_return UpstreamCheckout{nullptr, UpstreamError::resolve, "timeout"};
  auto [rec, results] = std::get<0>(std::move(raced));
  if (rec) co_return UpstreamCheckout{nullptr, UpstreamError::resolve, rec.message()};

  std::vector<tcp::endpoint> allowed;
  std::string denied_reason;
  for (const auto& entry : results) {
    const auto decision = policy->check_address(to_ip(entry.endpoint().address()));
    if (decision.allowed()) {
      allowed.push_back(entry.endpoint());
    } else {
      denied_reason = decision.reason;
    }
  }
  if (allowed.empty()) {
    co_return UpstreamCheckout{nullptr, UpstreamError::egress_denied,
                               denied_reason.empty() ? "no address" : denied_reason};
  }
  auto stream = std::make_unique<beast::tcp_stream>(executor_);
  boost::system::error_code cec = asio::error::host_unreachable;
  for (const auto& ep : allowed) {
    stream->expires_after(timeouts_.connect);
    std::tie(cec) = co_await stream->async_connect(ep, kTuple);
    if (!cec) break;
    stream = std::make_unique<beast::tcp_stream>(executor_);
  }
  if (cec) co_return UpstreamCheckout{nullptr, UpstreamError::connect, cec.message()};
  boost::system::error_code ignored;
  stream->socket().set_option(tcp::no_delay(true), ignored);
  if (!base.tls) {
    co_return UpstreamCheckout{std::make_unique<UpstreamConnection>(std::move(key), std::move(stream)),
                               UpstreamError::none, {}};
  }

  std::string ctx_error;
  auto ctx = tls_context(ca_file, ctx_error);
  if (!ctx) co_return UpstreamCheckout{nullptr, UpstreamError::tls, ctx_error};
  auto tls = std::make_unique<UpstreamConnection::TlsStream>(std::move(*stream), *ctx);
  const bool is_ip = host_check.literal.has_value();
  if (!is_ip && !SSL_set_tlsext_host_name(tls->native_handle(), base.host.c_str())) {
    co_return UpstreamCheckout{nullptr, UpstreamError::tls, "cannot set SNI"};
  }
  tls->set_verify_callback(ssl::host_name_verification(base.host));
  beast::get_lowest_layer(*tls).expires_after(timeouts_.connect);
  auto [hec] = co_await tls->async_handshake(ssl::stream_base::client, kTuple);
  if (hec) {
    std::string detail = hec.message();
    const long verify = SSL_get_verify_result(tls->native_handle());
    if (verify != X509_V_OK) detail = X509_verify_cert_error_string(verify);
    co_return UpstreamCheckout{nullptr, UpstreamError::tls, detail};
  }
  co_return UpstreamCheckout{
      std::make_unique<UpstreamConnection>(std::move(key), std::move(ctx), std::move(tls)),
      UpstreamError::none, {}};
}

asio::awaitable<UpstreamError> send_request(UpstreamConnection& c, UpstreamRequest& request,
                                            std::chrono::milliseconds timeout) {
  c.tcp().expires_after(timeout);
  auto [ec, n] = co_await c.visit(
      [&](auto& stream) { return http::async_write(stream, request, kTuple); });
  co_return ec ? (ec == beast::error::timeout ? UpstreamError::first_byte_timeout
                                              : UpstreamError::send)
               : UpstreamError::none;
}

asio::awaitable<UpstreamError> read_response_header(UpstreamConnection& c, UpstreamParser& parser,
                                                    std::chrono::milliseconds timeout) {
  c.tcp().expires_after(timeout);
  auto [ec, n] = co_await c.visit([&](auto& stream) {
    return http::async_read_header(stream, c.buffer(), parser, kTuple);
  });
  co_return ec ? map_read_error(ec, true) : UpstreamError::none;
}

asio::awaitable<UpstreamError> read_body_some(UpstreamConnection& c, UpstreamParser& parser,
                                              std::chrono::milliseconds idle_timeout) {
  if (parser.is_done()) co_return UpstreamError::none;
  c.tcp().expires_after(idle_timeout);
  auto [ec, n] = co_await c.visit([&](auto& stream) {
    return http::async_read_some(stream, c.buffer(), parser, kTuple);
  });
  co_return ec ? map_read_error(ec, false) : UpstreamError::none;
}

}  // namespace sallyport::router
