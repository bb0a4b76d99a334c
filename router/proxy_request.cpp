#include "router/proxy_request.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <vector>

namespace sallyport::router {
namespace http = boost::beast::http;

namespace {

char lower_ascii(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return lower_ascii(x) == lower_ascii(y);
         });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

RequestError error(std::string kind, std::string detail) {
  return RequestError{std::move(kind), std::move(detail)};
}

// Splits "host:port" / "[v6]:port" / "host" into host and optional port text.
Checked<std::pair<std::string, std::optional<std::uint16_t>>> split_host_port(
    std::string_view authority) {
  std::string_view host;
  std::string_view rest;
  if (!authority.empty() && authority.front() == '[') {
    auto close = authority.find(']');
    if (close == std::string_view::npos) return error("bad-target", "unterminated IPv6 literal");
    host = authority.substr(1, close - 1);
    rest = authority.substr(close + 1);
    if (!rest.empty() && rest.front() != ':') return error("bad-target", "junk after ']'");
  } else {
    auto colon = authority.rfind(':');
    host = authority.substr(0, colon);
    rest = colon == std::string_view::npos ? std::string_view{} : authority.substr(colon);
  }
  if (host.empty()) return error("bad-target", "empty host");
  for (char c : host) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f || c == '/' || c == '\\' || c == '@' || c == '[' || c == ']')
      return error("bad-target", "invalid character in host");
  }
  std::optional<std::uint16_t> port;
  if (!rest.empty()) {
    auto digits = rest.substr(1);
    unsigned value = 0;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    if (digits.empty() || digits.size() > 5 || ec != std::errc{} ||
        end != digits.data() + digits.size() || value == 0 || value > 65535)
      return error("bad-port", "port must be 1-65535");
    port = static_cast<std::uint16_t>(value);
  }
  return std::pair{std::string(host), port};
}

bool known_method(http::verb method) {
  switch (method) {
    case http::verb::get: case http::verb::head: case http::verb::post: case http::verb::put:
    case http::verb::delete_: case http::verb::options: case http::verb::patch:
    case http::verb::connect:
      return true;
    default:
      return false;
  }
}

std::array<unsigned char, 32> sha256(std::string_view data) {
  std::array<unsigned char, 32> digest{};
  unsigned int length = 0;
  EVP_Digest(data.data(), data.size(), digest.data(), &length, EVP_sha256(), nullptr);
  return digest;
}

std::optional<std::string> decode_base64(std::string_view text) {
  if (text.empty() || text.size() % 4 != 0 || text.size() > 4096) return std::nullopt;
  std::vector<unsigned char> out(text.size() / 4 * 3);
  int n = EVP_DecodeBlock(out.data(), reinterpret_cast<const unsigned char*>(text.data()),
                          static_cast<int>(text.size()));
  // EVP_DecodeBlock counts '=' padding as zero bytes; drop them.
  auto padding = static_cast<int>(std::count(text.end() - 2, text.end(), '='));
  if (n < padding) return std::nullopt;
  out.resize(static_cast<std::size_t>(n - padding));
  return std::string(out.begin(), out.end());
}

}  // namespace

std::optional<RequestError> scan_raw_head(std::string_view head) {
  for (std::size_t i = 0; i < head.size(); ++i) {
    char c = head[i];
    if (c == '\0') return error("nul-byte", "NUL byte in request head");
    if (c == '\r' && (i + 1 >= head.size() || head[i + 1] != '\n'))
      return error("bare-cr", "CR not followed by LF in request head");
    if (c == '\n') {
      if (i == 0 || head[i - 1] != '\r') return error("bare-lf", "LF without CR in request head");
      if (i + 1 < head.size() && (head[i + 1] == ' ' || head[i + 1] == '\t'))
        return error("obs-fold", "obsolete line folding (obs-fold) in a header field");
    }
  }
  // Framing conflicts are named here, before the HTTP parser reports them more vaguely.
  std::size_t lengths = 0, encodings = 0;
  for (std::size_t start = head.find("\r\n"); start != std::string_view::npos;) {
    auto line = head.substr(start + 2);
    auto colon = line.find(':');
    auto end = line.find("\r\n");
    if (colon != std::string_view::npos && colon < end) {
      auto name = line.substr(0, colon);
      if (iequals(name, "content-length")) ++lengths;
      if (iequals(name, "transfer-encoding")) ++encodings;
      if (name.find_first_of(" \t") != std::string_view::npos)
        return error("bad-field", "whitespace in a header field name");
    }
    start = end == std::string_view::npos ? end : start + 2 + end;
  }
  if (lengths > 0 && encodings > 0)
    return error("te-and-cl", "both Transfer-Encoding and Content-Length");
  if (lengths > 1) return error("duplicate-content-length", "more than one Content-Length");
  return std::nullopt;
}

std::optional<RequestError> check_framing(const http::request<http::empty_body>& request) {
  if (!known_method(request.method()))
    return error("bad-method", "method not allowed through the proxy");
  if (request.version() != 11 && request.version() != 10)
    return error("bad-version", "only HTTP/1.0 and HTTP/1.1 are accepted");
  auto lengths = request.count(http::field::content_length);
  auto encodings = request.count(http::field::transfer_encoding);
  if (lengths > 1) return error("duplicate-content-length", "more than one Content-Length");
  if (lengths == 1 && encodings > 0)
    return error("te-and-cl", "both Transfer-Encoding and Content-Length");
  if (encodings > 1) return error("bad-transfer-encoding", "more than one Transfer-Encoding");
  if (encodings == 1 && !iequals(trim(request[http::field::transfer_encoding]), "chunked"))
    return error("bad-transfer-encoding", "Transfer-Encoding must be exactly \"chunked\"");
  if (lengths == 1) {
    auto text = trim(request[http::field::content_length]);
    std::uint64_t value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || ec != std::errc{} || end != text.data() + text.size())
      return error("bad-content-length", "Content-Length must be one decimal number");
  }
  if (request.method() == http::verb::connect && (lengths > 0 || encodings > 0))
    return error("connect-with-body", "CONNECT must not carry a body");
  return std::nullopt;
}

Checked<ProxyTarget> parse_connect_target(std::string_view target) {
  if (target.empty() || target.front() == '/')
    return error("bad-target", "CONNECT needs host:port");
  if (target.find("://") != std::string_view::npos)
    return error("bad-target", "CONNECT needs host:port, not a URL");
  auto split = split_host_port(target);
  if (auto* e = std::get_if<RequestError>(&split)) return *e;
  auto& [host, port] = std::get<0>(split);
  if (!port) return error("bad-port", "CONNECT needs an explicit port");
  return ProxyTarget{host, *port, {}, std::string(target)};
}

Checked<ProxyTarget> parse_absolute_target(std::string_view target) {
  if (!target.empty() && target.front() == '/')
    return error("origin-form", "origin-form request; this is a forward proxy (use http://host/…)");
  auto scheme_end = target.find("://");
  if (scheme_end == std::string_view::npos)
    return error("bad-target", "request target must be absolute-form http://host/…");
  if (!iequals(target.substr(0, scheme_end), "http"))
    return error("bad-scheme", "only http:// is proxied in absolute-form; use CONNECT for TLS");
  auto rest = target.substr(scheme_end + 3);
  auto authority_end = rest.find_first_of("/?#");
  auto authority = rest.substr(0, authority_end);
  if (authority.find('@') != std::string_view::npos)
    return error("userinfo", "credentials in the URL are not accepted");
  auto split = split_host_port(authority);
  if (auto* e = std::get_if<RequestError>(&split)) return *e;
  auto& [host, port] = std::get<0>(split);
  std::string path(authority_end == std::string_view::npos ? std::string_view{}
                                                           : rest.substr(authority_end));
  if (auto hash = path.find('#'); hash != std::string::npos) path.resize(hash);
  if (path.empty() || path.front() != '/') path.insert(path.begin(), '/');
  for (char c : path) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f) return error("bad-target", "control character in path");
  }
  return ProxyTarget{host, port.value_or(80), std::move(path), std::string(authority)};
}

void strip_hop_by_hop(http::fields& fields) {
  // Collect the Connection-listed names first: erasing invalidates the field views.
  std::vector<std::string> listed;
  for (auto it = fields.find(http::field::connection); it != fields.end() &&
                                                       it->name() == http::field::connection;
       ++it) {
    for (auto token : http::token_list{it->value()}) listed.emplace_back(token);
  }
  for (const auto& name : listed) {
    if (iequals(name, "content-length") || iequals(name, "transfer-encoding") ||
        iequals(name, "host"))
      continue;  // framing and routing stay; stripping them would desynchronise the body
    fields.erase(name);
  }
  for (auto f : {http::field::connection, http::field::keep_alive,
                 http::field::proxy_authorization, http::field::proxy_authenticate,
                 http::field::proxy_connection, http::field::te, http::field::trailer,
                 http::field::upgrade})
    fields.erase(f);
}

void append_via(http::fields& fields, std::string_view via_name) {
  std::string value;
  if (auto it = fields.find(http::field::via); it != fields.end()) {
    value.assign(it->value());
    value += ", ";
    fields.erase(http::field::via);
  }
  value += "1.1 ";
  value += via_name;
  fields.set(http::field::via, value);
}

AuthResult check_proxy_authorization(std::string_view header_value, std::string_view token) {
  auto value = trim(header_value);
  if (value.empty()) return AuthResult::missing;
  auto space = value.find(' ');
  if (space == std::string_view::npos) return AuthResult::invalid;
  auto scheme = value.substr(0, space);
  auto credentials = trim(value.substr(space + 1));
  std::string presented;
  if (iequals(scheme, "bearer")) {
    presented.assign(credentials);
  } else if (iequals(scheme, "basic")) {
    auto decoded = decode_base64(credentials);
    if (!decoded) return AuthResult::invalid;
    auto colon = std::find(decoded->begin(), decoded->end(), ':');
    if (colon == decoded->end()) return AuthResult::invalid;
    presented.assign(colon + 1, decoded->end());  // any user name; the password is the token
  } else {
    return AuthResult::invalid;
  }
  auto a = sha256(presented);
  auto b = sha256(token);
  OPENSSL_cleanse(presented.data(), presented.size());
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0 ? AuthResult::ok : AuthResult::invalid;
}

std::string comparable_host(std::string_view host) {
  std::string out(host);
  std::transform(out.begin(), out.end(), out.begin(), lower_ascii);
  if (!out.empty() && out.back() == '.') out.pop_back();
  return out;
}

}  // namespace sallyport::router
