#include "router/mcp_protocol.hpp"

#include <boost/beast/http/field.hpp>

#include <algorithm>
#include <cctype>
#include <set>

namespace sallyport::router {
namespace {

namespace http = boost::beast::http;
using nlohmann::json;

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

bool server_name_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-';
}

// Splits an SSE block into lines (CRLF, LF or CR terminators), without the terminators.
std::vector<std::string_view> block_lines(std::string_view raw) {
  std::vector<std::string_view> lines;
  std::size_t start = 0;
  for (std::size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] != '\r' && raw[i] != '\n') continue;
    lines.push_back(raw.substr(start, i - start));
    if (raw[i] == '\r' && i + 1 < raw.size() && raw[i + 1] == '\n') ++i;
    start = i + 1;
  }
  if (start < raw.size()) lines.push_back(raw.substr(start));
  return lines;
}

bool is_data_line(std::string_view line) {
  return line == "data" || line.starts_with("data:");
}

}  // namespace

bool is_mcp_target(std::string_view target) noexcept {
  return target.starts_with(kMcpPathPrefix) || target == "/mcp";
}

std::optional<McpTarget> parse_mcp_target(std::string_view target) {
  if (!target.starts_with(kMcpPathPrefix)) return std::nullopt;
  const auto qpos = target.find('?');
  const auto name = target.substr(kMcpPathPrefix.size(), qpos == std::string_view::npos
                                                             ? std::string_view::npos
                                                             : qpos - kMcpPathPrefix.size());
  if (name.empty() || name.size() > 64 ||
      !std::all_of(name.begin(), name.end(), server_name_char)) {
    return std::nullopt;
  }
  McpTarget out{std::string(name), {}};
  if (qpos != std::string_view::npos) out.query = std::string(target.substr(qpos + 1));
  return out;
}

void build_mcp_upstream_headers(const http::fields& agent, const McpCredentialHeaders& credentials,
                                http::fields& out) {
  static const std::set<std::string, std::less<>> kDropped{"authorization",
                                                           "api-key",
                                                           "x-api-key",
                                                           "cookie",
                                                           "host",
                                                           "connection",
                                                           "keep-alive",
                                                           "te",
                                                           "trailer",
                                                           "transfer-encoding",
                                                           "upgrade",
                                                           "content-length",
                                                           "accept-encoding",
                                                           "expect",
                                                           "forwarded",
                                                           "x-forwarded-for",
                                                           "origin"};
  for (const auto& field : agent) {
    const auto name = lower(field.name_string());
    if (kDropped.contains(name) || name.starts_with("x-sallyport-") || name.starts_with("proxy-")) {
      continue;
    }
    out.insert(field.name_string(), field.value());
  }
  // Tool lists and results are read from the body: the server must not compress it.
  out.set(http::field::accept_encoding, "identity");
  for (const auto& [name, value] : credentials) {
    out.erase(name);
    out.set(name, value);
  }
}

void copy_mcp_response_headers(const http::fields& upstream, http::fields& out) {
  for (const auto& field : upstream) {
    const auto name = lower(field.name_string());
    if (name == "content-type" || name == "mcp-session-id" || name == "mcp-protocol-version" ||
        name == "allow" || name == "retry-after") {
      out.insert(field.name_string(), field.value());
    }
  }
}

std::string rewrite_sse_block(const governance::SseEvent& event, std::string_view data) {
  std::string out;
  out.reserve(event.raw.size() + data.size());
  bool data_written = false;
  for (const auto line : block_lines(event.raw)) {
    if (line.empty()) continue;  // the terminating blank line is added below
    if (is_data_line(line)) {
      if (data_written) continue;
      data_written = true;
      out.append("data: ").append(data).push_back('\n');
      continue;
    }
    out.append(line).push_back('\n');
  }
  if (!data_written) out.append("data: ").append(data).push_back('\n');
  out.push_back('\n');
  return out;
}

std::string sse_message_block(const json& message) {
  return "event: message\ndata: " + message.dump(-1, ' ', false, json::error_handler_t::replace) +
         "\n\n";
}

McpSseRewriter::McpSseRewriter(Inspect inspect, governance::SseLimits limits,
                               governance::mcp::McpLimits json_limits)
    : inspect_(std::move(inspect)), parser_(limits), json_limits_(json_limits) {}

bool McpSseRewriter::feed(std::string_view chunk, std::string& out) {
  if (error_) return false;
  pending_.clear();
  error_ = parser_.feed(chunk, pending_);
  for (const auto& event : pending_) {
    ++events_;
    if (!event.has_data) {
      out += event.raw;
      continue;
    }
    // Fail closed: a payload too deep to inspect could hide a tool result from the shield.
    if (governance::mcp::json_depth_exceeds(event.data, json_limits_.max_depth)) {
      error_ =
          governance::SseError{governance::SseErrorKind::event_too_long, parser_.bytes_consumed(),
                               "SSE event JSON nested deeper than " +
                                   std::to_string(json_limits_.max_depth) + " levels"};
      return false;
    }
    json payload = json::parse(event.data, nullptr, false);
    if (payload.is_discarded() || !(payload.is_object() || payload.is_array())) {
      out += event.raw;
      continue;
    }
    const auto inspection = inspect_ ? inspect_(payload) : governance::mcp::ServerInspection{};
    if (!inspection.changed) {
      out += event.raw;
      continue;
    }
    out += rewrite_sse_block(event, payload.dump(-1, ' ', false, json::error_handler_t::replace));
  }
  return !error_;
}

void McpSseRewriter::finish(std::string&) {
  parser_.finish();
}

}  // namespace sallyport::router
