#pragma once
// HTTP side of the MCP gateway (Streamable HTTP transport, MCP 2025-03-26 / 2025-06-18) as pure
// functions: which configured server a path names, which headers cross in each direction, and
// the event-by-event rewrite of a server's SSE stream. No sockets: router/mcp_gateway.cpp does
// the I/O; the JSON-RPC policy lives in governance/mcp_policy.hpp.
//
// Headers agent -> server: everything except credentials (Authorization, Cookie, api keys,
// Proxy-*), hop-by-hop and framing headers, Host, Accept-Encoding (sallyport reads the body) and
// sallyport's own x-sallyport-*; Mcp-Session-Id, MCP-Protocol-Version, Last-Event-ID and Accept
// pass unchanged. Then the server's configured credentials are set.
// Headers server -> agent: Content-Type, Mcp-Session-Id, MCP-Protocol-Version, Allow,
// Retry-After only (no Set-Cookie, no WWW-Authenticate: the server's auth is sallyport's).
#include "governance/mcp_policy.hpp"
#include "governance/sse.hpp"

#include <boost/beast/http/fields.hpp>
#include <nlohmann/json.hpp>

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sallyport::router {

inline constexpr std::string_view kMcpPathPrefix = "/mcp/";

bool is_mcp_target(std::string_view target) noexcept;

struct McpTarget {
  std::string server;  // the <name> segment
  std::string query;   // after '?', without it ("" when absent)
};

// "/mcp/<name>" or "/mcp/<name>?query"; nullopt for anything else (extra segments, empty name,
// percent escapes, characters outside [A-Za-z0-9_.-]).
std::optional<McpTarget> parse_mcp_target(std::string_view target);

// Resolved credentials for one server: (header name, value) pairs, Authorization included.
using McpCredentialHeaders = std::vector<std::pair<std::string, std::string>>;

void build_mcp_upstream_headers(const boost::beast::http::fields& agent,
                                const McpCredentialHeaders& credentials,
                                boost::beast::http::fields& out);

void copy_mcp_response_headers(const boost::beast::http::fields& upstream,
                               boost::beast::http::fields& out);

// One SSE block with its data replaced by `data` (one line; JSON has no raw newlines): every
// other line of the original block (event:, id:, retry:, comments) is kept in place.
std::string rewrite_sse_block(const governance::SseEvent& event, std::string_view data);

// "event: message\ndata: <json>\n\n" for a message sallyport itself adds to a stream.
std::string sse_message_block(const nlohmann::json& message);

// Rewrites a server's SSE stream event by event: data that parses as JSON-RPC (within the depth
// limit) goes through `inspect`; changed payloads are re-serialised, everything else is
// forwarded byte for byte. A parser limit error (line or event too long) ends the stream.
class McpSseRewriter {
 public:
  using Inspect = std::function<governance::mcp::ServerInspection(nlohmann::json&)>;
  McpSseRewriter(Inspect inspect, governance::SseLimits limits,
                 governance::mcp::McpLimits json_limits);

  // Appends the bytes for the agent to `out`; false once a limit was crossed (stop reading).
  bool feed(std::string_view chunk, std::string& out);
  void finish(std::string& out);  // end of stream: a cut-off last event is dropped
  const std::optional<governance::SseError>& error() const { return error_; }
  std::size_t events() const { return events_; }

 private:
  Inspect inspect_;
  governance::SseParser parser_;
  governance::mcp::McpLimits json_limits_;
  std::vector<governance::SseEvent> pending_;
  std::optional<governance::SseError> error_;
  std::size_t events_ = 0;
};

}  // namespace sallyport::router
