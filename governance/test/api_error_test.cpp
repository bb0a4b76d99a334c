#include <gtest/gtest.h>

#include <string>

#include "governance/api_error.hpp"
#include "governance/usage.hpp"

namespace sallyport::governance {
namespace {

using nlohmann::json;

std::string header(const ApiErrorResponse& r, std::string_view name) {
  for (const auto& [k, v] : r.headers) {
    if (k == name) return v;
  }
  return "<absent>";
}

json body_of(const ApiErrorResponse& r) {
  auto parsed = parse_json(r.body);
  EXPECT_TRUE(parsed) << r.body;
  return parsed.value_or(json());
}

TEST(ApiError, StatusTable) {
  struct Case {
    ApiErrorKind kind;
    int status;
    const char* openai_type;
    const char* anthropic_type;
  };
  const Case cases[] = {
      {ApiErrorKind::bad_request, 400, "invalid_request_error", "invalid_request_error"},
      {ApiErrorKind::unauthorized, 401, "invalid_request_error", "authentication_error"},
      {ApiErrorKind::policy_denied, 403, "permission_error", "permission_error"},
      {ApiErrorKind::not_found, 404, "invalid_request_error", "not_found_error"},
      {ApiErrorKind::budget_exceeded, 429, "insufficient_quota", "rate_limit_error"},
      {ApiErrorKind::rate_requests, 429, "requests", "rate_limit_error"},
      {ApiErrorKind::rate_tokens, 429, "tokens", "rate_limit_error"},
      {ApiErrorKind::upstream_error, 502, "server_error", "api_error"},
      {ApiErrorKind::overloaded, 503, "server_error", "overloaded_error"},
      {ApiErrorKind::no_provider, 503, "server_error", "api_error"},
      {ApiErrorKind::upstream_timeout, 504, "server_error", "api_error"},
  };
  for (const Case& c : cases) {
    const auto openai = make_api_error(c.kind, "msg", ApiFlavor::openai);
    EXPECT_EQ(openai.status, c.status);
    const json o = body_of(openai);
    EXPECT_EQ(o["error"]["type"], c.openai_type);
    EXPECT_EQ(o["error"]["message"], "msg");
    EXPECT_TRUE(o["error"]["param"].is_null());
    EXPECT_TRUE(o["error"]["code"].is_string());
    const auto anthropic = make_api_error(c.kind, "msg", ApiFlavor::anthropic);
    EXPECT_EQ(anthropic.status, c.status);
    const json a = body_of(anthropic);
    EXPECT_EQ(a["type"], "error");
    EXPECT_EQ(a["error"]["type"], c.anthropic_type);
    EXPECT_EQ(a["error"]["message"], "msg");
  }
}

TEST(ApiError, BudgetDecisionIsInsufficientQuota) {
  const auto r = api_error_for_decision(Decision::deny("budget:daily", "daily_tokens=1000"),
                                        ApiFlavor::openai);
  EXPECT_EQ(r.status, 429);
  const json b = body_of(r);
  EXPECT_EQ(b["error"]["type"], "insufficient_quota");
  EXPECT_EQ(b["error"]["code"], "budget_exceeded");
  EXPECT_EQ(b["error"]["message"],
            "sallyport token budget exceeded (budget:daily): rule daily_tokens=1000");
  EXPECT_EQ(header(r, "x-should-retry"), "false");
}

TEST(ApiError, RateDecisionsCarryRetryAfter) {
  const auto rpm = api_error_for_decision(Decision::deny("rate:rpm", "rpm=60"), ApiFlavor::openai, 7);
  EXPECT_EQ(rpm.status, 429);
  EXPECT_EQ(header(rpm, "Retry-After"), "7");
  EXPECT_EQ(body_of(rpm)["error"]["type"], "requests");
  EXPECT_EQ(body_of(rpm)["error"]["code"], "rate_limit_exceeded");
  EXPECT_EQ(header(rpm, "x-should-retry"), "<absent>");  // SDK retries are fine here

  const auto tpm = api_error_for_decision(Decision::deny("rate:tpm"), ApiFlavor::anthropic, 0);
  EXPECT_EQ(header(tpm, "Retry-After"), "1");  // never 0
  EXPECT_EQ(body_of(tpm)["error"]["type"], "rate_limit_error");

  const auto journal = api_error_for_decision(Decision::deny("budget:unavailable", "journal"),
                                              ApiFlavor::openai, 1);
  EXPECT_EQ(journal.status, 503);

  const auto queue = api_error_for_decision(Decision::deny("rate:concurrency"), ApiFlavor::openai, 1);
  EXPECT_EQ(queue.status, 503);
  EXPECT_EQ(header(queue, "Retry-After"), "1");
}

TEST(ApiError, PolicyReasonsAre403WithReasonAsCode) {
  for (const char* reason : {"shield:jailbreak", "safety:floor", "tool:denied",
                             "trust:below-threshold", "safety:upstream-filter"}) {
    const auto r = api_error_for_decision(Decision::deny(reason, "rule-1"), ApiFlavor::openai);
    EXPECT_EQ(r.status, 403) << reason;
    EXPECT_EQ(body_of(r)["error"]["code"], reason);
    EXPECT_EQ(header(r, "Retry-After"), "<absent>");
  }
}

TEST(ApiError, MessagesNeverCarrySecretsOrControlCharacters) {
  const std::string key = "sk-proj-abcdefghijklmnopqrstuvwxyz0123456789ABCD";
  const auto r = make_api_error(ApiErrorKind::upstream_error,
                                "upstream said: bad key " + key + "\r\nX-Injected: 1",
                                ApiFlavor::openai);
  EXPECT_EQ(r.body.find(key), std::string::npos) << r.body;
  const std::string message = body_of(r)["error"]["message"];
  EXPECT_EQ(message.find('\n'), std::string::npos);
  EXPECT_EQ(message.find('\r'), std::string::npos);

  // Rule text (e.g. from a decision) is sanitized and bounded too.
  const auto d = api_error_for_decision(
      Decision::deny("tool:denied", std::string(1000, 'x') + key, "prompt text here"),
      ApiFlavor::anthropic);
  EXPECT_EQ(d.body.find(key), std::string::npos);
  EXPECT_EQ(d.body.find("prompt text here"), std::string::npos);  // detail never included
  EXPECT_LT(d.body.size(), 500u);
}

TEST(ApiError, InvalidUtf8NeverBreaksTheJsonBody) {
  const auto r = make_api_error(ApiErrorKind::bad_request, "bad \xFF\xFE bytes", ApiFlavor::openai);
  EXPECT_TRUE(parse_json(r.body).has_value());
}

TEST(ApiError, SanitizeTruncatesOnUtf8Boundary) {
  const std::string text = std::string(9, 'a') + "\xC3\xA9\xC3\xA9";  // a×9 é é
  const std::string cut = sanitize_error_text(text, 10);
  EXPECT_EQ(cut, std::string(9, 'a') + "...");
}

}  // namespace
}  // namespace sallyport::governance
