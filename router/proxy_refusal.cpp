#include "router/proxy_refusal.hpp"

#include "common/redact.hpp"

#include <boost/beast/http/field.hpp>

namespace sallyport::router {
namespace http = boost::beast::http;

unsigned status_of(RefusalKind kind) {
  switch (kind) {
    case RefusalKind::bad_request: return 400;
    case RefusalKind::auth_required: return 407;
    case RefusalKind::denied: return 403;
    case RefusalKind::over_capacity: return 503;
    case RefusalKind::upstream_timeout: return 504;
    case RefusalKind::upstream_failed: return 502;
  }
  return 500;
}

std::string error_kind_of(const Refusal& refusal) {
  switch (refusal.kind) {
    case RefusalKind::bad_request: return "bad_request";
    case RefusalKind::over_capacity:
      return refusal.reason == "limit:per-client" ? "limit_per_client" : "limit_connections";
    case RefusalKind::upstream_timeout:
      return refusal.reason == "dns:timeout" ? "dns_timeout" : "connect_timeout";
    case RefusalKind::upstream_failed:
      return refusal.reason.starts_with("dns:") ? "dns_failed" : "connect_failed";
    case RefusalKind::denied:
    case RefusalKind::auth_required: return {};
  }
  return {};
}

http::response<http::string_body> refusal_response(const Refusal& refusal, unsigned http_version) {
  http::response<http::string_body> response{static_cast<http::status>(status_of(refusal.kind)),
                                             http_version == 10 ? 10u : 11u};
  response.set(http::field::server, "sallyport");
  response.set(http::field::content_type, "text/plain; charset=utf-8");
  response.set(http::field::cache_control, "no-store");
  // reason is from a closed set of tokens, safe for a header; detail never goes into a header.
  if (refusal.kind == RefusalKind::denied)
    response.set("X-Sallyport-Deny", refusal.reason);
  else
    response.set("X-Sallyport-Error", refusal.reason);
  if (refusal.kind == RefusalKind::auth_required)
    response.set(http::field::proxy_authenticate, "Basic realm=\"sallyport\", Bearer realm=\"sallyport\"");
  std::string body = "sallyport: ";
  body += refusal.kind == RefusalKind::denied ? "denied (" : "refused (";
  body += refusal.reason;
  body += ")";
  if (!refusal.detail.empty()) {
    body += ": ";
    body += escape_untrusted(refusal.detail.substr(0, 200));
  }
  body += "\n";
  response.body() = std::move(body);
  response.keep_alive(false);
  response.prepare_payload();
  return response;
}

}  // namespace sallyport::router
