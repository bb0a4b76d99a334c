// GCC 12 reports a false -Wmismatched-new-delete on Asio coroutine frames (the awaitable frame's
// operator new/delete pair is Asio's own recycling allocator).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
// The upstream half of a gateway exchange: send with safe retries, then answer the agent with
// the body (usage, safety, tool calls checked) or relay the stream event by event.
#include "common/log.hpp"
#include "router/gateway_exchange.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/chunk_encode.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/serializer.hpp>
#include <boost/beast/http/write.hpp>

#include <cctype>

namespace sallyport::router {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using governance::ApiErrorKind;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t kMaxUpstreamBody = 64 * 1024 * 1024;
constexpr int kMaxAttempts = 3;  // first try + 2 retries (connect failures, 502/503)

bool forwarded_upstream_header(std::string_view lower) {
  return lower == "x-request-id" || lower == "request-id" || lower == "retry-after" ||
         lower == "x-should-retry" || lower == "apim-request-id" ||
         lower.starts_with("openai-") || lower.starts_with("anthropic-") ||
         lower.starts_with("x-ratelimit-") || lower.starts_with("azureml-");
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool is_retryable_status(unsigned status) { return status == 502 || status == 503; }

// Some providers echo the key they were sent in error bodies ("Incorrect API key provided:
// sk-…"): the agent must never see sallyport's real key, so every copy is masked.
void mask_provider_key(std::string& body, const std::optional<std::string>& key) {
  if (!key || key->size() < 8) return;
  for (auto pos = body.find(*key); pos != std::string::npos; pos = body.find(*key, pos)) {
    body.replace(pos, key->size(), "[redacted]");
  }
}

}  // namespace

void GatewayExchange::copy_upstream_headers(const UpstreamParser& parser, http::fields& out) const {
  for (const auto& field : parser.get()) {
    if (forwarded_upstream_header(lower(field.name_string()))) {
      out.insert(field.name_string(), field.value());
    }
  }
}

asio::awaitable<bool> GatewayExchange::forward() {
  const auto key = gw_.keys.get(*provider_);
  if (!key.value) {
    log::error("gateway", "provider credential unavailable", {{"provider", provider_->name}, {"error", key.error}});
    settle(std::nullopt, false);
    co_return co_await reply_error(governance::make_api_error(
        ApiErrorKind::upstream_error, "provider credential unavailable (see sallyport log)", flavor_));
  }
  if (flavor_ == governance::ApiFlavor::openai && route_.route != GatewayRoute::responses &&
      facts_.stream) {
    injected_usage_ = governance::inject_include_usage(body_);
  }
  UpstreamRequest request{http::verb::post, upstream_target(*provider_, *base_, route_, model_), 11};
  build_upstream_headers(req_, *provider_, *key.value, request);
  const bool default_port = base_->port == (base_->tls ? 443 : 80);
  const std::string host = base_->host.find(':') != std::string::npos ? "[" + base_->host + "]" : base_->host;
  request.set(http::field::host, default_port ? host : host + ":" + std::to_string(base_->port));
  request.set(http::field::content_type, "application/json");
  request.body() = body_.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  request.keep_alive(true);
  request.prepare_payload();

  const auto& timeouts = gw_.pool.timeouts();
  const std::string ca_file = provider_->ca_file.value_or("");
  int attempts = 0;
  for (;;) {
    ++attempts;
    auto checkout = co_await gw_.pool.acquire(*base_, ca_file, true);
    if (!checkout.connection) {
      gw_.metrics.upstream_errors.Add({{"provider", provider_->name}, {"kind", to_string(checkout.error)}}).Increment();
      const bool retryable = checkout.error == UpstreamError::connect || checkout.error == UpstreamError::resolve;
      if (retryable && attempts < kMaxAttempts) continue;
      co_return co_await upstream_failure(checkout.error, checkout.detail);
    }
    auto conn = std::move(checkout.connection);
    UpstreamParser parser;
    parser.header_limit(64 * 1024);
    parser.body_limit(boost::none);  // streams are unbounded; bodies are capped while reading
    const auto sent_at = Clock::now();
    auto error = co_await send_request(*conn, request, timeouts.first_byte);
    if (error == UpstreamError::none) error = co_await read_response_header(*conn, parser, timeouts.first_byte);
    upstream_wait_ += Clock::now() - sent_at;
    if (error != UpstreamError::none) {
      // A pooled keep-alive connection the server had already closed: try a fresh one.
      if (conn->reused() && error != UpstreamError::first_byte_timeout) continue;
      gw_.metrics.upstream_errors.Add({{"provider", provider_->name}, {"kind", to_string(error)}}).Increment();
      co_return co_await upstream_failure(error, {});
    }
    gw_.metrics.upstream_seconds.Observe(std::chrono::duration<double>(Clock::now() - sent_at).count());
    const unsigned status = parser.get().result_int();
    if (is_retryable_status(status) && attempts < kMaxAttempts) {
      gw_.metrics.upstream_errors.Add({{"provider", provider_->name}, {"kind", "status_" + std::to_string(status)}}).Increment();
      continue;  // nothing reached the agent yet; the connection is dropped unread
    }
    const auto content_type = parser.get()[http::field::content_type];
    if (status == 200 && content_type.starts_with("text/event-stream")) {
      co_return co_await answer_stream(std::move(conn), parser);
    }
    co_return co_await answer_body(std::move(conn), parser);
  }
}

asio::awaitable<bool> GatewayExchange::upstream_failure(UpstreamError error, const std::string& detail) {
  settle(std::nullopt, false);
  const bool timeout = error == UpstreamError::first_byte_timeout || error == UpstreamError::idle_timeout;
  gw_.emit({"upstream", "deny", std::string("upstream:") + to_string(error), {}, provider_->name,
            model_, 0, 0, timeout ? 504 : 502, detail});
  log::warn("gateway", "upstream failed",
            {{"provider", provider_->name}, {"kind", to_string(error)}, {"detail", detail}});
  std::string message = timeout ? "upstream did not answer in time" : "upstream connection failed";
  if (error == UpstreamError::egress_denied) {
    message = "provider address denied by egress policy (" + governance::sanitize_error_text(detail, 60) + ")";
  } else if (error == UpstreamError::tls) {
    message = "upstream TLS verification failed";
  }
  const auto kind = timeout ? ApiErrorKind::upstream_timeout : ApiErrorKind::upstream_error;
  finish(timeout ? 504 : 502, "deny", std::string("upstream:") + to_string(error));
  co_return co_await reply_error(governance::make_api_error(kind, message, flavor_));
}

asio::awaitable<bool> GatewayExchange::answer_body(std::unique_ptr<UpstreamConnection> conn,
                                                   UpstreamParser& parser) {
  const auto& timeouts = gw_.pool.timeouts();
  const auto read_started = Clock::now();
  while (!parser.is_done()) {
    const auto error = co_await read_body_some(*conn, parser, timeouts.idle);
    if (error != UpstreamError::none) {
      upstream_wait_ += Clock::now() - read_started;
      gw_.metrics.upstream_errors.Add({{"provider", provider_->name}, {"kind", to_string(error)}}).Increment();
      co_return co_await upstream_failure(error, "while reading the body");
    }
    if (parser.get().body().size() > kMaxUpstreamBody) {
      upstream_wait_ += Clock::now() - read_started;
      co_return co_await upstream_failure(UpstreamError::protocol, "body larger than 64 MiB");
    }
  }
  upstream_wait_ += Clock::now() - read_started;
  const unsigned status = parser.get().result_int();
  std::string body = std::move(parser.get().body());
  HeaderList headers;
  http::fields copied;
  copy_upstream_headers(parser, copied);
  for (const auto& f : copied) headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
  std::string content_type(parser.get()[http::field::content_type]);
  if (content_type.empty()) content_type = "application/json";
  if (parser.keep_alive()) gw_.pool.release(std::move(conn));

  if (status >= 400) mask_provider_key(body, gw_.keys.get(*provider_).value);
  auto json = governance::parse_json(body);
  if (status >= 400) {
    std::optional<governance::TokenUsage> usage;
    if (json) usage = governance::usage_from_response(*json);
    settle(usage, usage.has_value());
    if (json && gw_.deps.safety && flavor_ == governance::ApiFlavor::openai) {
      const auto report = governance::evaluate_content_safety(*json, *gw_.deps.safety);
      if (report.upstream_content_filter_error) {
        gw_.emit({"safety", "deny", report.decision.reason, report.decision.rule, provider_->name,
                  model_, 0, 0, static_cast<int>(status), "provider content filter refused the prompt"});
      }
    }
    finish(static_cast<int>(status), "deny", "upstream:status-" + std::to_string(status));
    co_return co_await reply(status, std::move(body), content_type, headers);
  }
  if (!json) {
    gw_.metrics.uncharged.Increment();
    settle(std::nullopt, true);
    gw_.metrics.upstream_errors.Add({{"provider", provider_->name}, {"kind", "invalid_json"}}).Increment();
    co_return co_await upstream_failure(UpstreamError::protocol, "upstream answered with invalid JSON");
  }
  const auto usage = governance::usage_from_response(*json);
  if (!usage) gw_.metrics.uncharged.Increment();
  settle(usage, true);
  if (gw_.deps.safety && flavor_ == governance::ApiFlavor::openai) {
    const auto report = governance::evaluate_content_safety(*json, *gw_.deps.safety);
    if (!report.decision.allowed()) co_return co_await reply_error(deny(report.decision, "safety"));
  }
  bool changed = false;
  if (tool_policy_) co_await filter_response_tools(*json, changed);
  if (changed) body = json->dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  finish(static_cast<int>(status), "allow", "upstream:ok");
  co_return co_await reply(status, std::move(body), content_type, headers);
}

asio::awaitable<bool> GatewayExchange::write_chunk(const std::string& data) {
  if (data.empty()) co_return true;
  client_.expires_after(gw_.cfg.gateway.idle_timeout);
  if (req_.version() < 11) {
    auto [ec, n] = co_await asio::async_write(client_, asio::buffer(data), kTuple);
    co_return !ec;
  }
  auto [ec, n] = co_await asio::async_write(client_, http::make_chunk(asio::buffer(data)), kTuple);
  co_return !ec;
}

asio::awaitable<bool> GatewayExchange::answer_stream(std::unique_ptr<UpstreamConnection> conn,
                                                     UpstreamParser& parser) {
  SseRelayOptions options;
  options.flavor = flavor_;
  options.strip_usage_chunk = injected_usage_;
  options.safety = gw_.deps.safety;
  // Responses API answers may call tools the request did not list (stored prompts define their
  // own), so they are always filtered under a tool policy.
  options.named_events = route_.route == GatewayRoute::responses;
  if (tool_policy_ && (request_has_tools_ || options.named_events)) options.tool_filter = make_stream_filter();
  SseRelay relay(std::move(options));

  http::response<http::empty_body> head{http::status::ok, req_.version() < 11 ? 10u : 11u};
  copy_upstream_headers(parser, head);
  head.set(http::field::content_type, parser.get()[http::field::content_type]);
  head.set(http::field::cache_control, "no-cache");
  add_common_headers(head);
  const bool chunked = req_.version() >= 11;
  const bool keep_alive = chunked && req_.keep_alive() && !gw_.stopping.load();
  head.keep_alive(keep_alive);
  if (chunked) head.chunked(true);
  http::response_serializer<http::empty_body> serializer{head};
  client_.expires_after(gw_.cfg.gateway.idle_timeout);
  auto [hec, hn] = co_await http::async_write_header(client_, serializer, kTuple);
  bool client_ok = !hec;

  const auto& timeouts = gw_.pool.timeouts();
  UpstreamError upstream_error = UpstreamError::none;
  std::string out;
  while (client_ok && !parser.is_done()) {
    upstream_error = co_await read_body_some(*conn, parser, timeouts.idle);
    auto& chunk = parser.get().body();
    if (!chunk.empty()) {
      out.clear();
      relay.feed(chunk, out);
      chunk.clear();
      if (relay.waiting()) co_await wait_for_approvals(relay, out);
      client_ok = co_await write_chunk(out);
    }
    if (upstream_error != UpstreamError::none || relay.ended()) break;
  }
  out.clear();
  if (!client_ok) {
    conn->close();  // the agent is gone: stop the upstream generation
  } else if (upstream_error != UpstreamError::none) {
    conn->close();
    gw_.metrics.upstream_errors.Add({{"provider", provider_->name}, {"kind", to_string(upstream_error)}}).Increment();
    const bool timeout = upstream_error == UpstreamError::idle_timeout;
    out = sse_error_event(governance::make_api_error(
                              timeout ? ApiErrorKind::upstream_timeout : ApiErrorKind::upstream_error,
                              timeout ? "upstream stream stalled" : "upstream stream broke off", flavor_),
                          flavor_);
  } else if (!relay.ended()) {
    relay.finish(out);
    if (relay.waiting()) co_await wait_for_approvals(relay, out);
    if (relay.truncated()) {
      gw_.metrics.upstream_errors.Add({{"provider", provider_->name}, {"kind", "truncated"}}).Increment();
    }
  } else {
    conn->close();  // blocked by safety: the rest of the answer is not read
  }
  if (client_ok) client_ok = co_await write_chunk(out);
  if (client_ok && chunked) {
    client_.expires_after(gw_.cfg.gateway.idle_timeout);
    auto [ec, n] = co_await asio::async_write(client_, http::make_chunk_last(), kTuple);
    client_ok = !ec;
  }
  record_tool_verdicts(relay.tool_verdicts(), "tool_call");

  // Accounting: actual usage when the final usage arrived; otherwise the reservation (the
  // provider may have billed what it generated). Only complete streams without usage count as
  // uncharged; broken ones are upstream errors.
  const bool complete = client_ok && upstream_error == UpstreamError::none && !relay.truncated();
  if (relay.final_usage_seen()) {
    settle(relay.usage(), true);
  } else {
    if (complete && !relay.blocked()) gw_.metrics.uncharged.Increment();
    settle(std::nullopt, true);
  }
  if (upstream_error == UpstreamError::none && !relay.ended() && parser.is_done() && parser.keep_alive()) {
    gw_.pool.release(std::move(conn));
  }
  if (relay.blocked()) {
    gw_.emit({"safety", "deny", relay.blocked()->reason, relay.blocked()->rule, provider_->name,
              model_, 0, 0, 200, "stream ended by sallyport"});
    violation_ = true;
    finish(200, "deny", relay.blocked()->reason, relay.blocked()->rule);
  } else if (!client_ok) {
    finish(499, "allow", "client:disconnected");
  } else if (upstream_error != UpstreamError::none) {
    finish(upstream_error == UpstreamError::idle_timeout ? 504 : 502, "deny",
           std::string("upstream:") + to_string(upstream_error));
  } else {
    finish(200, "allow", "upstream:ok");
  }
  co_return client_ok && keep_alive;
}

}  // namespace sallyport::router
