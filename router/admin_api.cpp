#include "router/admin_api.hpp"

#include "common/log.hpp"

#include <boost/beast/http/field.hpp>
#include <nlohmann/json.hpp>
#include <openssl/crypto.h>
#include <openssl/sha.h>

namespace sallyport::router {

namespace http = boost::beast::http;

namespace {

std::array<unsigned char, 32> sha256(std::string_view data) {
  std::array<unsigned char, 32> digest{};
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest.data());
  return digest;
}

HttpResponse json_response(const HttpRequest& req, unsigned status, const nlohmann::json& body) {
  return make_response(req, status, body.dump() + "\n", "application/json");
}

HttpResponse unauthorized(const HttpRequest& req, std::string_view why) {
  auto res = json_response(req, 401, {{"error", {{"message", why}, {"type", "unauthorized"}}}});
  res.set(http::field::www_authenticate, "Bearer realm=\"sallyport-admin\"");
  return res;
}

}  // namespace

AdminApi::AdminApi(Metrics& metrics, Readiness& readiness, ConfigJson config_json)
    : metrics_(metrics),
      readiness_(readiness),
      config_json_(std::move(config_json)),
      requests_(prometheus::BuildCounter()
                    .Name("sallyport_admin_requests_total")
                    .Help("Admin API requests by route and HTTP status code.")
                    .Register(metrics.registry())) {}

void AdminApi::set_token(const std::optional<std::string>& token) {
  if (token && !token->empty()) {
    token_digest_.store(std::make_shared<const std::array<unsigned char, 32>>(sha256(*token)));
  } else {
    token_digest_.store(nullptr);
  }
}

void AdminApi::add_route(http::verb method, std::string path, Route route) {
  routes_[{method, std::move(path)}] = std::move(route);
}

bool AdminApi::authorized(const HttpRequest& req) const {
  const auto expected = token_digest_.load();
  if (!expected) return false;
  const auto it = req.find(http::field::authorization);
  if (it == req.end()) return false;
  std::string_view value = it->value();
  constexpr std::string_view kBearer = "Bearer ";
  if (value.size() <= kBearer.size() ||
      !std::equal(kBearer.begin(), kBearer.end(), value.begin(),
                  [](char a, char b) { return std::tolower(a) == std::tolower(b); })) {
    return false;
  }
  // Comparing fixed-size digests keeps the compare constant-time whatever the token length.
  const auto presented = sha256(value.substr(kBearer.size()));
  return CRYPTO_memcmp(presented.data(), expected->data(), presented.size()) == 0;
}

HttpResponse AdminApi::handle(const HttpRequest& req, const boost::asio::ip::tcp::endpoint& peer) {
  std::string_view target = req.target();
  const std::string_view path = target.substr(0, target.find('?'));
  std::string label = "other";
  HttpResponse res = dispatch(req, path, label);
  requests_.Add({{"route", label}, {"code", std::to_string(res.result_int())}}).Increment();
  if (res.result_int() == 401) {
    log::warn("admin", "unauthorized admin request",
              {{"peer", peer.address().to_string()}, {"path", std::string(path)}});
  }
  return res;
}

HttpResponse AdminApi::dispatch(const HttpRequest& req, std::string_view path, std::string& label) {
  const bool read_only = req.method() == http::verb::get || req.method() == http::verb::head;
  if (path == "/healthz") {
    label = "/healthz";
    if (!read_only) return make_response(req, 405, "method not allowed\n");
    return make_response(req, 200, "ok\n");
  }
  if (path == "/readyz") {
    label = "/readyz";
    if (!read_only) return make_response(req, 405, "method not allowed\n");
    const auto status = readiness_.check();
    nlohmann::json components = nlohmann::json::object();
    for (const auto& [name, ok] : status.components) components[name] = ok ? "ready" : "not ready";
    return json_response(req, status.ready ? 200 : 503,
                         {{"status", status.ready ? "ready" : "not ready"}, {"components", components}});
  }
  if (path == "/metrics") {
    label = "/metrics";
    if (!read_only) return make_response(req, 405, "method not allowed\n");
    if (metrics_require_token_ && !authorized(req)) return unauthorized(req, "metrics need the admin token");
    return make_response(req, 200, metrics_.expose(), "text/plain; version=0.0.4; charset=utf-8");
  }
  if (!path.starts_with("/admin/") && path != "/admin") {
    return json_response(req, 404, {{"error", {{"message", "no such endpoint"}, {"type", "not_found"}}}});
  }
  if (!token_digest_.load()) {
    label = "/admin";
    return unauthorized(req, "admin API disabled: no admin token configured (admin.token)");
  }
  if (!authorized(req)) {
    label = "/admin";
    return unauthorized(req, "missing or wrong bearer token");
  }
  if (path == "/admin/config") {
    label = "/admin/config";
    if (!read_only) return make_response(req, 405, "method not allowed\n");
    return make_response(req, 200, config_json_() + "\n", "application/json");
  }
  for (const auto& [key, route] : routes_) {
    const auto& [method, route_path] = key;
    const bool match = route_path.ends_with('/') ? path.starts_with(route_path) : path == route_path;
    if (!match) continue;
    label = route_path;
    if (method != req.method()) continue;
    return route(req);
  }
  if (label != "other") return make_response(req, 405, "method not allowed\n");
  return json_response(req, 404, {{"error", {{"message", "no such admin endpoint"}, {"type", "not_found"}}}});
}

}  // namespace sallyport::router
