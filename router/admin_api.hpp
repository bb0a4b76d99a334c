#pragma once
// The admin API on :8787. /healthz, /readyz and /metrics answer without a token (kubelet probes,
// Prometheus; /metrics can be made to need it); everything under /admin/ needs
// `Authorization: Bearer <token>`, compared in constant time against the token from
// admin.token. Loopback is not trust: without a configured token /admin/ answers 401 to all.
#include "router/http_server.hpp"
#include "router/metrics.hpp"
#include "router/readiness.hpp"

#include <boost/beast/http/verb.hpp>
#include <prometheus/counter.h>

#include <array>
#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

namespace sallyport::router {

class AdminApi {
 public:
  using Route = std::function<HttpResponse(const HttpRequest&)>;
  using ConfigJson = std::function<std::string()>;  // effective config, secrets masked

  AdminApi(Metrics& metrics, Readiness& readiness, ConfigJson config_json);

  // Sets (or clears) the admin token. Only its SHA-256 is kept.
  void set_token(const std::optional<std::string>& token);
  void set_metrics_require_token(bool required) { metrics_require_token_ = required; }

  // Adds a token-protected route; `path` is exact ("/admin/budget") or a prefix when it ends
  // with '/' ("/admin/approvals/").
  void add_route(boost::beast::http::verb method, std::string path, Route route);

  HttpResponse handle(const HttpRequest& req, const boost::asio::ip::tcp::endpoint& peer);

 private:
  bool authorized(const HttpRequest& req) const;
  HttpResponse dispatch(const HttpRequest& req, std::string_view path, std::string& label);

  Metrics& metrics_;
  Readiness& readiness_;
  ConfigJson config_json_;
  std::atomic<std::shared_ptr<const std::array<unsigned char, 32>>> token_digest_;
  std::atomic<bool> metrics_require_token_{false};
  std::map<std::pair<boost::beast::http::verb, std::string>, Route> routes_;
  prometheus::Family<prometheus::Counter>& requests_;
};

}  // namespace sallyport::router
