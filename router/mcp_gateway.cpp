// GCC 12 reports a false -Wmismatched-new-delete on Asio coroutine frames (the awaitable frame's
// operator new/delete pair is Asio's own recycling allocator).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
#include "router/mcp_gateway.hpp"

#include "common/log.hpp"
#include "config/loader.hpp"
#include "router/mcp_exchange.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/write.hpp>

namespace sallyport::router {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
constexpr std::chrono::seconds kCredentialTtl{60};

prometheus::Family<prometheus::Counter>& counter(prometheus::Registry& registry, const char* name,
                                                 const char* help) {
  return prometheus::BuildCounter().Name(name).Help(help).Register(registry);
}

// Answers that come before any server is involved (unknown server, bad path).
asio::awaitable<bool> reply_early(beast::tcp_stream& client, const HttpRequest& req,
                                  unsigned status, std::string_view message,
                                  std::chrono::milliseconds timeout) {
  auto res = make_response(
      req, status,
      governance::mcp::jsonrpc_error(nullptr, governance::mcp::kInvalidRequest, message).dump() +
          "\n",
      "application/json");
  if (status == 405) res.set(http::field::allow, "GET, POST, DELETE");
  res.keep_alive(req.keep_alive());
  res.prepare_payload();
  client.expires_after(timeout);
  auto [ec, n] = co_await http::async_write(client, res, kTuple);
  co_return !ec && res.keep_alive();
}

}  // namespace

McpMetrics::McpMetrics(prometheus::Registry& registry)
    : requests(counter(registry, "sallyport_mcp_requests_total",
                       "MCP gateway HTTP requests by server, HTTP method and answer status.")),
      calls(counter(registry, "sallyport_mcp_calls_total",
                    "MCP tools/call requests by server, decision and reason.")),
      tools_hidden(counter(registry, "sallyport_mcp_tools_hidden_total",
                           "Tools removed from MCP tools/list results by the tool policy.")),
      shield(counter(registry, "sallyport_mcp_shield_total",
                     "MCP tool results the prompt shield matched, by server and decision "
                     "(withheld in enforce mode, observed otherwise).")),
      upstream_errors(counter(registry, "sallyport_mcp_upstream_errors_total",
                              "MCP server failures by server and kind.")) {}

McpGateway::McpGateway(const config::Config& cfg, prometheus::Registry& registry)
    : metrics_(registry) {
  for (const auto& server : cfg.mcp_servers) {
    McpUpstream upstream{server, std::nullopt, {}};
    auto parsed = parse_base_url(server.url);
    if (parsed.url) {
      upstream.url = std::move(parsed.url);
    } else {
      upstream.url_error = parsed.error;
      log::error("mcp", "MCP server url rejected; requests for it answer 502",
                 {{"server", server.name}, {"error", parsed.error}});
    }
    servers_.emplace(server.name, std::move(upstream));
  }
}

const McpUpstream* McpGateway::find(std::string_view name) const {
  const auto it = servers_.find(name);
  return it == servers_.end() ? nullptr : &it->second;
}

McpGateway::Credentials McpGateway::credentials(const McpUpstream& server) {
  const auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard lock(mutex_);
    if (auto it = cache_.find(server.config.name);
        it != cache_.end() && now - it->second.second < kCredentialTtl) {
      return {it->second.first, {}};
    }
  }
  McpCredentialHeaders headers;
  const auto resolve = [&](const config::SecretRef& ref, const std::string& header,
                           const std::string& prefix) {
    auto secret = config::resolve_secret(ref);
    if (!secret.value || secret.value->empty()) return false;
    headers.emplace_back(header, prefix + *secret.value);
    return true;
  };
  if (server.config.auth && !resolve(*server.config.auth, "Authorization", "Bearer ")) {
    return {std::nullopt, "auth " + server.config.auth->describe() + " is unavailable"};
  }
  for (const auto& [name, ref] : server.config.headers) {
    if (!resolve(ref, name, ""))
      return {std::nullopt, "header " + name + " " + ref.describe() + " is unavailable"};
  }
  std::lock_guard lock(mutex_);
  cache_[server.config.name] = {headers, now};
  return {std::move(headers), {}};
}

asio::awaitable<bool> handle_mcp_request(InferenceGateway::Impl& gw, beast::tcp_stream& client,
                                         HttpRequest& request) {
  const auto timeout = gw.cfg.gateway.idle_timeout;
  const auto target = parse_mcp_target(request.target());
  const McpUpstream* server = target && gw.mcp ? gw.mcp->find(target->server) : nullptr;
  if (!server) {
    if (gw.mcp)
      gw.mcp->metrics()
          .requests
          .Add({{"server", "unknown"},
                {"method", std::string(request.method_string())},
                {"status", "404"}})
          .Increment();
    co_return co_await reply_early(
        client, request, 404,
        "sallyport: no MCP server is configured under this path (see mcp_servers)", timeout);
  }
  const auto method = request.method();
  if (method != http::verb::post && method != http::verb::get && method != http::verb::delete_) {
    gw.mcp->metrics()
        .requests.Add({{"server", server->config.name}, {"method", "other"}, {"status", "405"}})
        .Increment();
    co_return co_await reply_early(client, request, 405,
                                   "sallyport: MCP endpoints accept GET, POST and DELETE", timeout);
  }
  McpExchange exchange(gw, *gw.mcp, *server, client, request, target->query);
  co_return co_await exchange.run();
}

}  // namespace sallyport::router
