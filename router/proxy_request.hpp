#pragma once
// Pure request-head checks for the forward proxy: target forms, request-smuggling shapes,
// hop-by-hop header stripping and Proxy-Authorization. No I/O, no exceptions: every check
// returns either a value or a RequestError whose `kind` becomes "request:<kind>" in the 400
// answer, the metrics and the audit event.
#include <boost/beast/http/fields.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/empty_body.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace sallyport::router {

struct RequestError {
  std::string kind;    // short token: "obs-fold", "te-and-cl", "origin-form", …
  std::string detail;  // one line for humans (may quote untrusted text; the logger escapes it)
};

// host as written (brackets removed for IPv6), port as parsed.
struct ProxyTarget {
  std::string host;
  std::uint16_t port = 0;
  std::string origin_form;  // absolute-form only: "/path?query" (never empty)
  std::string authority;    // what the Host header carries upstream: "host" or "host:port"
};

template <typename T>
using Checked = std::variant<T, RequestError>;

// Scans the raw head (request line + fields + final CRLFCRLF) for shapes the HTTP parser would
// tolerate but that let two parsers disagree: obs-fold, bare CR/LF, NUL.
std::optional<RequestError> scan_raw_head(std::string_view head);

// Framing and method checks on a parsed head: one Content-Length at most, not both
// Content-Length and Transfer-Encoding, Transfer-Encoding exactly "chunked", a known method.
std::optional<RequestError> check_framing(
    const boost::beast::http::request<boost::beast::http::empty_body>& request);

// "host:port" as in `CONNECT host:port` (IPv6 as "[::1]:443"). Port is required.
Checked<ProxyTarget> parse_connect_target(std::string_view target);

// "http://host[:port]/path?q" (scheme case-insensitive, no userinfo, fragment dropped).
// Origin-form ("/path") and other schemes are errors with distinct kinds.
Checked<ProxyTarget> parse_absolute_target(std::string_view target);

// Removes hop-by-hop fields (Connection, Keep-Alive, Proxy-*, TE, Trailer, Upgrade, and every
// field named in Connection) but keeps the message framing (Content-Length, Transfer-Encoding).
void strip_hop_by_hop(boost::beast::http::fields& fields);

// Appends "1.1 <via_name>" to Via (comma-separated with any existing value).
void append_via(boost::beast::http::fields& fields, std::string_view via_name);

enum class AuthResult : std::uint8_t { ok, missing, invalid };

// Proxy-Authorization: "Bearer <token>" or "Basic base64(<any user>:<token>)". Compared in
// constant time (SHA-256 of both sides, CRYPTO_memcmp), so neither content nor length leaks.
AuthResult check_proxy_authorization(std::string_view header_value, std::string_view token);

// Lower-cases and removes one trailing dot: the form hosts are compared in (SNI vs CONNECT).
std::string comparable_host(std::string_view host);

}  // namespace sallyport::router
