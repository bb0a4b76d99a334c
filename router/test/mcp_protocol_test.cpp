#include "router/mcp_protocol.hpp"

#include <gtest/gtest.h>
#include <boost/beast/http/fields.hpp>

#include <string>

namespace sallyport::router {
namespace {

namespace http = boost::beast::http;
namespace mcp = governance::mcp;
using nlohmann::json;

TEST(McpTarget, OnlyConfiguredShapeIsAccepted) {
  auto t = parse_mcp_target("/mcp/tools");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->server, "tools");
  EXPECT_EQ(t->query, "");
  t = parse_mcp_target("/mcp/git-hub.v2?x=1");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->server, "git-hub.v2");
  EXPECT_EQ(t->query, "x=1");
  EXPECT_FALSE(parse_mcp_target("/mcp/"));
  EXPECT_FALSE(parse_mcp_target("/mcp/a/b"));
  EXPECT_FALSE(parse_mcp_target("/mcp/%2e%2e"));
  EXPECT_FALSE(parse_mcp_target("/mcp/a b"));
  EXPECT_FALSE(parse_mcp_target("/v1/chat/completions"));
  EXPECT_TRUE(is_mcp_target("/mcp/x"));
  EXPECT_TRUE(is_mcp_target("/mcp"));
  EXPECT_FALSE(is_mcp_target("/v1/models"));
}

TEST(McpHeaders, AgentCredentialsDroppedServerCredentialsSetSessionPassed) {
  http::fields agent;
  agent.set(http::field::authorization, "Bearer agent-dummy");
  agent.set(http::field::cookie, "sid=1");
  agent.set("Mcp-Session-Id", "sess-123");
  agent.set("MCP-Protocol-Version", "2025-06-18");
  agent.set("Last-Event-ID", "ev-7");
  agent.set(http::field::accept, "application/json, text/event-stream");
  agent.set(http::field::host, "127.0.0.1:8080");
  agent.set(http::field::accept_encoding, "gzip");
  agent.set("X-Sallyport-Trace", "x");
  agent.set("Proxy-Authorization", "Basic x");
  http::fields out;
  build_mcp_upstream_headers(agent, {{"Authorization", "Bearer real-token"}, {"X-Api-Key", "k1"}},
                             out);
  EXPECT_EQ(out[http::field::authorization], "Bearer real-token");
  EXPECT_EQ(out["X-Api-Key"], "k1");
  EXPECT_EQ(out["Mcp-Session-Id"], "sess-123");
  EXPECT_EQ(out["MCP-Protocol-Version"], "2025-06-18");
  EXPECT_EQ(out["Last-Event-ID"], "ev-7");
  EXPECT_EQ(out[http::field::accept], "application/json, text/event-stream");
  EXPECT_EQ(out[http::field::accept_encoding], "identity");
  EXPECT_EQ(out.count(http::field::cookie), 0u);
  EXPECT_EQ(out.count(http::field::host), 0u);
  EXPECT_EQ(out.count("X-Sallyport-Trace"), 0u);
  EXPECT_EQ(out.count("Proxy-Authorization"), 0u);
  EXPECT_EQ(out.count(http::field::authorization), 1u);

  http::fields no_creds;
  build_mcp_upstream_headers(agent, {}, no_creds);
  EXPECT_EQ(no_creds.count(http::field::authorization), 0u);
}

TEST(McpHeaders, OnlyProtocolHeadersComeBack) {
  http::fields upstream;
  upstream.set(http::field::content_type, "text/event-stream");
  upstream.set("mcp-session-id", "sess-9");
  upstream.set(http::field::set_cookie, "a=b");
  upstream.set(http::field::www_authenticate, "Bearer realm=x");
  http::fields out;
  copy_mcp_response_headers(upstream, out);
  EXPECT_EQ(out["mcp-session-id"], "sess-9");
  EXPECT_EQ(out[http::field::content_type], "text/event-stream");
  EXPECT_EQ(out.count(http::field::set_cookie), 0u);
  EXPECT_EQ(out.count(http::field::www_authenticate), 0u);
}

TEST(McpSse, RewriteKeepsEventAndIdLines) {
  governance::SseEvent e;
  e.raw = "event: message\r\nid: 42\r\ndata: {\"a\":\r\ndata: 1}\r\n\r\n";
  EXPECT_EQ(rewrite_sse_block(e, R"({"b":2})"), "event: message\nid: 42\ndata: {\"b\":2}\n\n");
  EXPECT_EQ(sse_message_block(json{{"x", 1}}), "event: message\ndata: {\"x\":1}\n\n");
}

std::shared_ptr<const governance::ToolPolicy> deny_shell() {
  return governance::parse_tool_policy(
             R"({"version":1,"default":"allow","rules":[{"name":"no-shell","tool":"shell","action":"deny"}]})")
      .policy;
}

// Feeds `stream` in every split into two chunks; all splits must give the same output.
std::string rewrite_all_splits(const std::string& stream, const McpSseRewriter::Inspect& inspect) {
  std::string first;
  for (std::size_t cut = 0; cut <= stream.size(); ++cut) {
    McpSseRewriter rewriter(inspect, {}, {});
    std::string out;
    rewriter.feed(stream.substr(0, cut), out);
    rewriter.feed(stream.substr(cut), out);
    rewriter.finish(out);
    if (cut == 0) first = out;
    EXPECT_EQ(out, first) << "split at " << cut;
  }
  return first;
}

TEST(McpSse, ToolsListInStreamIsFilteredAtAnySplit) {
  const auto policy = deny_shell();
  const McpSseRewriter::Inspect inspect = [&](json& payload) {
    mcp::ServerInspectOptions o;
    o.policy = policy.get();
    return mcp::inspect_server_payload(payload, o);
  };
  const std::string stream =
      ": keep-alive\n\n"
      "event: message\nid: 1\ndata: "
      "{\"jsonrpc\":\"2.0\",\"id\":2,\"result\":{\"tools\":[{\"name\":\"shell\"},{\"name\":\"read_"
      "file\"}]}}\n\n"
      "data: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":{}}\n\n";
  const auto out = rewrite_all_splits(stream, inspect);
  EXPECT_EQ(out.find("shell"), std::string::npos) << out;
  EXPECT_NE(out.find("read_file"), std::string::npos);
  EXPECT_NE(out.find("id: 1\n"), std::string::npos);
  EXPECT_NE(out.find(": keep-alive\n\n"), std::string::npos);
  EXPECT_NE(out.find("notifications/progress"), std::string::npos);
}

TEST(McpSse, UnchangedEventsAreForwardedByteForByte) {
  const std::string stream =
      "event: message\r\ndata: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}\r\n\r\ndata: not "
      "json\n\n";
  McpSseRewriter rewriter([](json& p) { return mcp::inspect_server_payload(p, {}); }, {}, {});
  std::string out;
  EXPECT_TRUE(rewriter.feed(stream, out));
  EXPECT_EQ(out, stream);
}

TEST(McpSse, LimitsEndTheStream) {
  McpSseRewriter small([](json& p) { return mcp::inspect_server_payload(p, {}); },
                       governance::SseLimits{64, 1024}, {});
  std::string out;
  EXPECT_FALSE(small.feed("data: " + std::string(100, 'x') + "\n\n", out));
  ASSERT_TRUE(small.error());
  EXPECT_TRUE(out.empty());

  McpSseRewriter deep([](json& p) { return mcp::inspect_server_payload(p, {}); }, {}, {});
  out.clear();
  EXPECT_FALSE(deep.feed("data: " + std::string(100, '[') + std::string(100, ']') + "\n\n", out));
  EXPECT_TRUE(out.empty()) << "a payload too deep to inspect is never forwarded";
}

}  // namespace
}  // namespace sallyport::router
