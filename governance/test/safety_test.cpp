#include <gtest/gtest.h>

#include "governance/content_safety.hpp"
#include "governance/usage.hpp"

namespace sallyport::governance {
namespace {

using nlohmann::json;

json J(std::string_view text) {
  auto parsed = parse_json(text);
  EXPECT_TRUE(parsed.has_value()) << text;
  return parsed.value_or(json());
}

// Shape of a real Azure OpenAI chat completion (api-version 2024-10-21).
constexpr std::string_view kAzureResponse = R"({
  "choices": [{
    "content_filter_results": {
      "hate": {"filtered": false, "severity": "safe"},
      "protected_material_code": {"filtered": false, "detected": false},
      "protected_material_text": {"filtered": false, "detected": false},
      "self_harm": {"filtered": false, "severity": "safe"},
      "sexual": {"filtered": false, "severity": "safe"},
      "violence": {"filtered": false, "severity": "%VIOLENCE%"}
    },
    "finish_reason": "stop", "index": 0, "logprobs": null,
    "message": {"content": "Here is the story.", "refusal": null, "role": "assistant"}
  }],
  "created": 1732000000, "id": "chatcmpl-AZ1", "model": "gpt-4o-2024-08-06",
  "object": "chat.completion",
  "prompt_filter_results": [{
    "prompt_index": 0,
    "content_filter_results": {
      "hate": {"filtered": false, "severity": "safe"},
      "jailbreak": {"filtered": false, "detected": %JAILBREAK%},
      "self_harm": {"filtered": false, "severity": "safe"},
      "sexual": {"filtered": false, "severity": "safe"},
      "violence": {"filtered": false, "severity": "safe"}
    }
  }],
  "system_fingerprint": "fp_04751d0b65",
  "usage": {"completion_tokens": 5, "prompt_tokens": 20, "total_tokens": 25}
})";

json azure_response(std::string_view violence, bool jailbreak) {
  std::string text(kAzureResponse);
  text.replace(text.find("%VIOLENCE%"), 10, violence);
  text.replace(text.find("%JAILBREAK%"), 11, jailbreak ? "true" : "false");
  return J(text);
}

TEST(ContentSafety, CleanAzureResponsePassesAndRecordsFindings) {
  const SafetyReport report = evaluate_content_safety(azure_response("safe", false),
                                                      SafetyPolicy{Severity::medium, true, false});
  EXPECT_TRUE(report.decision.allowed());
  EXPECT_EQ(report.decision.reason, "safety:pass");
  // 5 prompt categories + 6 choice categories.
  EXPECT_EQ(report.findings.size(), 11u);
  EXPECT_EQ(report.findings[0].where, "prompt[0]");
  EXPECT_FALSE(report.upstream_content_filter_error);
}

// Floor table: severity × floor → blocked?
TEST(ContentSafety, FloorEnforcementTable) {
  const char* severities[] = {"safe", "low", "medium", "high"};
  const Severity floors[] = {Severity::low, Severity::medium, Severity::high};
  for (Severity floor : floors) {
    for (int s = 0; s < 4; ++s) {
      const SafetyReport report =
          evaluate_content_safety(azure_response(severities[s], false), SafetyPolicy{floor, true, false});
      const bool should_block = s >= static_cast<int>(floor);
      EXPECT_EQ(!report.decision.allowed(), should_block)
          << "severity " << severities[s] << " floor " << to_string(floor);
      if (should_block) {
        EXPECT_EQ(report.decision.reason, "safety:floor");
        EXPECT_EQ(report.decision.rule, std::string("violence:") + severities[s]);
      }
    }
  }
}

TEST(ContentSafety, DetectedJailbreakBlocksOnlyWhenEnforcing) {
  const json body = azure_response("safe", true);
  const SafetyReport enforcing = evaluate_content_safety(body, SafetyPolicy{Severity::high, true, false});
  EXPECT_FALSE(enforcing.decision.allowed());
  EXPECT_EQ(enforcing.decision.reason, "shield:jailbreak");
  EXPECT_EQ(enforcing.decision.rule, "jailbreak");
  const SafetyReport observing = evaluate_content_safety(body, SafetyPolicy{Severity::high, false, false});
  EXPECT_TRUE(observing.decision.allowed());
}

TEST(ContentSafety, EveryStreamedChunkIsChecked) {
  // First streamed chunk from Azure: prompt results only, empty choices.
  const json first = J(R"({"choices":[],"created":0,"id":"","model":"","object":"",
    "prompt_filter_results":[{"prompt_index":0,"content_filter_results":{
      "hate":{"filtered":false,"severity":"safe"},"self_harm":{"filtered":false,"severity":"safe"},
      "sexual":{"filtered":false,"severity":"safe"},"violence":{"filtered":false,"severity":"safe"}}}]})");
  // A later content chunk with an annotation above the floor.
  const json later = J(R"({"choices":[{"content_filter_results":{
      "hate":{"filtered":false,"severity":"safe"},"self_harm":{"filtered":false,"severity":"safe"},
      "sexual":{"filtered":false,"severity":"medium"},"violence":{"filtered":false,"severity":"low"}},
      "delta":{"content":" text"},"finish_reason":null,"index":0,"logprobs":null}],
      "created":1732000000,"id":"chatcmpl-AZ2","model":"gpt-4o","object":"chat.completion.chunk"})");
  const SafetyPolicy policy{Severity::medium, true, false};
  EXPECT_TRUE(evaluate_content_safety(first, policy).decision.allowed());
  const SafetyReport report = evaluate_content_safety(later, policy);
  EXPECT_FALSE(report.decision.allowed());
  EXPECT_EQ(report.decision.rule, "sexual:medium");
  EXPECT_NE(report.decision.detail.find("choice[0]"), std::string::npos);
}

TEST(ContentSafety, AzureContentFilterError) {
  const json error = J(R"({"error":{"message":"The response was filtered due to the prompt triggering Azure OpenAI's content management policy. Please modify your prompt and retry.",
    "type":null,"param":"prompt","code":"content_filter","status":400,
    "innererror":{"code":"ResponsibleAIPolicyViolation","content_filter_result":{
      "hate":{"filtered":false,"severity":"safe"},
      "jailbreak":{"filtered":false,"detected":false},
      "self_harm":{"filtered":false,"severity":"safe"},
      "sexual":{"filtered":false,"severity":"safe"},
      "violence":{"filtered":true,"severity":"high"}}}}})");
  const SafetyReport report = evaluate_content_safety(error, SafetyPolicy{Severity::high, true, false});
  EXPECT_TRUE(report.upstream_content_filter_error);
  EXPECT_EQ(report.decision.reason, "safety:floor");
  EXPECT_EQ(report.decision.rule, "violence:high");
  EXPECT_EQ(report.findings.back().where, "error");

  // Below our floor, but Azure refused anyway: still a denial, named as the upstream's.
  json mild = error;
  mild["error"]["innererror"]["content_filter_result"]["violence"] = {{"filtered", true},
                                                                      {"severity", "medium"}};
  const SafetyReport upstream = evaluate_content_safety(mild, SafetyPolicy{Severity::high, true, false});
  EXPECT_EQ(upstream.decision.reason, "safety:upstream-filter");
  EXPECT_EQ(upstream.decision.rule, "content_filter");

  json jailbreak = error;
  jailbreak["error"]["innererror"]["content_filter_result"]["jailbreak"] = {{"filtered", true},
                                                                            {"detected", true}};
  EXPECT_EQ(evaluate_content_safety(jailbreak, SafetyPolicy{}).decision.reason, "shield:jailbreak");
}

TEST(ContentSafety, ProtectedMaterialIsOptIn) {
  const json body = J(R"({"choices":[{"index":0,"content_filter_results":{
    "protected_material_code":{"filtered":false,"detected":true,
      "citation":{"URL":"https://github.com/x/y","license":"MIT"}}}}]})");
  EXPECT_TRUE(evaluate_content_safety(body, SafetyPolicy{}).decision.allowed());
  const SafetyReport blocked = evaluate_content_safety(body, SafetyPolicy{Severity::high, true, true});
  EXPECT_EQ(blocked.decision.reason, "safety:protected-material");
  EXPECT_EQ(blocked.decision.rule, "protected_material_code");
}

TEST(ContentSafety, MalformedAnnotationsNeverCrashAndUnknownSeverityFailsClosed) {
  EXPECT_TRUE(evaluate_content_safety(J("[]"), SafetyPolicy{}).decision.allowed());
  EXPECT_TRUE(evaluate_content_safety(J(R"({"choices":"x","prompt_filter_results":{}})"),
                                      SafetyPolicy{}).decision.allowed());
  EXPECT_TRUE(evaluate_content_safety(J(R"({"choices":[{"content_filter_results":{"hate":7}}]})"),
                                      SafetyPolicy{}).decision.allowed());
  const SafetyReport unknown = evaluate_content_safety(
      J(R"({"choices":[{"content_filter_results":{"hate":{"filtered":false,"severity":"extreme"}}}]})"),
      SafetyPolicy{Severity::high, true, false});
  EXPECT_EQ(unknown.decision.rule, "hate:high");
}

TEST(ContentSafety, OlderPromptAnnotationsKey) {
  const json body = J(R"({"prompt_annotations":[{"prompt_index":0,"content_filter_results":{
    "self_harm":{"filtered":false,"severity":"medium"}}}],"choices":[]})");
  const SafetyReport report = evaluate_content_safety(body, SafetyPolicy{Severity::medium, true, false});
  EXPECT_EQ(report.decision.rule, "self_harm:medium");
}

TEST(ContentSafety, ParseSeverity) {
  EXPECT_EQ(parse_severity("safe"), Severity::safe);
  EXPECT_EQ(parse_severity("high"), Severity::high);
  EXPECT_FALSE(parse_severity("HIGH"));
  EXPECT_LT(Severity::low, Severity::medium);
}

}  // namespace
}  // namespace sallyport::governance
