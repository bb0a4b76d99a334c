// GCC 12 reports a false -Wmismatched-new-delete on Asio coroutine frames (the awaitable
// promise has its own operator new/delete pair); the allocation and deallocation do match.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
// Absolute-form plain HTTP: every request on a keep-alive connection is decided on its own,
// rewritten to origin-form with hop-by-hop fields stripped and Via added, and relayed both ways
// streaming (Beast's relay<isRequest> pattern: buffer_body, never the whole body in memory).
// Redirects are relayed to the client like any other response, never followed.
#include "router/proxy_destination.hpp"
#include "router/proxy_request.hpp"
#include "router/proxy_session.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/serializer.hpp>
#include <boost/beast/http/write.hpp>

#include <algorithm>
#include <array>

namespace sallyport::router {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

struct RelayResult {
  boost::system::error_code read_error, write_error;
  std::uint64_t body_bytes = 0;
};

// Streams the message whose header `parser` already holds from `input` to `output`.
template <bool isRequest>
asio::awaitable<RelayResult> relay(beast::tcp_stream& output, beast::tcp_stream& input,
                                   beast::flat_buffer& buffer,
                                   http::parser<isRequest, http::buffer_body>& parser,
                                   std::chrono::milliseconds idle_timeout) {
  RelayResult result;
  std::array<char, 16384> chunk;
  http::serializer<isRequest, http::buffer_body> serializer{parser.get()};
  do {
    if (!parser.is_done()) {
      parser.get().body().data = chunk.data();
      parser.get().body().size = chunk.size();
      input.expires_after(idle_timeout);
      auto [ec, n] = co_await http::async_read(input, buffer, parser, use_tuple);
      if (ec && ec != http::error::need_buffer) {
        result.read_error = ec;
        co_return result;
      }
      parser.get().body().size = chunk.size() - parser.get().body().size;
      parser.get().body().data = chunk.data();
      parser.get().body().more = !parser.is_done();
      result.body_bytes += parser.get().body().size;
    } else {
      parser.get().body().data = nullptr;
      parser.get().body().size = 0;
      parser.get().body().more = false;  // buffer_body defaults to "more": a body-less message
    }                                    // would otherwise never finish serialising
    output.expires_after(idle_timeout);
    auto [ec, n] = co_await http::async_write(output, serializer, use_tuple);
    if (ec && ec != http::error::need_buffer) {
      result.write_error = ec;
      co_return result;
    }
  } while (!parser.is_done() || !serializer.is_done());
  input.expires_never();
  output.expires_never();
  co_return result;
}

// Rewrites the request head in place for the origin server.
void prepare_upstream_request(http::request<http::buffer_body>& request, const ProxyTarget& target,
                              std::string_view via_name) {
  request.target(target.origin_form);
  strip_hop_by_hop(request.base());
  request.set(http::field::host, target.authority);
  append_via(request.base(), via_name);
  request.version(11);
  request.keep_alive(true);
}

void prepare_client_response(http::response<http::buffer_body>& response, bool keep_alive,
                             std::string_view via_name) {
  strip_hop_by_hop(response.base());
  append_via(response.base(), via_name);
  response.version(11);
  response.keep_alive(keep_alive);
}

bool reusable(const UpstreamSlot& slot, const CheckedDestination& destination) {
  if (!slot.stream || !slot.stream->socket().is_open() || slot.host != destination.host ||
      slot.port != destination.port)
    return false;
  boost::system::error_code ec;
  auto peer = slot.stream->socket().remote_endpoint(ec);
  return !ec && std::find(destination.endpoints.begin(), destination.endpoints.end(), peer) !=
                    destination.endpoints.end();
}

Refusal upstream_broken(const boost::system::error_code& ec) {
  if (ec == beast::error::timeout)
    return {RefusalKind::upstream_timeout, "upstream:timeout", {}, "upstream did not answer in time"};
  return {RefusalKind::upstream_failed, "upstream:refused", {}, "upstream failed: " + ec.message()};
}

}  // namespace

asio::awaitable<bool> handle_absolute(ClientConnection& c, HeadParser& head, RequestRecord& record,
                                      UpstreamSlot& slot) {
  const auto& options = c.context.options;
  const auto idle = options.limits.idle_timeout;
  const unsigned version = head.get().version();
  auto parsed = parse_absolute_target(head.get().target());
  if (auto* problem = std::get_if<RequestError>(&parsed)) {
    const Refusal refusal_now{RefusalKind::bad_request, "request:" + problem->kind, {}, problem->detail};
    co_await refuse(c, record, refusal_now, version);
    co_return false;
  }
  const auto& target = std::get<ProxyTarget>(parsed);
  record.event.host = target.host;
  record.event.port = std::to_string(target.port);
  if (!port_listed(options.http_ports, target.port)) {
    const Refusal refusal_now{RefusalKind::denied, "port:not-allowed", {}, "http port " + record.event.port};
    co_await refuse(c, record, refusal_now, version);
    co_return false;
  }
  auto policy = c.context.policy();
  if (!policy) {
    const Refusal refusal_now{RefusalKind::over_capacity, "policy:unavailable", {},
                              "no egress policy: not loaded, or the audit log cannot record (fail_closed)"};
    co_await refuse(c, record, refusal_now, version);
    co_return false;
  }
  auto checked = co_await check_destination(c.context, *policy, target.host, target.port);
  if (auto* refusal = std::get_if<Refusal>(&checked)) {
    co_await refuse(c, record, *refusal, version);
    co_return false;
  }
  auto& destination = std::get<CheckedDestination>(checked);
  record.event.host = destination.host;

  // The upstream socket stays attached to the connection (for close_all) while it is in use;
  // drop_upstream() detaches before destroying, so close_all never sees a dead socket.
  std::optional<AttachedSocket> attached;
  auto drop_upstream = [&] {
    attached.reset();
    slot.stream.reset();
  };
  const bool fresh = !reusable(slot, destination);
  if (fresh) {
    attached.reset();
    slot.stream.emplace(c.stream.get_executor());
    slot.host = destination.host;
    slot.port = destination.port;
  }
  auto& upstream = *slot.stream;
  attached.emplace(c.control, upstream.socket());
  if (fresh) {
    if (auto failed = co_await connect_checked(c.context, destination, upstream)) {
      drop_upstream();
      co_await refuse(c, record, *failed, version);
      co_return false;
    }
  }
  record.event.allowed = true;
  record.event.report_only_would_deny = destination.report_only_would_deny;
  record.event.reason = destination.decision.reason;
  record.event.rule = destination.decision.rule;
  record.event.detail = destination.decision.detail;

  http::request_parser<http::buffer_body> request{std::move(head)};
  request.body_limit(boost::none);  // streamed, never buffered
  const bool client_keep_alive = request.get().keep_alive();
  const bool is_head = request.get().method() == http::verb::head;
  if (beast::iequals(request.get()[http::field::expect], "100-continue")) {
    // Answer the interim response ourselves so the body never waits on the origin's 100.
    request.get().erase(http::field::expect);
    co_await asio::async_write(c.stream.socket(), asio::buffer("HTTP/1.1 100 Continue\r\n\r\n", 25), use_tuple);
  }
  prepare_upstream_request(request.get(), target, options.via_name);
  auto sent = co_await relay<true>(upstream, c.stream, c.buffer, request, idle);
  record.event.bytes_up = sent.body_bytes;
  if (sent.read_error) {  // the client went away mid-body
    drop_upstream();
    record.finish(c.context);
    co_return false;
  }
  if (sent.write_error) {
    drop_upstream();
    co_await refuse(c, record, upstream_broken(sent.write_error), version);
    co_return false;
  }

  beast::flat_buffer upstream_buffer;
  std::optional<http::response_parser<http::buffer_body>> parser;
  for (;;) {  // interim 1xx answers are dropped: we already answered Expect ourselves
    parser.emplace();
    parser->body_limit(boost::none);
    parser->header_limit(65536);
    parser->skip(is_head);
    upstream.expires_after(idle);
    auto [ec, n] = co_await http::async_read_header(upstream, upstream_buffer, *parser, use_tuple);
    if (ec) {
      drop_upstream();
      co_await refuse(c, record, upstream_broken(ec), version);
      co_return false;
    }
    if (parser->get().result_int() / 100 != 1) break;
  }
  auto& response = *parser;
  const bool keep_alive = client_keep_alive && response.get().keep_alive() && !response.get().need_eof();
  const bool upstream_reusable = response.get().keep_alive() && !response.get().need_eof();
  record.event.status = static_cast<int>(response.get().result_int());
  prepare_client_response(response.get(), keep_alive, options.via_name);
  auto received = co_await relay<false>(c.stream, upstream, upstream_buffer, response, idle);
  record.event.bytes_down = received.body_bytes;
  c.context.metrics.bytes_up.Increment(static_cast<double>(sent.body_bytes));
  c.context.metrics.bytes_down.Increment(static_cast<double>(received.body_bytes));
  record.finish(c.context);
  if (received.read_error || received.write_error || !upstream_reusable || upstream_buffer.size() > 0)
    drop_upstream();
  co_return keep_alive && !received.read_error && !received.write_error;
}

}  // namespace sallyport::router
