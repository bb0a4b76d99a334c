// Gateway routing, provider selection, base_url rules and key injection.
#include "router/gateway_routes.hpp"

#include <boost/beast/http/fields.hpp>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace sallyport::router {
namespace {

namespace http = boost::beast::http;
using governance::ApiFlavor;

config::Provider provider(std::string name, std::string kind, std::vector<std::string> models,
                          std::string base = "https://api.example.com") {
  config::Provider p;
  p.name = std::move(name);
  p.kind = std::move(kind);
  p.base_url = std::move(base);
  p.models = std::move(models);
  p.api_key = config::SecretRef{config::SecretRef::Kind::env, "KEY"};
  return p;
}

TEST(GatewayRoutes, MatchesEachApi) {
  struct Case {
    http::verb verb;
    std::string target;
    std::optional<GatewayRoute> route;
    int status;
    ApiFlavor flavor;
  };
  const std::vector<Case> cases{
      {http::verb::post, "/v1/chat/completions", GatewayRoute::chat_completions, 0, ApiFlavor::openai},
      {http::verb::post, "/v1/responses", GatewayRoute::responses, 0, ApiFlavor::openai},
      {http::verb::post, "/v1/embeddings", GatewayRoute::embeddings, 0, ApiFlavor::openai},
      {http::verb::get, "/v1/models", GatewayRoute::models, 0, ApiFlavor::openai},
      {http::verb::post, "/v1/messages", GatewayRoute::anthropic_messages, 0, ApiFlavor::anthropic},
      {http::verb::post, "/openai/deployments/gpt4o/chat/completions?api-version=2024-10-21",
       GatewayRoute::azure_chat, 0, ApiFlavor::openai},
      {http::verb::get, "/v1/chat/completions", std::nullopt, 405, ApiFlavor::openai},
      {http::verb::get, "/v1/messages", std::nullopt, 405, ApiFlavor::anthropic},
      {http::verb::post, "/v1/unknown", std::nullopt, 404, ApiFlavor::openai},
      {http::verb::post, "/openai/deployments//chat/completions", std::nullopt, 404, ApiFlavor::openai},
      {http::verb::post, "/openai/deployments/a%2Fb/chat/completions", std::nullopt, 404, ApiFlavor::openai},
  };
  for (const auto& c : cases) {
    const auto lookup = match_route(c.verb, c.target);
    SCOPED_TRACE(c.target);
    ASSERT_EQ(lookup.match.has_value(), c.route.has_value());
    if (c.route) {
      EXPECT_EQ(lookup.match->route, *c.route);
      EXPECT_EQ(lookup.match->flavor, c.flavor);
    } else {
      EXPECT_EQ(lookup.status, c.status);
      EXPECT_EQ(lookup.flavor, c.flavor);
    }
  }
}

TEST(GatewayRoutes, AzureDeploymentAndVersionAreDecoded) {
  const auto lookup = match_route(http::verb::post,
                                  "/openai/deployments/my%20dep/chat/completions?x=1&api-version=2024-06-01");
  ASSERT_TRUE(lookup.match);
  EXPECT_EQ(lookup.match->deployment, "my dep");
  EXPECT_EQ(lookup.match->api_version, "2024-06-01");
}

TEST(GatewayRoutes, GlobMatching) {
  EXPECT_TRUE(glob_match("gpt-*", "gpt-4o"));
  EXPECT_TRUE(glob_match("*", ""));
  EXPECT_TRUE(glob_match("claude-?-*", "claude-3-opus"));
  EXPECT_FALSE(glob_match("gpt-*", "xgpt-4"));
  EXPECT_FALSE(glob_match("gpt-4", "gpt-4o"));
  EXPECT_TRUE(glob_match("*-mini", "gpt-4o-mini"));
}

TEST(GatewayRoutes, FirstMatchingProviderOfTheRightKindWins) {
  const std::vector<config::Provider> providers{
      provider("anthropic", "anthropic", {"claude-*"}),
      provider("azure", "azure_openai", {"gpt-4o"}),
      provider("openai", "openai", {"gpt-*", "o1*"}),
  };
  RouteMatch chat{GatewayRoute::chat_completions, ApiFlavor::openai, {}, {}};
  EXPECT_EQ(select_provider(providers, chat, "gpt-4o")->name, "azure");
  EXPECT_EQ(select_provider(providers, chat, "gpt-4o-mini")->name, "openai");
  EXPECT_EQ(select_provider(providers, chat, "claude-3"), nullptr);  // wrong API for anthropic
  RouteMatch messages{GatewayRoute::anthropic_messages, ApiFlavor::anthropic, {}, {}};
  EXPECT_EQ(select_provider(providers, messages, "claude-3")->name, "anthropic");
  EXPECT_EQ(select_provider(providers, messages, "gpt-4o"), nullptr);
  RouteMatch responses{GatewayRoute::responses, ApiFlavor::openai, {}, {}};
  EXPECT_EQ(select_provider(providers, responses, "gpt-4o")->name, "openai");
  EXPECT_EQ(select_provider({}, chat, "gpt-4o"), nullptr);
}

TEST(GatewayRoutes, BaseUrlRules) {
  auto ok = parse_base_url("https://api.openai.com/v1/");
  ASSERT_TRUE(ok.url);
  EXPECT_TRUE(ok.url->tls);
  EXPECT_EQ(ok.url->host, "api.openai.com");
  EXPECT_EQ(ok.url->port, 443);
  EXPECT_EQ(ok.url->path, "/v1");
  auto loop = parse_base_url("http://127.0.0.1:8099");
  ASSERT_TRUE(loop.url);
  EXPECT_FALSE(loop.url->tls);
  EXPECT_EQ(loop.url->port, 8099);
  auto v6 = parse_base_url("https://[::1]:9443/x");
  ASSERT_TRUE(v6.url);
  EXPECT_EQ(v6.url->host, "::1");
  EXPECT_EQ(v6.url->port, 9443);
  for (const char* bad : {"http://api.openai.com", "http://169.254.169.254", "ftp://x",
                          "https://user:pw@host", "https://host:0", "https://host:99999",
                          "https://host/?q=1", "https://", "http://127.0.0.1.evil.com"}) {
    SCOPED_TRACE(bad);
    EXPECT_FALSE(parse_base_url(bad).url);
  }
}

TEST(GatewayRoutes, UpstreamTargets) {
  const RouteMatch chat{GatewayRoute::chat_completions, ApiFlavor::openai, {}, {}};
  const auto openai = provider("o", "openai", {});
  EXPECT_EQ(upstream_target(openai, *parse_base_url("https://a/v1").url, chat, "m"), "/v1/chat/completions");
  EXPECT_EQ(upstream_target(openai, *parse_base_url("https://a").url, chat, "m"), "/v1/chat/completions");
  auto azure = provider("az", "azure_openai", {});
  azure.api_version = "2024-10-21";
  EXPECT_EQ(upstream_target(azure, *parse_base_url("https://r.openai.azure.com").url, chat, "gpt 4"),
            "/openai/deployments/gpt%204/chat/completions?api-version=2024-10-21");
  RouteMatch az{GatewayRoute::azure_chat, ApiFlavor::openai, "dep", "2025-01-01"};
  EXPECT_EQ(upstream_target(azure, *parse_base_url("https://r").url, az, "ignored"),
            "/openai/deployments/dep/chat/completions?api-version=2025-01-01");
  const RouteMatch messages{GatewayRoute::anthropic_messages, ApiFlavor::anthropic, {}, {}};
  EXPECT_EQ(upstream_target(provider("an", "anthropic", {}), *parse_base_url("https://x/v1").url,
                            messages, "c"),
            "/v1/messages");
}

http::fields agent_headers() {
  http::fields f;
  f.set(http::field::authorization, "Bearer sk-agent-dummy");
  f.set("api-key", "agent-dummy");
  f.set("x-api-key", "agent-dummy");
  f.set("Proxy-Authorization", "Basic abc");
  f.set(http::field::host, "127.0.0.1:8080");
  f.set(http::field::connection, "keep-alive");
  f.set(http::field::accept_encoding, "gzip, br");
  f.set("X-Sallyport-Trusted", "1");
  f.set("OpenAI-Beta", "assistants=v2");
  f.set(http::field::user_agent, "OpenAI/JS 4.0");
  return f;
}

TEST(GatewayRoutes, AgentCredentialsAreReplacedByTheProviderKey) {
  struct Case {
    std::string kind, header, value;
  };
  for (const auto& c : std::vector<Case>{{"openai", "Authorization", "Bearer sk-real"},
                                         {"azure_openai", "api-key", "sk-real"},
                                         {"anthropic", "x-api-key", "sk-real"}}) {
    SCOPED_TRACE(c.kind);
    http::fields out;
    build_upstream_headers(agent_headers(), provider("p", c.kind, {}), "sk-real", out);
    EXPECT_EQ(out[c.header], c.value);
    std::size_t credentials = 0;
    for (const auto& f : out) {
      const std::string value(f.value());
      EXPECT_EQ(value.find("dummy"), std::string::npos) << f.name_string();
      const std::string name(f.name_string());
      if (name == "Authorization" || name == "api-key" || name == "x-api-key") ++credentials;
    }
    EXPECT_EQ(credentials, 1u);
    EXPECT_EQ(out.count("Proxy-Authorization"), 0u);
    EXPECT_EQ(out.count(http::field::host), 0u);
    EXPECT_EQ(out.count("X-Sallyport-Trusted"), 0u);
    EXPECT_EQ(out[http::field::accept_encoding], "identity");
    EXPECT_EQ(out[http::field::user_agent], "OpenAI/JS 4.0");
  }
  http::fields anthropic;
  build_upstream_headers(agent_headers(), provider("p", "anthropic", {}), "k", anthropic);
  EXPECT_EQ(anthropic["anthropic-version"], "2023-06-01");
}

TEST(GatewayRoutes, ModelsListHoldsLiteralNamesOnly) {
  const auto json = nlohmann::json::parse(models_list_json(
      {provider("a", "openai", {"gpt-4o", "gpt-*"}), provider("b", "anthropic", {"claude-3", "gpt-4o"})}));
  ASSERT_EQ(json["data"].size(), 2u);
  EXPECT_EQ(json["data"][0]["id"], "gpt-4o");
  EXPECT_EQ(json["data"][0]["owned_by"], "a");
  EXPECT_EQ(json["data"][1]["id"], "claude-3");
  EXPECT_EQ(json["object"], "list");
}

}  // namespace
}  // namespace sallyport::router
