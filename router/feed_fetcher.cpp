// GCC 12 reports a false -Wmismatched-new-delete on Asio coroutine frames (the awaitable
// promise has its own operator new/delete pair); the allocation and deallocation do match.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
#include "router/feed_fetcher.hpp"

#include "router/version.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/url/parse.hpp>
#include <openssl/ssl.h>

namespace sallyport::router {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

// Metadata and unspecified addresses are never fetched from, whatever the feed URL says.
// (The full deny-CIDR policy is not applied: internal feed mirrors on private ranges are fine.)
bool forbidden_feed_address(asio::ip::address address) {
  if (address.is_v6() && address.to_v6().is_v4_mapped()) {
    address = asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6());
  }
  if (address.is_unspecified()) return true;
  static const char* const kMetadata[] = {"169.254.169.254", "169.254.170.2", "168.63.129.16",
                                          "100.100.100.200", "fd00:ec2::254"};
  const std::string text = address.to_string();
  for (const char* m : kMetadata) {
    if (text == m) return true;
  }
  return false;
}

struct Target {
  bool tls = false;
  std::string host, port, path;
};

std::optional<Target> parse_target(const std::string& url, std::string& error) {
  const auto u = boost::urls::parse_absolute_uri(url);
  if (!u) {
    error = "not an absolute URL";
    return std::nullopt;
  }
  Target t;
  if (u->scheme() == "https") t.tls = true;
  else if (u->scheme() != "http") {
    error = "only http and https feeds are supported";
    return std::nullopt;
  }
  t.host = std::string(u->encoded_host());
  if (t.host.size() > 2 && t.host.front() == '[') t.host = t.host.substr(1, t.host.size() - 2);
  t.port = u->has_port() ? std::string(u->port()) : (t.tls ? "443" : "80");
  t.path = std::string(u->encoded_target());
  if (t.path.empty()) t.path = "/";
  return t;
}

template <typename Stream>
asio::awaitable<void> exchange(Stream& stream, const Target& t, const FeedFetchOptions& options,
                               blocklist::FetchResult& result, std::string& location) {
  http::request<http::empty_body> req{http::verb::get, t.path, 11};
  req.set(http::field::host, t.host);
  req.set(http::field::user_agent, std::string("sallyport/") + std::string(kVersion));
  req.set(http::field::accept, "text/plain, */*");
  req.set(http::field::connection, "close");
  auto [wec, w] = co_await http::async_write(stream, req, asio::as_tuple(asio::use_awaitable));
  if (wec) {
    result.error = "write failed: " + wec.message();
    co_return;
  }
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(options.max_body_bytes);
  auto [rec, r] = co_await http::async_read(stream, buffer, parser, asio::as_tuple(asio::use_awaitable));
  if (rec) {
    result.error = "read failed: " + rec.message();
    co_return;
  }
  auto res = parser.release();
  result.status = static_cast<int>(res.result_int());
  if (res.result_int() >= 300 && res.result_int() < 400) {
    location = std::string(res[http::field::location]);
    co_return;
  }
  result.ok = res.result() == http::status::ok;
  if (!result.ok) result.error = "HTTP " + std::to_string(result.status);
  else result.body = std::move(res.body());
}

asio::awaitable<void> fetch_once(const Target& t, const FeedFetchOptions& options,
                                 blocklist::FetchResult& result, std::string& location) {
  auto ex = co_await asio::this_coro::executor;
  tcp::resolver resolver(ex);
  auto [rec, endpoints] =
      co_await resolver.async_resolve(t.host, t.port, asio::as_tuple(asio::use_awaitable));
  if (rec) {
    result.error = "DNS: " + rec.message();
    co_return;
  }
  std::vector<tcp::endpoint> allowed;
  for (const auto& e : endpoints) {
    if (forbidden_feed_address(e.endpoint().address())) {
      result.error = "feed host resolves to a forbidden address (metadata/unspecified)";
      co_return;
    }
    allowed.push_back(e.endpoint());
  }
  beast::tcp_stream tcp_stream(ex);
  auto [cec, ep] = co_await tcp_stream.async_connect(allowed, asio::as_tuple(asio::use_awaitable));
  if (cec) {
    result.error = "connect: " + cec.message();
    co_return;
  }
  if (!t.tls) {
    co_await exchange(tcp_stream, t, options, result, location);
    co_return;
  }
  asio::ssl::context ctx(asio::ssl::context::tls_client);
  ctx.set_default_verify_paths();
  if (!options.ca_file.empty()) ctx.load_verify_file(options.ca_file);
  ctx.set_verify_mode(asio::ssl::verify_peer);
  beast::ssl_stream<beast::tcp_stream> tls(std::move(tcp_stream), ctx);
  SSL_set_tlsext_host_name(tls.native_handle(), t.host.c_str());
  tls.set_verify_callback(asio::ssl::host_name_verification(t.host));
  auto [hec] = co_await tls.async_handshake(asio::ssl::stream_base::client,
                                            asio::as_tuple(asio::use_awaitable));
  if (hec) {
    result.error = "TLS: " + hec.message();
    co_return;
  }
  co_await exchange(tls, t, options, result, location);
}

}  // namespace

blocklist::FetchResult fetch_feed(const blocklist::FeedSource& feed, const FeedFetchOptions& options) {
  blocklist::FetchResult result;
  std::string url = feed.url;
  const auto deadline = std::chrono::steady_clock::now() + options.timeout;
  for (int hop = 0; hop <= options.max_redirects; ++hop) {
    std::string error;
    const auto target = parse_target(url, error);
    if (!target) {
      result.error = url + ": " + error;
      return result;
    }
    result = {};
    std::string location;
    asio::io_context ioc;
    asio::co_spawn(ioc, fetch_once(*target, options, result, location), [&](std::exception_ptr e) {
      if (e) result.error = "fetch failed";
    });
    ioc.run_until(deadline);
    if (!ioc.stopped()) {
      result = {};
      result.error = "timed out after " + std::to_string(options.timeout.count()) + "s";
      return result;
    }
    if (location.empty()) return result;
    // Relative redirects resolve against the current URL's origin.
    if (location.front() == '/') {
      url = (target->tls ? "https://" : "http://") + target->host + ":" + target->port + location;
    } else {
      url = location;
    }
  }
  result = {};
  result.error = "too many redirects";
  return result;
}

}  // namespace sallyport::router
