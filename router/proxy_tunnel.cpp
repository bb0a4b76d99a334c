// GCC 12 reports a false -Wmismatched-new-delete on Asio coroutine frames (the awaitable
// promise has its own operator new/delete pair); the allocation and deallocation do match.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
// CONNECT tunnels: decision → (ClientHello peek and SNI check on TLS ports) → connect to a
// checked address → splice. See the order in router/forward_proxy.hpp.
#include "router/proxy_destination.hpp"
#include "router/proxy_request.hpp"
#include "router/proxy_session.hpp"
#include "router/proxy_splice.hpp"
#include "router/tls_peek.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <tuple>

namespace sallyport::router {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
constexpr std::string_view established = "HTTP/1.1 200 Connection established\r\n\r\n";

// Reads until the first TLS record is complete (bounded bytes and header_timeout) and decides.
// nullopt = SNI acceptable.
asio::awaitable<std::optional<Refusal>> check_client_hello(ClientConnection& c,
                                                           const CheckedDestination& destination,
                                                           const std::string& requested_host) {
  c.stream.expires_after(c.context.options.limits.header_timeout);
  ClientHelloPeek peek;
  for (;;) {
    auto bytes = c.buffer.data();
    peek = peek_client_hello({static_cast<const std::uint8_t*>(bytes.data()), bytes.size()});
    if (peek.status != ClientHelloStatus::need_more) break;
    auto room = max_client_hello_peek - std::min(max_client_hello_peek, c.buffer.size());
    auto [ec, n] = co_await c.stream.async_read_some(c.buffer.prepare(std::max<std::size_t>(room, 1)),
                                                     use_tuple);
    if (ec) {
      c.stream.expires_never();
      co_return Refusal{RefusalKind::denied, "tls:not-tls", {}, "no complete ClientHello in time"};
    }
    c.buffer.commit(n);
  }
  c.stream.expires_never();
  switch (peek.status) {
    case ClientHelloStatus::not_tls:
      co_return Refusal{RefusalKind::denied, "tls:not-tls", {}, "first bytes are not a TLS handshake"};
    case ClientHelloStatus::malformed:
      co_return Refusal{RefusalKind::denied, "tls:not-tls", {}, "malformed ClientHello"};
    default:
      break;
  }
  if (!peek.server_name) {
    if (destination.literal) co_return std::nullopt;  // SNI cannot carry an IP address
    co_return Refusal{RefusalKind::denied, "sni:missing", {}, "ClientHello without server_name"};
  }
  auto sni = comparable_host(*peek.server_name);
  if (sni == comparable_host(requested_host) || sni == comparable_host(destination.host))
    co_return std::nullopt;
  co_return Refusal{RefusalKind::denied, "sni:mismatch", {},
                    "SNI " + *peek.server_name + " differs from CONNECT host " + requested_host};
}

void record_allowed(RequestRecord& record, const CheckedDestination& destination) {
  record.event.host = destination.host;
  record.event.allowed = true;
  record.event.report_only_would_deny = destination.report_only_would_deny;
  record.event.reason = destination.decision.reason;
  record.event.rule = destination.decision.rule;
  record.event.detail = destination.decision.detail;
  record.event.status = 200;
}

}  // namespace

asio::awaitable<void> handle_connect(ClientConnection& c, HeadParser& head, RequestRecord& record) {
  const auto& options = c.context.options;
  const unsigned version = head.get().version();
  auto parsed = parse_connect_target(head.get().target());
  if (auto* problem = std::get_if<RequestError>(&parsed)) {
    record.event.host = std::string(head.get().target().substr(0, 255));
    const Refusal refusal_now{RefusalKind::bad_request, "request:" + problem->kind, {}, problem->detail};
    co_await refuse(c, record, refusal_now, version);
    co_return;
  }
  const auto& target = std::get<ProxyTarget>(parsed);
  record.event.host = target.host;
  record.event.port = std::to_string(target.port);
  if (!port_listed(options.connect_ports, target.port)) {
    const Refusal refusal_now{RefusalKind::denied, "port:not-allowed", {}, "CONNECT port " + record.event.port};
    co_await refuse(c, record, refusal_now, version);
    co_return;
  }
  auto policy = c.context.policy();
  if (!policy) {
    const Refusal refusal_now{RefusalKind::over_capacity, "policy:unavailable", {},
                              "no egress policy: not loaded, or the audit log cannot record (fail_closed)"};
    co_await refuse(c, record, refusal_now, version);
    co_return;
  }

  auto checked = co_await check_destination(c.context, *policy, target.host, target.port);
  if (auto* refusal = std::get_if<Refusal>(&checked)) co_return co_await refuse(c, record, *refusal, version);
  auto& destination = std::get<CheckedDestination>(checked);
  record_allowed(record, destination);

  beast::tcp_stream upstream(c.stream.get_executor());
  AttachedSocket attached(c.control, upstream.socket());
  const bool peek = options.require_sni && port_listed(options.tls_ports, target.port);
  if (!peek) {
    if (auto failed = co_await connect_checked(c.context, destination, upstream))
      co_return co_await refuse(c, record, *failed, version);
  }
  boost::system::error_code ec;
  auto sent = send_now(c.stream.socket(), asio::buffer(established), ec);
  if (!ec && sent < established.size())
    std::tie(ec, sent) = co_await asio::async_write(
        c.stream.socket(), asio::buffer(established.substr(sent)), use_tuple);
  if (ec) co_return;
  if (peek) {
    // The TLS client only speaks after 200, so the SNI decision comes after it; a refusal is a
    // TLS alert instead of an HTTP 403, and still no upstream connection is made.
    if (auto refused = co_await check_client_hello(c, destination, target.host)) {
      if (!options.report_only) {
        record_refusal(c.context, record, *refused);
        record.finish(c.context);
        co_await asio::async_write(c.stream.socket(), asio::buffer(tls_access_denied_alert().data(),
                                                                   tls_access_denied_alert().size()),
                                   use_tuple);
        co_return;
      }
      record.event.report_only_would_deny = true;
      record.event.reason = refused->reason;
      record.event.detail = refused->detail;
    }
    if (auto failed = co_await connect_checked(c.context, destination, upstream)) {
      record_refusal(c.context, record, *failed);
      record.finish(c.context);
      co_return;
    }
  }
  // Bytes the client sent after the CONNECT head (the peeked ClientHello, pipelined data).
  if (c.buffer.size() > 0) {
    boost::system::error_code write_ec;
    auto written = send_now(upstream.socket(), c.buffer.data(), write_ec);
    if (!write_ec && written < c.buffer.size()) {
      auto [async_ec, more] =
          co_await asio::async_write(upstream.socket(), asio::buffer(c.buffer.data() + written), use_tuple);
      write_ec = async_ec;
      written += more;
    }
    if (write_ec) co_return;
    record.event.bytes_up += written;
    c.context.metrics.bytes_up.Increment(static_cast<double>(written));
    c.buffer.consume(written);
  }
  if (c.control.closed()) co_return;
  auto totals = co_await splice(c.stream.socket(), upstream.socket(), options.limits.idle_timeout,
                                options.limits.tunnel_lifetime, c.context.metrics);
  record.event.bytes_up += totals.up;
  record.event.bytes_down = totals.down;
  if (totals.timed_out) c.context.metrics.error("tunnel_timeout");
  record.finish(c.context);
}

}  // namespace sallyport::router
