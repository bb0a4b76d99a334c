#pragma once
// The one place where a gateway failure becomes an HTTP answer: status, JSON body in the shape
// the client's SDK expects, and headers (Retry-After, x-should-retry).
//
// Shapes:
//   OpenAI / Azure OpenAI: {"error":{"message":…,"type":…,"code":…,"param":null}}
//   Anthropic (/v1/messages): {"type":"error","error":{"type":…,"message":…}}
//
// Mapping (kind → status, OpenAI type/code, Anthropic type):
//   bad_request        400 invalid_request_error / invalid_request      invalid_request_error
//   unauthorized       401 invalid_request_error / invalid_api_key      authentication_error
//   policy_denied      403 permission_error / <decision reason>         permission_error
//   not_found          404 invalid_request_error / not_found            not_found_error
//   budget_exceeded    429 insufficient_quota / budget_exceeded         rate_limit_error
//   rate_requests      429 requests / rate_limit_exceeded               rate_limit_error
//   rate_tokens        429 tokens / rate_limit_exceeded                 rate_limit_error
//   upstream_error     502 server_error / upstream_error                api_error
//   overloaded         503 server_error / overloaded                    overloaded_error
//   no_provider        503 server_error / no_provider                   api_error
//   upstream_timeout   504 server_error / upstream_timeout              api_error
// Decision reasons map as: shield:*, safety:*, tool:*, trust:* → policy_denied;
// budget:unavailable (journal write failed) → overloaded; other budget:* → budget_exceeded;
// rate:rpm → rate_requests; rate:tpm → rate_tokens; rate:concurrency → overloaded;
// anything else denied → policy_denied.
//
// Messages: callers pass fixed text; anything else (decision rule/detail) is redacted with
// redact_secrets, escaped with escape_untrusted and cut to 200 bytes before it is embedded.
// Budget and policy denials carry `x-should-retry: false` so the official SDKs do not retry.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/decision.hpp"

namespace sallyport::governance {

// Which provider API the request speaks; Azure OpenAI uses the OpenAI shapes.
enum class ApiFlavor : std::uint8_t { openai, anthropic };

enum class ApiErrorKind : std::uint8_t {
  bad_request,
  unauthorized,
  policy_denied,
  not_found,
  budget_exceeded,
  rate_requests,
  rate_tokens,
  upstream_error,
  overloaded,
  no_provider,
  upstream_timeout,
};

struct ApiErrorResponse {
  int status = 500;
  std::string body;  // serialized JSON
  std::vector<std::pair<std::string, std::string>> headers;  // excluding Content-Type
};

// `code_override` replaces the OpenAI `code` (e.g. a decision reason for policy_denied).
// `retry_after_seconds` adds Retry-After (429/503).
ApiErrorResponse make_api_error(ApiErrorKind kind, std::string_view message, ApiFlavor flavor,
                                std::optional<std::int64_t> retry_after_seconds = std::nullopt,
                                std::string_view code_override = {});

// Maps a deny Decision from budgets / rate limits / shield / safety / tool policy / trust.
// The message names the reason and rule; detail is not included (it may hold prompt text).
ApiErrorResponse api_error_for_decision(const Decision& decision, ApiFlavor flavor,
                                        std::optional<std::int64_t> retry_after_seconds =
                                            std::nullopt);

ApiErrorKind error_kind_for_reason(std::string_view reason);
int http_status(ApiErrorKind kind);

// Redact + escape + truncate: safe to embed untrusted text in an error message.
std::string sanitize_error_text(std::string_view text, std::size_t max_bytes = 200);

}  // namespace sallyport::governance
