// GCC 12 reports a false -Wmismatched-new-delete on Asio coroutine frames (the awaitable
// promise has its own operator new/delete pair); the allocation and deallocation do match.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
#include "router/proxy_session.hpp"

#include "router/proxy_request.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/write.hpp>

namespace sallyport::router {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

enum class HeadStatus : std::uint8_t { ready, closed, refused };

std::string parser_error_kind(const boost::system::error_code& ec) {
  if (ec == http::error::bad_method) return "bad-method";
  if (ec == http::error::bad_target) return "bad-target";
  if (ec == http::error::bad_version) return "bad-version";
  if (ec == http::error::header_limit) return "header-too-large";
  if (ec == http::error::multiple_content_length) return "duplicate-content-length";
  if (ec == http::error::bad_content_length) return "bad-content-length";
  if (ec == http::error::bad_transfer_encoding) return "bad-transfer-encoding";
  if (ec == http::error::bad_field || ec == http::error::bad_value) return "bad-field";
  return "bad-syntax";
}

// Reads one request head into `parser`, bounded by max_header_bytes and header_timeout (the
// first byte of a follow-up keep-alive request may take up to idle_timeout). The raw head is
// scanned for smuggling shapes before the parser sees it.
asio::awaitable<HeadStatus> read_head(ClientConnection& c, HeadParser& parser, bool first,
                                      Refusal& refusal) {
  const auto& limits = c.context.options.limits;
  using clock = std::chrono::steady_clock;
  // The header clock starts at accept for the first request, at the first byte for later ones.
  std::optional<clock::time_point> deadline;
  if (first) deadline = clock::now() + limits.header_timeout;
  std::size_t searched = 0;
  std::size_t head_length = 0;
  for (;;) {
    std::string_view data(static_cast<const char*>(c.buffer.data().data()), c.buffer.size());
    if (auto end = data.find("\r\n\r\n", searched > 3 ? searched - 3 : 0); end != data.npos) {
      head_length = end + 4;
      break;
    }
    if (data.size() > limits.max_header_bytes) {
      refusal = {RefusalKind::bad_request, "request:header-too-large", {},
                 "request head exceeds " + std::to_string(limits.max_header_bytes) + " bytes"};
      co_return HeadStatus::refused;
    }
    searched = data.size();
    if (!deadline && !data.empty()) deadline = clock::now() + limits.header_timeout;
    if (deadline)
      c.stream.expires_at(*deadline);
    else
      c.stream.expires_after(limits.idle_timeout);  // idle between keep-alive requests
    auto [ec, n] = co_await c.stream.async_read_some(c.buffer.prepare(4096), use_tuple);
    if (ec) {
      if (ec == beast::error::timeout && deadline) c.context.metrics.error("header_timeout");
      co_return HeadStatus::closed;
    }
    c.buffer.commit(n);
  }
  c.stream.expires_never();
  std::string_view head(static_cast<const char*>(c.buffer.data().data()), head_length);
  if (head_length > limits.max_header_bytes) {
    refusal = {RefusalKind::bad_request, "request:header-too-large", {},
               "request head exceeds " + std::to_string(limits.max_header_bytes) + " bytes"};
    co_return HeadStatus::refused;
  }
  if (auto problem = scan_raw_head(head)) {
    refusal = {RefusalKind::bad_request, "request:" + problem->kind, {}, problem->detail};
    co_return HeadStatus::refused;
  }
  parser.header_limit(static_cast<std::uint32_t>(limits.max_header_bytes + 4));
  boost::system::error_code ec;
  auto used = parser.put(asio::buffer(head.data(), head.size()), ec);
  if (ec || !parser.is_header_done()) {
    refusal = {RefusalKind::bad_request, "request:" + parser_error_kind(ec), {},
               ec ? ec.message() : "incomplete request head"};
    co_return HeadStatus::refused;
  }
  c.buffer.consume(used);
  co_return HeadStatus::ready;
}

std::optional<Refusal> check_auth(const ProxyContext& context,
                                  const http::request<http::empty_body>& request) {
  if (!context.options.proxy_token) return std::nullopt;
  auto result = check_proxy_authorization(request[http::field::proxy_authorization],
                                          *context.options.proxy_token);
  if (result == AuthResult::ok) return std::nullopt;
  return Refusal{RefusalKind::auth_required,
                 result == AuthResult::missing ? "auth:required" : "auth:invalid", {},
                 "Proxy-Authorization with the pod's proxy token is required"};
}

}  // namespace

void RequestRecord::finish(const ProxyContext& context) {
  event.duration = std::chrono::duration_cast<std::chrono::microseconds>(
      std::chrono::steady_clock::now() - started);
  context.emit(event);
}

void record_refusal(const ProxyContext& context, RequestRecord& record, const Refusal& refusal) {
  record.event.allowed = false;
  record.event.report_only_would_deny = false;
  record.event.reason = refusal.reason;
  record.event.rule = refusal.rule;
  record.event.detail = refusal.detail;
  record.event.status = static_cast<int>(status_of(refusal.kind));
  if (auto kind = error_kind_of(refusal); !kind.empty()) context.metrics.error(kind);
}

asio::awaitable<void> refuse(ClientConnection& c, RequestRecord& record, const Refusal& refusal,
                             unsigned http_version) {
  record_refusal(c.context, record, refusal);
  record.finish(c.context);
  auto response = refusal_response(refusal, http_version);
  c.stream.expires_after(c.context.options.limits.idle_timeout);
  co_await http::async_write(c.stream, response, use_tuple);
  boost::system::error_code ignored;
  c.stream.socket().shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
}

asio::awaitable<void> run_connection(std::shared_ptr<ProxyContext> context,
                                     asio::ip::tcp::socket socket,
                                     std::shared_ptr<ConnectionControl> control,
                                     std::string client) {
  ClientConnection c{*context, *control, beast::tcp_stream(std::move(socket)), {}, std::move(client)};
  AttachedSocket attached(*control, c.stream.socket());
  UpstreamSlot upstream;
  for (bool first = true; !control->closed(); first = false) {
    HeadParser parser;
    Refusal refusal;
    auto status = co_await read_head(c, parser, first, refusal);
    if (status == HeadStatus::closed) co_return;
    RequestRecord record;
    record.event.client = c.client;
    if (status == HeadStatus::refused) {
      record.event.method = "-";
      co_await refuse(c, record, refusal, 11);
      co_return;
    }
    const auto& request = parser.get();
    record.event.method = std::string(request.method_string());
    context->metrics.request(record.event.method);
    if (auto problem = check_framing(request)) {
      const Refusal refusal_now{RefusalKind::bad_request, "request:" + problem->kind, {}, problem->detail};
      co_await refuse(c, record, refusal_now, request.version());
      co_return;
    }
    if (auto auth = check_auth(*context, request)) {
      co_await refuse(c, record, *auth, request.version());
      co_return;
    }
    if (request.method() == http::verb::connect) {
      co_await handle_connect(c, parser, record);
      co_return;
    }
    if (!co_await handle_absolute(c, parser, record, upstream)) co_return;
  }
}

}  // namespace sallyport::router
