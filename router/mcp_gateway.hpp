#pragma once
// MCP gateway on the inference gateway's listener (:8080): every configured MCP server
// (config mcp_servers) is exposed at /mcp/<name> with the Streamable HTTP transport.
//
//   POST /mcp/<name>    JSON-RPC message or batch -> tools/call checked (policy, min_trust,
//                       require_approval held until decided) -> forwarded with the server's
//                       credentials -> the answer (application/json or text/event-stream) is
//                       inspected (tools/list filtered, tools/call results shield-scanned).
//                       Notifications and client responses pass through (the server's 202).
//   GET /mcp/<name>     the server -> client SSE stream, inspected the same way.
//   DELETE /mcp/<name>  ends the session (passed through).
// Mcp-Session-Id, MCP-Protocol-Version and Last-Event-ID pass unchanged in both directions.
// Every tools/call is an audit event (kind "mcp") and a metric. Limits: the gateway's body limit
// on requests, JSON depth 64, SSE line 1 MiB / event 8 MiB, non-streamed answers 16 MiB.
// Protocol logic: governance/mcp_policy.hpp (JSON-RPC) and router/mcp_protocol.hpp (HTTP/SSE).
#include "config/config.hpp"
#include "router/gateway_routes.hpp"
#include "router/http_server.hpp"
#include "router/mcp_protocol.hpp"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/registry.h>
#include <boost/asio/awaitable.hpp>
#include <boost/beast/core/tcp_stream.hpp>

#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace sallyport::router {

struct McpMetrics {
  explicit McpMetrics(prometheus::Registry& registry);
  prometheus::Family<prometheus::Counter>& requests;         // {server,method,status}
  prometheus::Family<prometheus::Counter>& calls;            // {server,decision,reason}
  prometheus::Family<prometheus::Counter>& tools_hidden;     // {server}
  prometheus::Family<prometheus::Counter>& shield;           // {server,decision}
  prometheus::Family<prometheus::Counter>& upstream_errors;  // {server,kind}
};

// One configured server, its URL checked once at start (http:// only for loopback).
struct McpUpstream {
  config::McpServer config;
  std::optional<BaseUrl> url;
  std::string url_error;
};

class McpGateway {
 public:
  McpGateway(const config::Config& cfg, prometheus::Registry& registry);

  const McpUpstream* find(std::string_view name) const;
  McpMetrics& metrics() { return metrics_; }

  struct Credentials {
    std::optional<McpCredentialHeaders> headers;
    std::string error;  // names the secret reference, never a value
  };
  // Resolved from env/file, cached for a minute (file-mounted secrets rotate).
  Credentials credentials(const McpUpstream& server);

 private:
  std::map<std::string, McpUpstream, std::less<>> servers_;
  McpMetrics metrics_;
  std::mutex mutex_;
  std::map<std::string, std::pair<McpCredentialHeaders, std::chrono::steady_clock::time_point>>
      cache_;
};

}  // namespace sallyport::router
