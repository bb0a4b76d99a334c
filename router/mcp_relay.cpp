// GCC 12 reports a false -Wmismatched-new-delete on Asio coroutine frames (the awaitable frame's
// operator new/delete pair is Asio's own recycling allocator).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
// The upstream half of an MCP exchange: forward to the configured server with its credentials,
// then answer the agent with the inspected JSON body or relay the SSE stream event by event.
#include "common/log.hpp"
#include "router/mcp_exchange.hpp"
#include "router/version.hpp"

#include <boost/asio/as_tuple.hpp>
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
namespace mcp = governance::mcp;
using nlohmann::json;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t kMaxAnswerBytes = 16 * 1024 * 1024;
constexpr governance::SseLimits kSseLimits{1 << 20, 8 << 20};

std::string dump(const json& value) {
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

bool starts_with_ci(std::string_view text, std::string_view prefix) {
  if (text.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(text[i])) != prefix[i]) return false;
  }
  return true;
}

std::string join(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ",") + n.substr(0, 128);
  return out;
}

}  // namespace

asio::awaitable<bool> McpExchange::forward(std::optional<std::string> body) {
  auto creds = mcp_.credentials(server_);
  if (!creds.headers) {
    log::error("mcp", "MCP server credential unavailable",
               {{"server", server_.config.name}, {"error", creds.error}});
    co_return co_await upstream_failure(
        "credential", "credential for the MCP server is unavailable (see sallyport log)");
  }
  const auto& base = *server_.url;
  std::string target = base.path.empty() ? "/" : base.path;
  if (!query_.empty()) target += "?" + query_;
  UpstreamRequest request{req_.method(), target, 11};
  build_mcp_upstream_headers(req_, *creds.headers, request);
  const bool default_port = base.port == (base.tls ? 443 : 80);
  const std::string host =
      base.host.find(':') != std::string::npos ? "[" + base.host + "]" : base.host;
  request.set(http::field::host, default_port ? host : host + ":" + std::to_string(base.port));
  if (body) request.body() = std::move(*body);
  request.keep_alive(true);
  request.prepare_payload();

  const auto timeout = server_.config.timeout;
  const std::string ca_file = server_.config.ca_file.value_or("");
  for (int attempt = 1;; ++attempt) {
    auto checkout = co_await gw_.pool.acquire(base, ca_file, true);
    if (!checkout.connection)
      co_return co_await upstream_failure(to_string(checkout.error), checkout.detail);
    auto conn = std::move(checkout.connection);
    UpstreamParser parser;
    parser.header_limit(64 * 1024);
    parser.body_limit(boost::none);  // streams are unbounded; bodies are capped while reading
    auto error = co_await send_request(*conn, request, timeout);
    if (error == UpstreamError::none) error = co_await read_response_header(*conn, parser, timeout);
    if (error != UpstreamError::none) {
      // A pooled keep-alive connection the server had already closed: one fresh try.
      if (conn->reused() && error != UpstreamError::first_byte_timeout && attempt < 2) continue;
      co_return co_await upstream_failure(to_string(error), {});
    }
    const auto content_type = parser.get()[http::field::content_type];
    if (parser.get().result_int() == 200 && starts_with_ci(content_type, "text/event-stream")) {
      co_return co_await relay_stream(std::move(conn), parser);
    }
    co_return co_await relay_body(std::move(conn), parser);
  }
}

asio::awaitable<bool> McpExchange::relay_body(std::unique_ptr<UpstreamConnection> conn,
                                              UpstreamParser& parser) {
  while (!parser.is_done()) {
    const auto error = co_await read_body_some(*conn, parser, server_.config.timeout);
    if (error != UpstreamError::none)
      co_return co_await upstream_failure(to_string(error), "while reading the answer");
    if (parser.get().body().size() > kMaxAnswerBytes) {
      co_return co_await upstream_failure("too_large", "answer larger than 16 MiB");
    }
  }
  const unsigned status = parser.get().result_int();
  http::fields headers;
  copy_mcp_response_headers(parser.get(), headers);
  std::string body = std::move(parser.get().body());
  const bool is_json = starts_with_ci(parser.get()[http::field::content_type], "application/json");
  if (parser.keep_alive()) gw_.pool.release(std::move(conn));

  if (status / 100 == 2 && is_json && !body.empty()) {
    if (mcp::json_depth_exceeds(body, mcp::McpLimits{}.max_depth)) {
      co_return co_await upstream_failure("protocol", "answer JSON nested too deep to inspect");
    }
    json payload = json::parse(body, nullptr, false);
    if (payload.is_discarded())
      co_return co_await upstream_failure("protocol", "answer is not valid JSON");
    const bool changed = inspect(payload).changed;
    if (!local_errors_.empty()) {
      if (!payload.is_array()) payload = json::array({std::move(payload)});
      for (auto& e : local_errors_) payload.push_back(std::move(e));
      body = dump(payload);
    } else if (changed) {
      body = dump(payload);
    }
  } else if (status == 202 && !local_errors_.empty()) {
    // The server accepted the notifications; the denied calls still need their answers.
    const json answer = batch_ ? json(local_errors_) : local_errors_.front();
    co_return co_await reply_json(200, answer);
  }
  co_return co_await reply(status, std::move(body), headers);
}

asio::awaitable<bool> McpExchange::relay_stream(std::unique_ptr<UpstreamConnection> conn,
                                                UpstreamParser& parser) {
  count(200);
  http::response<http::empty_body> head{http::status::ok, req_.version() < 11 ? 10u : 11u};
  copy_mcp_response_headers(parser.get(), head);
  head.set(http::field::cache_control, "no-cache");
  head.set(http::field::server, std::string("sallyport/") + std::string(kVersion));
  const bool chunked = req_.version() >= 11;
  const bool keep_alive = chunked && req_.keep_alive() && !gw_.stopping.load();
  head.keep_alive(keep_alive);
  if (chunked) head.chunked(true);
  http::response_serializer<http::empty_body> serializer{head};
  client_.expires_after(gw_.cfg.gateway.idle_timeout);
  auto [hec, hn] = co_await http::async_write_header(client_, serializer, kTuple);
  bool client_ok = !hec;

  std::string out;
  for (const auto& error : local_errors_) out += sse_message_block(error);
  McpSseRewriter rewriter([this](json& payload) { return inspect(payload); }, kSseLimits, {});
  UpstreamError upstream_error = UpstreamError::none;
  while (client_ok && !parser.is_done()) {
    upstream_error = co_await read_body_some(*conn, parser, server_.config.timeout);
    auto& chunk = parser.get().body();
    if (!chunk.empty()) {
      rewriter.feed(chunk, out);
      chunk.clear();
    }
    if (!out.empty()) client_ok = co_await write_chunk(out, chunked);
    out.clear();
    if (upstream_error != UpstreamError::none || rewriter.error()) break;
  }
  if (rewriter.error()) {
    mcp_.metrics()
        .upstream_errors.Add({{"server", server_.config.name}, {"kind", "sse_limit"}})
        .Increment();
    log::warn("mcp", "MCP server stream cut: limit crossed",
              {{"server", server_.config.name}, {"error", rewriter.error()->message}});
  } else if (upstream_error != UpstreamError::none &&
             upstream_error != UpstreamError::idle_timeout) {
    mcp_.metrics()
        .upstream_errors.Add({{"server", server_.config.name}, {"kind", to_string(upstream_error)}})
        .Increment();
  }
  if (client_ok && chunked) {
    client_.expires_after(gw_.cfg.gateway.idle_timeout);
    auto [ec, n] = co_await asio::async_write(client_, http::make_chunk_last(), kTuple);
    client_ok = !ec;
  }
  const bool clean = client_ok && upstream_error == UpstreamError::none && !rewriter.error();
  if (clean && parser.is_done() && parser.keep_alive()) {
    gw_.pool.release(std::move(conn));
  } else {
    conn->close();  // the agent is gone or the stream broke: stop the server side too
  }
  co_return client_ok&& keep_alive&& clean;
}

mcp::ServerInspection McpExchange::inspect(json& payload) {
  auto& deps = gw_.deps;
  const auto policy = deps.tool_policy ? deps.tool_policy->current() : nullptr;
  mcp::ServerInspectOptions options;
  options.policy = policy.get();
  options.trust = deps.trust ? deps.trust->policy_input(deps.agent) : governance::TrustInput{};
  options.shield = deps.prompt_shield.get();
  options.calls = &call_tools_;
  auto inspection = mcp::inspect_server_payload(payload, options);
  const auto& name = server_.config.name;
  if (!inspection.hidden_tools.empty()) {
    mcp_.metrics()
        .tools_hidden.Add({{"server", name}})
        .Increment(static_cast<double>(inspection.hidden_tools.size()));
    gw_.emit({"mcp",
              "deny",
              "tool:hidden",
              "tools/list",
              name,
              {},
              0,
              0,
              0,
              "tools/list hid " + join(inspection.hidden_tools)});
  }
  for (const auto& hit : inspection.shield_hits) {
    const bool withheld = !hit.decision.allowed();
    mcp_.metrics()
        .shield.Add({{"server", name}, {"decision", withheld ? "withheld" : "observed"}})
        .Increment();
    gw_.emit({"mcp",
              withheld ? "deny" : "allow",
              hit.decision.reason,
              hit.decision.rule,
              name,
              {},
              0,
              0,
              0,
              "tool result " + std::string(withheld ? "withheld" : "observed") +
                  " tool=" + hit.tool + " id=" + dump(hit.id) + " at " + hit.decision.detail});
  }
  return inspection;
}

asio::awaitable<bool> McpExchange::write_chunk(const std::string& data, bool chunked) {
  if (data.empty()) co_return true;
  client_.expires_after(gw_.cfg.gateway.idle_timeout);
  if (!chunked) {
    auto [ec, n] = co_await asio::async_write(client_, asio::buffer(data), kTuple);
    co_return !ec;
  }
  auto [ec, n] = co_await asio::async_write(client_, http::make_chunk(asio::buffer(data)), kTuple);
  co_return !ec;
}

asio::awaitable<bool> McpExchange::reply(unsigned status, std::string body,
                                         const http::fields& headers) {
  count(status);
  HttpResponse res{static_cast<http::status>(status), req_.version() ? req_.version() : 11u};
  for (const auto& field : headers) res.insert(field.name_string(), field.value());
  res.set(http::field::server, std::string("sallyport/") + std::string(kVersion));
  res.body() = std::move(body);
  res.keep_alive(req_.keep_alive() && !gw_.stopping.load());
  res.prepare_payload();
  client_.expires_after(gw_.cfg.gateway.idle_timeout);
  auto [ec, n] = co_await http::async_write(client_, res, kTuple);
  co_return !ec && res.keep_alive();
}

asio::awaitable<bool> McpExchange::reply_json(unsigned status, const json& body) {
  http::fields headers;
  headers.set(http::field::content_type, "application/json");
  // A session the server already knows stays usable after a local answer.
  if (const auto sid = req_["mcp-session-id"]; !sid.empty()) headers.set("mcp-session-id", sid);
  std::string text = dump(body) + "\n";
  co_return co_await reply(status, std::move(text), headers);
}

asio::awaitable<bool> McpExchange::upstream_failure(std::string_view kind,
                                                    std::string_view detail) {
  const auto& name = server_.config.name;
  const bool timeout = kind == "first_byte_timeout" || kind == "idle_timeout";
  mcp_.metrics().upstream_errors.Add({{"server", name}, {"kind", std::string(kind)}}).Increment();
  log::warn("mcp", "MCP server failed", {{"server", name}, {"kind", kind}, {"detail", detail}});
  gw_.emit({"mcp",
            "deny",
            "upstream:" + std::string(kind),
            {},
            name,
            {},
            0,
            0,
            timeout ? 504 : 502,
            std::string(detail)});
  std::string message =
      "sallyport: MCP server '" + name + "' " +
      (timeout ? "did not answer in time" : "could not be reached or answered badly");
  if (kind == "egress_denied")
    message = "sallyport: MCP server '" + name + "' address denied by egress policy";
  if (kind == "tls") message = "sallyport: MCP server '" + name + "' TLS verification failed";
  if (kind == "credential" || kind == "config")
    message = "sallyport: MCP server '" + name + "': " + std::string(detail);
  json id = nullptr;
  if (!batch_ && messages_.size() == 1 && messages_[0].is_object() && messages_[0].contains("id"))
    id = messages_[0]["id"];
  const auto error = mcp::jsonrpc_error(id, mcp::kUpstreamFailed, message);
  co_return co_await reply_json(timeout ? 504 : 502, error);
}

void McpExchange::count(unsigned status) {
  if (counted_) return;
  counted_ = true;
  mcp_.metrics()
      .requests
      .Add({{"server", server_.config.name},
            {"method", std::string(req_.method_string())},
            {"status", std::to_string(status)}})
      .Increment();
}

}  // namespace sallyport::router
