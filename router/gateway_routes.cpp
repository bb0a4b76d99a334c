#include "router/gateway_routes.hpp"

#include <boost/beast/http/field.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <set>

namespace sallyport::router {
namespace {

namespace http = boost::beast::http;
using governance::ApiFlavor;

bool iequals(std::string_view a, std::string_view b) noexcept {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Percent-decodes; nullopt on a malformed escape or a decoded control character or '/'.
std::optional<std::string> decode_segment(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '%') {
      if (i + 2 >= s.size()) return std::nullopt;
      const int hi = hex_value(s[i + 1]), lo = hex_value(s[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      c = static_cast<char>(hi * 16 + lo);
      i += 2;
    }
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f || c == '/') return std::nullopt;
    out.push_back(c);
  }
  return out;
}

std::string query_param(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    const auto amp = query.find('&');
    const auto pair = query.substr(0, amp);
    const auto eq = pair.find('=');
    if (pair.substr(0, eq) == name && eq != std::string_view::npos) {
      return decode_segment(pair.substr(eq + 1)).value_or("");
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return {};
}

// Safe in a URL path segment / query value: unreserved characters only, the rest escaped.
std::string percent_encode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(c);
    } else {
      out += '%';
      out += kHex[u >> 4];
      out += kHex[u & 15];
    }
  }
  return out;
}

RouteLookup found(GatewayRoute route, ApiFlavor flavor) {
  return RouteLookup{RouteMatch{route, flavor, {}, {}}, 0, flavor};
}

RouteLookup miss(int status, ApiFlavor flavor) { return RouteLookup{std::nullopt, status, flavor}; }

std::optional<RouteLookup> match_azure(http::verb method, std::string_view path,
                                       std::string_view query) {
  constexpr std::string_view prefix = "/openai/deployments/";
  if (!path.starts_with(prefix)) return std::nullopt;
  const auto rest = path.substr(prefix.size());
  const auto slash = rest.find('/');
  if (slash == std::string_view::npos || slash == 0) return miss(404, ApiFlavor::openai);
  const auto endpoint = rest.substr(slash);
  GatewayRoute route;
  if (endpoint == "/chat/completions") {
    route = GatewayRoute::azure_chat;
  } else if (endpoint == "/embeddings") {
    route = GatewayRoute::azure_embeddings;
  } else {
    return miss(404, ApiFlavor::openai);
  }
  if (method != http::verb::post) return miss(405, ApiFlavor::openai);
  auto deployment = decode_segment(rest.substr(0, slash));
  if (!deployment || deployment->empty()) return miss(404, ApiFlavor::openai);
  RouteLookup lookup = found(route, ApiFlavor::openai);
  lookup.match->deployment = std::move(*deployment);
  lookup.match->api_version = query_param(query, "api-version");
  return lookup;
}

bool provider_serves(const config::Provider& p, GatewayRoute route) {
  switch (route) {
    case GatewayRoute::anthropic_messages: return p.kind == "anthropic";
    case GatewayRoute::azure_chat:
    case GatewayRoute::azure_embeddings: return p.kind == "azure_openai";
    case GatewayRoute::chat_completions:
    case GatewayRoute::embeddings: return p.kind == "openai" || p.kind == "azure_openai";
    case GatewayRoute::responses: return p.kind == "openai";
    case GatewayRoute::models: return true;
  }
  return false;
}

bool is_literal_model(std::string_view glob) {
  return glob.find_first_of("*?") == std::string_view::npos && !glob.empty();
}

}  // namespace

const char* to_string(GatewayRoute route) noexcept {
  switch (route) {
    case GatewayRoute::chat_completions: return "chat_completions";
    case GatewayRoute::responses: return "responses";
    case GatewayRoute::embeddings: return "embeddings";
    case GatewayRoute::models: return "models";
    case GatewayRoute::azure_chat: return "azure_chat";
    case GatewayRoute::azure_embeddings: return "azure_embeddings";
    case GatewayRoute::anthropic_messages: return "anthropic_messages";
  }
  return "unknown";
}

RouteLookup match_route(http::verb method, std::string_view target) {
  const auto qpos = target.find('?');
  const auto path = target.substr(0, qpos);
  const auto query = qpos == std::string_view::npos ? std::string_view{} : target.substr(qpos + 1);
  if (auto azure = match_azure(method, path, query)) return *azure;

  struct Fixed {
    std::string_view path;
    http::verb method;
    GatewayRoute route;
    ApiFlavor flavor;
  };
  static constexpr std::array<Fixed, 5> kFixed{{
      {"/v1/chat/completions", http::verb::post, GatewayRoute::chat_completions, ApiFlavor::openai},
      {"/v1/responses", http::verb::post, GatewayRoute::responses, ApiFlavor::openai},
      {"/v1/embeddings", http::verb::post, GatewayRoute::embeddings, ApiFlavor::openai},
      {"/v1/models", http::verb::get, GatewayRoute::models, ApiFlavor::openai},
      {"/v1/messages", http::verb::post, GatewayRoute::anthropic_messages, ApiFlavor::anthropic},
  }};
  for (const auto& f : kFixed) {
    if (path != f.path) continue;
    if (method != f.method) return miss(405, f.flavor);
    return found(f.route, f.flavor);
  }
  return miss(404, ApiFlavor::openai);
}


const config::Provider* select_provider(const std::vector<config::Provider>& providers,
                                        const RouteMatch& route, std::string_view model) {
  for (const auto& p : providers) {
    if (!provider_serves(p, route.route)) continue;
    if (p.models.empty()) return &p;
    for (const auto& glob : p.models) {
      if (glob_match(glob, model)) return &p;
    }
  }
  return nullptr;
}

bool is_loopback_host(std::string_view host) noexcept {
  if (iequals(host, "localhost") || host == "::1") return true;
  // 127.0.0.0/8 in dotted-quad form only: other spellings are not accepted for http://.
  if (!host.starts_with("127.")) return false;
  int dots = 0;
  for (const char c : host) {
    if (c == '.') {
      ++dots;
    } else if (c < '0' || c > '9') {
      return false;
    }
  }
  return dots == 3;
}

BaseUrlResult parse_base_url(std::string_view text) {
  BaseUrl url;
  if (text.starts_with("https://")) {
    text.remove_prefix(8);
  } else if (text.starts_with("http://")) {
    url.tls = false;
    url.port = 80;
    text.remove_prefix(7);
  } else {
    return {std::nullopt, "base_url must start with https:// (or http:// for a loopback host)"};
  }
  if (text.find_first_of("?#") != std::string_view::npos) {
    return {std::nullopt, "base_url must not carry a query or fragment"};
  }
  const auto slash = text.find('/');
  auto authority = text.substr(0, slash);
  url.path = slash == std::string_view::npos ? "" : std::string(text.substr(slash));
  while (!url.path.empty() && url.path.back() == '/') url.path.pop_back();
  if (authority.find('@') != std::string_view::npos) {
    return {std::nullopt, "base_url must not carry credentials (user@host); use api_key"};
  }
  std::string_view port_text;
  if (authority.starts_with('[')) {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return {std::nullopt, "base_url has an unclosed '['"};
    url.host = std::string(authority.substr(1, close - 1));
    const auto after = authority.substr(close + 1);
    if (!after.empty() && !after.starts_with(':')) return {std::nullopt, "base_url: bad port"};
    if (!after.empty()) port_text = after.substr(1);
  } else {
    const auto colon = authority.rfind(':');
    url.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port_text = authority.substr(colon + 1);
  }
  if (url.host.empty()) return {std::nullopt, "base_url has no host"};
  for (const char c : url.host) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f || c == '%' || c == '\\') {
      return {std::nullopt, "base_url host holds a character that is not allowed"};
    }
  }
  if (!port_text.empty()) {
    unsigned port = 0;
    const auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (ec != std::errc{} || end != port_text.data() + port_text.size() || port == 0 || port > 65535) {
      return {std::nullopt, "base_url port must be a number from 1 to 65535"};
    }
    url.port = static_cast<std::uint16_t>(port);
  }
  if (!url.tls && !is_loopback_host(url.host)) {
    return {std::nullopt, "base_url with http:// is only allowed for loopback hosts; use https://"};
  }
  return {std::move(url), {}};
}

std::string upstream_target(const config::Provider& provider, const BaseUrl& base,
                            const RouteMatch& route, std::string_view model) {
  if (provider.kind == "anthropic") {
    std::string path = base.path;
    if (path.ends_with("/v1")) path.resize(path.size() - 3);
    return path + "/v1/messages";
  }
  if (provider.kind == "azure_openai") {
    const bool embeddings = route.route == GatewayRoute::azure_embeddings ||
                            route.route == GatewayRoute::embeddings;
    const std::string deployment = route.deployment.empty() ? std::string(model) : route.deployment;
    std::string version = route.api_version;
    if (version.empty()) version = provider.api_version.value_or("2024-10-21");
    return base.path + "/openai/deployments/" + percent_encode(deployment) +
           (embeddings ? "/embeddings" : "/chat/completions") +
           "?api-version=" + percent_encode(version);
  }
  std::string path = base.path;
  if (!path.ends_with("/v1")) path += "/v1";
  switch (route.route) {
    case GatewayRoute::responses: return path + "/responses";
    case GatewayRoute::embeddings: return path + "/embeddings";
    case GatewayRoute::models: return path + "/models";
    default: return path + "/chat/completions";
  }
}

void build_upstream_headers(const http::fields& agent, const config::Provider& provider,
                            std::string_view api_key, http::fields& out) {
  static const std::set<std::string, std::less<>> kDropped{
      "authorization", "api-key",        "x-api-key",  "proxy-authorization", "proxy-connection",
      "host",          "connection",     "keep-alive", "te",                  "trailer",
      "transfer-encoding", "upgrade",    "content-length", "accept-encoding", "cookie",
      "expect",        "forwarded",      "x-forwarded-for"};
  for (const auto& field : agent) {
    std::string name(field.name_string());
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (kDropped.contains(name) || name.starts_with("x-sallyport-") || name.starts_with("proxy-")) {
      continue;
    }
    out.insert(field.name_string(), field.value());
  }
  // Usage and tool calls are read from the body: the upstream must not compress it.
  out.set(http::field::accept_encoding, "identity");
  if (provider.kind == "anthropic" && out.find("anthropic-version") == out.end()) {
    out.set("anthropic-version", "2023-06-01");
  }
  if (api_key.empty()) return;
  if (provider.kind == "azure_openai") {
    out.set("api-key", api_key);
  } else if (provider.kind == "anthropic") {
    out.set("x-api-key", api_key);
  } else {
    out.set(http::field::authorization, std::string("Bearer ").append(api_key));
  }
}

std::string models_list_json(const std::vector<config::Provider>& providers) {
  auto data = nlohmann::json::array();
  std::set<std::string> seen;
  for (const auto& p : providers) {
    for (const auto& m : p.models) {
      if (!is_literal_model(m) || !seen.insert(m).second) continue;
      data.push_back({{"id", m}, {"object", "model"}, {"created", 0}, {"owned_by", p.name}});
    }
  }
  return nlohmann::json{{"object", "list"}, {"data", std::move(data)}}.dump();
}

}  // namespace sallyport::router
