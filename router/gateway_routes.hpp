#pragma once
// Inference gateway routing: which API a request speaks (from method + path), which configured
// provider serves it (model globs, first match), and how the upstream request line and headers
// are built (the agent's credentials dropped, the provider's key injected).
// Pure functions over strings and config: unit-tested without sockets.
//
// base_url conventions (documented in the final report / README):
//   openai:        "https://api.openai.com" or ".../v1"; upstream path = <base>/v1/<endpoint>
//                  (a base ending in /v1 is used as is).
//   azure_openai:  "https://<resource>.openai.azure.com"; upstream path =
//                  <base>/openai/deployments/<deployment>/<endpoint>?api-version=<v>, where
//                  api-version comes from the agent's query or, absent that, provider.api_version.
//   anthropic:     "https://api.anthropic.com" (a trailing /v1 is tolerated); <base>/v1/messages.
//   http:// is accepted only for loopback hosts (127.0.0.0/8, ::1, localhost): tests and local
//   model servers. Everything else must be https:// (certificate + hostname verified).
#include "common/glob.hpp"
#include "config/config.hpp"
#include "governance/api_error.hpp"

#include <boost/beast/http/fields.hpp>
#include <boost/beast/http/verb.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sallyport::router {

enum class GatewayRoute : std::uint8_t {
  chat_completions,    // POST /v1/chat/completions
  responses,           // POST /v1/responses
  embeddings,          // POST /v1/embeddings
  models,              // GET  /v1/models
  azure_chat,          // POST /openai/deployments/{d}/chat/completions?api-version=…
  azure_embeddings,    // POST /openai/deployments/{d}/embeddings?api-version=…
  anthropic_messages,  // POST /v1/messages
};

// Metric label ("chat_completions", …).
const char* to_string(GatewayRoute route) noexcept;

struct RouteMatch {
  GatewayRoute route = GatewayRoute::chat_completions;
  governance::ApiFlavor flavor = governance::ApiFlavor::openai;
  std::string deployment;   // Azure routes: the {d} path segment (percent-decoded)
  std::string api_version;  // Azure routes: the api-version query parameter ("" when absent)
};

struct RouteLookup {
  std::optional<RouteMatch> match;
  int status = 0;           // when !match: 404 unknown path, 405 known path with another method
  governance::ApiFlavor flavor = governance::ApiFlavor::openai;  // shape for that error
};

RouteLookup match_route(boost::beast::http::verb method, std::string_view target);

// Glob over the whole text: '*' any run (also empty), '?' one byte; everything else literal.
using sallyport::glob_match;  // model globs: common/glob.hpp

// The first provider that can serve `route` and whose model globs match `model` (no globs =
// every model). Kinds: anthropic_messages → anthropic; azure_* → azure_openai; chat/embeddings →
// openai or azure_openai; responses → openai. nullptr when none fits.
const config::Provider* select_provider(const std::vector<config::Provider>& providers,
                                        const RouteMatch& route, std::string_view model);

struct BaseUrl {
  bool tls = true;
  std::string host;  // no brackets for IPv6
  std::uint16_t port = 443;
  std::string path;  // without trailing '/', "" for the root
};

struct BaseUrlResult {
  std::optional<BaseUrl> url;
  std::string error;  // what was wrong with the base_url (never contains credentials)
};

// Parses a provider base_url; http:// only for loopback hosts; no userinfo, query or fragment.
BaseUrlResult parse_base_url(std::string_view text);
bool is_loopback_host(std::string_view host) noexcept;

// The upstream request target (path + query) for one request.
std::string upstream_target(const config::Provider& provider, const BaseUrl& base,
                            const RouteMatch& route, std::string_view model);

// Copies the agent's headers that may go upstream: hop-by-hop headers, Host, Content-Length,
// Accept-Encoding, cookies, every credential (Authorization, api-key, x-api-key, proxy-*) and
// sallyport's own x-sallyport-* headers are dropped. Then sets the provider's credential:
//   openai: Authorization: Bearer <key>;  azure_openai: api-key: <key>;
//   anthropic: x-api-key: <key> and anthropic-version (the agent's, else "2023-06-01").
// `api_key` empty = no credential header (a provider without api_key, e.g. a local server).
void build_upstream_headers(const boost::beast::http::fields& agent,
                            const config::Provider& provider, std::string_view api_key,
                            boost::beast::http::fields& out);

// "/v1/models" answer: every configured provider's literal model names (globs without '*'/'?'),
// OpenAI list shape {"object":"list","data":[{"id","object":"model","owned_by"}]}.
std::string models_list_json(const std::vector<config::Provider>& providers);

}  // namespace sallyport::router
