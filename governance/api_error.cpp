#include "governance/api_error.hpp"

#include <nlohmann/json.hpp>

#include "common/redact.hpp"

namespace sallyport::governance {

namespace {

struct KindInfo {
  int status;
  const char* openai_type;
  const char* openai_code;
  const char* anthropic_type;
};

KindInfo info_for(ApiErrorKind kind) {
  switch (kind) {
    case ApiErrorKind::bad_request:
      return {400, "invalid_request_error", "invalid_request", "invalid_request_error"};
    case ApiErrorKind::unauthorized:
      return {401, "invalid_request_error", "invalid_api_key", "authentication_error"};
    case ApiErrorKind::policy_denied:
      return {403, "permission_error", "policy_denied", "permission_error"};
    case ApiErrorKind::not_found:
      return {404, "invalid_request_error", "not_found", "not_found_error"};
    case ApiErrorKind::budget_exceeded:
      return {429, "insufficient_quota", "budget_exceeded", "rate_limit_error"};
    case ApiErrorKind::rate_requests:
      return {429, "requests", "rate_limit_exceeded", "rate_limit_error"};
    case ApiErrorKind::rate_tokens:
      return {429, "tokens", "rate_limit_exceeded", "rate_limit_error"};
    case ApiErrorKind::upstream_error:
      return {502, "server_error", "upstream_error", "api_error"};
    case ApiErrorKind::overloaded:
      return {503, "server_error", "overloaded", "overloaded_error"};
    case ApiErrorKind::no_provider:
      return {503, "server_error", "no_provider", "api_error"};
    case ApiErrorKind::upstream_timeout:
      return {504, "server_error", "upstream_timeout", "api_error"};
  }
  return {500, "server_error", "internal_error", "api_error"};
}

bool starts_with(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

}  // namespace

std::string sanitize_error_text(std::string_view text, std::size_t max_bytes) {
  std::string clean = escape_untrusted(redact_secrets(text));
  if (clean.size() <= max_bytes) return clean;
  std::size_t cut = max_bytes;
  // Never cut inside a UTF-8 sequence (escape_untrusted leaves only valid UTF-8).
  while (cut > 0 && (static_cast<unsigned char>(clean[cut]) & 0xC0) == 0x80) --cut;
  clean.resize(cut);
  clean += "...";
  return clean;
}

int http_status(ApiErrorKind kind) { return info_for(kind).status; }

ApiErrorKind error_kind_for_reason(std::string_view reason) {
  if (reason == "budget:unavailable") return ApiErrorKind::overloaded;  // journal cannot be written
  if (starts_with(reason, "budget:")) return ApiErrorKind::budget_exceeded;
  if (reason == "rate:rpm") return ApiErrorKind::rate_requests;
  if (reason == "rate:tpm") return ApiErrorKind::rate_tokens;
  if (reason == "rate:concurrency") return ApiErrorKind::overloaded;
  return ApiErrorKind::policy_denied;  // shield:*, safety:*, tool:*, trust:*, anything else
}

ApiErrorResponse make_api_error(ApiErrorKind kind, std::string_view message, ApiFlavor flavor,
                                std::optional<std::int64_t> retry_after_seconds,
                                std::string_view code_override) {
  const KindInfo info = info_for(kind);
  const std::string safe_message = sanitize_error_text(message, 400);
  nlohmann::json body;
  if (flavor == ApiFlavor::anthropic) {
    body = {{"type", "error"},
            {"error", {{"type", info.anthropic_type}, {"message", safe_message}}}};
  } else {
    const std::string code =
        code_override.empty() ? std::string(info.openai_code) : sanitize_error_text(code_override);
    body = {{"error",
             {{"message", safe_message}, {"type", info.openai_type}, {"code", code},
              {"param", nullptr}}}};
  }
  ApiErrorResponse response;
  response.status = info.status;
  response.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (retry_after_seconds && (info.status == 429 || info.status == 503)) {
    const std::int64_t seconds = *retry_after_seconds < 1 ? 1 : *retry_after_seconds;
    response.headers.emplace_back("Retry-After", std::to_string(seconds));
  }
  if (kind == ApiErrorKind::budget_exceeded || kind == ApiErrorKind::policy_denied ||
      kind == ApiErrorKind::bad_request) {
    response.headers.emplace_back("x-should-retry", "false");
  }
  return response;
}

ApiErrorResponse api_error_for_decision(const Decision& decision, ApiFlavor flavor,
                                        std::optional<std::int64_t> retry_after_seconds) {
  const ApiErrorKind kind = error_kind_for_reason(decision.reason);
  std::string message;
  switch (kind) {
    case ApiErrorKind::budget_exceeded:
      message = "sallyport token budget exceeded (" + decision.reason + ")";
      break;
    case ApiErrorKind::rate_requests:
      message = "sallyport rate limit reached for requests per minute";
      break;
    case ApiErrorKind::rate_tokens:
      message = "sallyport rate limit reached for tokens per minute";
      break;
    case ApiErrorKind::overloaded:
      message = decision.reason == "rate:concurrency"
                    ? "sallyport is overloaded: too many concurrent requests, retry later"
                    : "sallyport cannot account for this request right now (" + decision.reason +
                          "), retry later";
      break;
    default:
      message = "request denied by sallyport policy (" + decision.reason + ")";
      break;
  }
  if (!decision.rule.empty()) message += ": rule " + sanitize_error_text(decision.rule, 120);
  const std::string_view code =
      kind == ApiErrorKind::policy_denied ? std::string_view(decision.reason) : std::string_view{};
  return make_api_error(kind, message, flavor, retry_after_seconds, code);
}

}  // namespace sallyport::governance
