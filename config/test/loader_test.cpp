#include "config/loader.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <fstream>
#include <unistd.h>

namespace sallyport::config {
namespace {

const std::string kDir = SALLYPORT_CONFIG_DIR;

TEST(ConfigLoader, EmbeddedDefaultLoadsAndHasNoSecretsOrNetwork) {
  const auto r = load_default_config();
  ASSERT_TRUE(r.ok()) << (r.errors.empty() ? "" : r.errors[0].to_string());
  const auto& c = *r.config;
  EXPECT_EQ(c.listeners.proxy, "127.0.0.1:3128");
  EXPECT_EQ(c.listeners.gateway, "127.0.0.1:8080");
  EXPECT_EQ(c.listeners.admin, "127.0.0.1:8787");
  EXPECT_TRUE(c.providers.empty());
  ASSERT_EQ(c.egress.feeds.size(), 1u);
  EXPECT_EQ(c.egress.feeds[0].builtin, "default");
  EXPECT_TRUE(c.egress.feeds[0].url.empty());
  EXPECT_EQ(c.egress.bare_ip, "deny");
  EXPECT_EQ(c.egress.mode, "enforce");
}

TEST(ConfigLoader, EmbeddedDefaultEqualsDefaultJsonFile) {
  std::ifstream in(kDir + "/default.json");
  const std::string file((std::istreambuf_iterator<char>(in)), {});
  EXPECT_EQ(file, std::string(default_config_json()));
}

TEST(ConfigLoader, McpServersLoadAndRoundTrip) {
  const auto r = load_config_file(kDir + "/test/good/mcp_servers.json");
  ASSERT_TRUE(r.ok()) << (r.errors.empty() ? "" : r.errors[0].to_string());
  const auto& servers = r.config->mcp_servers;
  ASSERT_EQ(servers.size(), 2u);
  EXPECT_EQ(servers[0].name, "github");
  EXPECT_EQ(servers[0].auth->describe(), "env:GITHUB_MCP_TOKEN");
  EXPECT_EQ(servers[0].timeout, std::chrono::minutes(2));
  ASSERT_EQ(servers[1].headers.size(), 1u);
  EXPECT_EQ(servers[1].headers[0].first, "X-Api-Key");
  EXPECT_EQ(servers[1].headers[0].second.describe(), "file:/run/secrets/tools-key");
  EXPECT_EQ(servers[1].timeout, std::chrono::seconds(60));
  EXPECT_TRUE(load_default_config().config->mcp_servers.empty());
  const auto again = parse_config(to_masked_json(*r.config).dump(), "round-trip");
  ASSERT_TRUE(again.ok()) << (again.errors.empty() ? "" : again.errors[0].to_string());
  EXPECT_EQ(to_masked_json(*again.config), to_masked_json(*r.config));
}

TEST(ConfigLoader, FullConfigLoads) {
  const auto r = load_config_file(kDir + "/test/good/full.json");
  ASSERT_TRUE(r.ok()) << (r.errors.empty() ? "" : r.errors[0].to_string());
  const auto& c = *r.config;
  EXPECT_EQ(c.providers.size(), 3u);
  EXPECT_EQ(c.providers[1].api_version, "2024-10-21");
  EXPECT_EQ(c.egress.refresh, std::chrono::hours(6));
  EXPECT_EQ(c.egress.limits.tunnel_lifetime, std::chrono::hours(1));
  EXPECT_EQ(c.audit.sinks.size(), 2u);
  EXPECT_EQ(c.audit.sinks[0].transport, "tls");
  EXPECT_EQ(c.budgets.over_max_tokens, "clamp");
  EXPECT_EQ(c.log.format, "text");
  ASSERT_TRUE(c.admin.token.has_value());
  EXPECT_EQ(c.admin.token->describe(), "file:/run/secrets/sallyport-admin-token");
  EXPECT_EQ(c.policy.approvals.timeout, std::chrono::minutes(2));
  ASSERT_TRUE(c.policy.approvals.webhook.has_value());
  EXPECT_EQ(c.policy.approvals.webhook->url, "https://hooks.example/sallyport/approvals");
  EXPECT_EQ(c.policy.approvals.webhook->token->describe(), "env:APPROVAL_HOOK_TOKEN");
  EXPECT_EQ(c.policy.approvals.webhook->retries, 2u);
  EXPECT_EQ(c.kernel_guard.agent_cgroup, "/sys/fs/cgroup/kubepods.slice/pod-agent-0");
  // The full config survives the masked round trip (the webhook token stays a reference).
  const auto again = parse_config(to_masked_json(c).dump(), "round-trip");
  ASSERT_TRUE(again.ok()) << (again.errors.empty() ? "" : again.errors[0].to_string());
  EXPECT_EQ(to_masked_json(*again.config), to_masked_json(c));
}

TEST(ConfigLoader, MaskedJsonRoundTripsAndHoldsNoSecretValues) {
  ::setenv("SALLYPORT_TEST_OPENAI_KEY", "sk-proj-THISMUSTNOTLEAK1234567", 1);
  const auto r = parse_config(R"({"providers": [{"name": "o", "kind": "openai",
      "base_url": "https://api.openai.com/v1", "api_key": {"env": "SALLYPORT_TEST_OPENAI_KEY"}}]})",
                              "inline");
  ASSERT_TRUE(r.ok());
  const auto masked = to_masked_json(*r.config);
  const std::string dumped = masked.dump();
  EXPECT_EQ(dumped.find("THISMUSTNOTLEAK"), std::string::npos);
  EXPECT_NE(dumped.find("SALLYPORT_TEST_OPENAI_KEY"), std::string::npos);
  const auto again = parse_config(dumped, "round-trip");
  ASSERT_TRUE(again.ok()) << (again.errors.empty() ? "" : again.errors[0].to_string());
  EXPECT_EQ(to_masked_json(*again.config), masked);
}

struct BadCase {
  const char* file;
  const char* pointer;  // the error must name this JSON pointer
  const char* words;    // and say this about what is expected
};

class BadConfig : public ::testing::TestWithParam<BadCase> {};

TEST_P(BadConfig, RejectedWithPointerAndExpectation) {
  const auto& c = GetParam();
  const auto r = load_config_file(kDir + "/test/bad/" + c.file);
  ASSERT_FALSE(r.ok()) << c.file << " was accepted";
  bool found = false;
  std::string all;
  for (const auto& e : r.errors) {
    all += e.to_string() + "\n";
    if (e.pointer == c.pointer && e.message.find(c.words) != std::string::npos) found = true;
  }
  EXPECT_TRUE(found) << c.file << " errors were:\n" << all;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, BadConfig,
    ::testing::Values(
        BadCase{"unknown_nested_key.json", "/egress/bogus", "unknown key"},
        BadCase{"unknown_top_key.json", "/listenerz", "unknown key"},
        BadCase{"listener_without_port.json", "/listeners/proxy", "host:port"},
        BadCase{"listener_port_out_of_range.json", "/listeners/proxy", "host:port"},
        BadCase{"connect_port_zero.json", "/egress/connect_ports/0", "1 to 65535"},
        BadCase{"connect_ports_not_array.json", "/egress/connect_ports", "array of ports"},
        BadCase{"bare_ip_bad_enum.json", "/egress/bare_ip", "\"allow_cidrs\""},
        BadCase{"refresh_not_duration.json", "/egress/refresh", "duration"},
        BadCase{"refresh_too_short.json", "/egress/refresh", "from 1m"},
        BadCase{"feed_without_source.json", "/egress/feeds/0", "exactly one of"},
        BadCase{"feed_two_sources.json", "/egress/feeds/0", "exactly one of"},
        BadCase{"feed_bad_url.json", "/egress/feeds/0/url", "https://"},
        BadCase{"egress_mode_open.json", "/egress/mode", "\"report\""},
        BadCase{"provider_inline_key.json", "/providers/0/api_key", "never written inline"},
        BadCase{"provider_bad_kind.json", "/providers/0/kind", "\"anthropic\""},
        BadCase{"azure_without_api_version.json", "/providers/0/api_version", "azure_openai"},
        BadCase{"budget_negative.json", "/budgets/daily_tokens", "integer"},
        BadCase{"budget_request_over_daily.json", "/budgets/per_request_tokens", "daily_tokens"},
        BadCase{"rpm_zero.json", "/rate_limits/rpm", "from 1"},
        BadCase{"safety_bad_floor.json", "/safety/floor", "\"medium\""},
        BadCase{"trust_threshold_over_1000.json", "/trust/threshold", "to 1000"},
        BadCase{"audit_fsync_bad.json", "/audit/fsync", "\"group\""},
        BadCase{"syslog_sink_without_address.json", "/audit/sinks/0/address", "host:port"},
        BadCase{"admin_token_inline.json", "/admin/token", "{\"env\""},
        BadCase{"log_level_bad.json", "/log/level", "\"debug\""},
        BadCase{"kernel_uid_negative.json", "/kernel_guard/agent_uids/0", "UID"},
        BadCase{"document_not_object.json", "", "expected an object"},
        BadCase{"truncated_json.json", "", "invalid JSON"},
        BadCase{"redis_without_url.json", "/state_backend/url", "redis://"},
        BadCase{"require_sni_string.json", "/egress/require_sni", "true or false"},
        BadCase{"approval_webhook_userinfo.json", "/policy/approvals/webhook/url", "without user:password"},
        BadCase{"approval_webhook_without_url.json", "/policy/approvals/webhook/url", "required"},
        BadCase{"approval_webhook_token_inline.json", "/policy/approvals/webhook/token", "never written inline"},
        BadCase{"kernel_agent_cgroup_relative.json", "/kernel_guard/agent_cgroup", "absolute cgroup v2"},
        BadCase{"mcp_server_inline_auth.json", "/mcp_servers/0/auth", "never written inline"},
        BadCase{"mcp_server_bad_name.json", "/mcp_servers/0/name", "[A-Za-z0-9_.-]"},
        BadCase{"mcp_server_reserved_header.json", "/mcp_servers/0/headers/Mcp-Session-Id", "header name"},
        BadCase{"mcp_server_plain_http.json", "/mcp_servers/0/url", "loopback"}),
    [](const auto& info) {
      std::string name = info.param.file;
      return name.substr(0, name.find('.'));
    });

TEST(ConfigLoader, ReportsEveryErrorNotOnlyTheFirst) {
  const auto r = parse_config(R"({"log": {"level": "x", "format": "y"}, "nope": 1})", "inline");
  EXPECT_EQ(r.errors.size(), 3u);
}

TEST(ConfigLoader, MissingFileIsAClearError) {
  const auto r = load_config_file("/nonexistent/sallyport.json");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.errors[0].message.find("/nonexistent/sallyport.json"), std::string::npos);
}

TEST(ConfigLoader, DirectoryIsNotAConfig) {
  const auto r = load_config_file("/tmp");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.errors[0].message.find("regular file"), std::string::npos);
}

TEST(Secrets, ResolveFromEnvAndFile) {
  ::setenv("SALLYPORT_TEST_SECRET", "s3cret", 1);
  EXPECT_EQ(resolve_secret({SecretRef::Kind::env, "SALLYPORT_TEST_SECRET"}).value, "s3cret");
  EXPECT_FALSE(resolve_secret({SecretRef::Kind::env, "SALLYPORT_TEST_UNSET_X"}).value);
  char path[] = "/tmp/sallyport-secret-XXXXXX";
  const int fd = ::mkstemp(path);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::write(fd, "tok-123\n", 8), 8);
  ::close(fd);
  const auto v = resolve_secret({SecretRef::Kind::file, path});
  EXPECT_EQ(v.value, "tok-123");
  ::unlink(path);
  const auto missing = resolve_secret({SecretRef::Kind::file, path});
  EXPECT_FALSE(missing.value);
  EXPECT_NE(missing.error.find(path), std::string::npos);
}

TEST(Durations, ParseAndFormat) {
  EXPECT_EQ(parse_duration("500ms"), std::chrono::milliseconds(500));
  EXPECT_EQ(parse_duration("6h"), std::chrono::hours(6));
  EXPECT_EQ(parse_duration("1d"), std::chrono::hours(24));
  EXPECT_FALSE(parse_duration("6"));
  EXPECT_FALSE(parse_duration("h"));
  EXPECT_FALSE(parse_duration("-5s"));
  EXPECT_FALSE(parse_duration("5 s"));
  EXPECT_EQ(format_duration(std::chrono::hours(6)), "6h");
  EXPECT_EQ(format_duration(std::chrono::milliseconds(1500)), "1500ms");
}

}  // namespace
}  // namespace sallyport::config
