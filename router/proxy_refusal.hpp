#pragma once
// Every way the forward proxy refuses a request, and the one place that maps each to an HTTP
// answer (status, X-Sallyport-Deny / X-Sallyport-Error header, one-line body, Connection: close).
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <cstdint>
#include <string>

namespace sallyport::router {

enum class RefusalKind : std::uint8_t {
  bad_request,       // 400: malformed or smuggling-shaped request ("request:<kind>")
  auth_required,     // 407: Proxy-Authorization missing or wrong
  denied,            // 403: egress policy (or port / SNI) says no
  over_capacity,     // 503: connection caps
  upstream_timeout,  // 504: DNS or connect timeout
  upstream_failed,   // 502: DNS failure, connection refused/reset
};

struct Refusal {
  RefusalKind kind = RefusalKind::bad_request;
  std::string reason;  // closed set (see EgressEvent::reason)
  std::string rule;
  std::string detail;  // may hold untrusted text: never put in a header, escaped in the body
};

unsigned status_of(RefusalKind kind);
// The errors_total{kind} label for a refusal that is an error rather than a policy decision
// (empty for policy denials and auth).
std::string error_kind_of(const Refusal& refusal);

boost::beast::http::response<boost::beast::http::string_body> refusal_response(
    const Refusal& refusal, unsigned http_version);

}  // namespace sallyport::router
