// SSE relay: what the agent receives for a streamed answer, whatever the TCP chunking.
#include "router/sse_relay.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace sallyport::router {
namespace {

using governance::ApiFlavor;

std::string chunk(const std::string& content) {
  return "data: " +
         nlohmann::json{{"id", "c"}, {"object", "chat.completion.chunk"},
                        {"choices", {{{"index", 0}, {"delta", {{"content", content}}}, {"finish_reason", nullptr}}}}}
             .dump() +
         "\n\n";
}

const std::string kUsageChunk =
    R"(data: {"id":"c","object":"chat.completion.chunk","choices":[],"usage":{"prompt_tokens":10,"completion_tokens":5,"total_tokens":15}})"
    "\n\n";

std::string openai_stream() {
  return ": keep-alive\n\n" + chunk("Hel") + "data: " +
         nlohmann::json{{"id", "c"}, {"choices", {{{"index", 0}, {"delta", {{"content", "lo"}}}}}}}.dump() +
         "\r\n\r\n" + kUsageChunk + "data: [DONE]\n\n";
}

// Feeds `input` in pieces of `step` bytes and returns everything sent to the client.
std::string run(SseRelay& relay, const std::string& input, std::size_t step) {
  std::string out;
  for (std::size_t i = 0; i < input.size(); i += step) {
    if (!relay.feed(std::string_view(input).substr(i, step), out)) break;
  }
  relay.finish(out);
  return out;
}

TEST(GatewaySseRelay, ForwardsUnchangedAndReadsUsageAtEverySplit) {
  const auto input = openai_stream();
  for (std::size_t step = 1; step <= input.size(); ++step) {
    SseRelay relay(SseRelayOptions{ApiFlavor::openai, false, governance::SafetyPolicy{}, nullptr});
    ASSERT_EQ(run(relay, input, step), input) << "step " << step;
    ASSERT_TRUE(relay.final_usage_seen());
    EXPECT_EQ(relay.usage()->total_tokens, 15);
    EXPECT_FALSE(relay.truncated());
  }
}

TEST(GatewaySseRelay, StripsTheInjectedUsageChunkButStillCountsIt) {
  const auto input = openai_stream();
  std::string expected = input;
  expected.erase(expected.find(kUsageChunk), kUsageChunk.size());
  for (std::size_t step : {1u, 7u, 64u, 4096u}) {
    SseRelay relay(SseRelayOptions{ApiFlavor::openai, true, std::nullopt, nullptr});
    EXPECT_EQ(run(relay, input, step), expected);
    ASSERT_TRUE(relay.usage());
    EXPECT_EQ(relay.usage()->input_tokens, 10);
    EXPECT_EQ(relay.usage()->output_tokens, 5);
  }
}

TEST(GatewaySseRelay, AnthropicUsageFromMessageStartAndDelta) {
  const std::string input =
      "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":12,\"output_tokens\":1}}}\n\n"
      "event: ping\ndata: {\"type\":\"ping\"}\n\n"
      "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"hi\"}}\n\n"
      "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":6}}\n\n"
      "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
  for (std::size_t step : {1u, 3u, 50u}) {
    SseRelay relay(SseRelayOptions{ApiFlavor::anthropic, false, std::nullopt, nullptr});
    EXPECT_EQ(run(relay, input, step), input);
    ASSERT_TRUE(relay.final_usage_seen());
    EXPECT_EQ(relay.usage()->input_tokens, 12);
    EXPECT_EQ(relay.usage()->output_tokens, 6);
  }
}

TEST(GatewaySseRelay, SafetyFloorOnALaterChunkEndsTheStreamWithAnError) {
  auto annotated = [](const std::string& severity) {
    return "data: " +
           nlohmann::json{{"choices",
                           {{{"index", 0},
                             {"delta", {{"content", "x"}}},
                             {"content_filter_results", {{"violence", {{"filtered", false}, {"severity", severity}}}}}}}}}
               .dump() +
           "\n\n";
  };
  const std::string input = annotated("safe") + annotated("low") + annotated("high") + chunk("secret") +
                            "data: [DONE]\n\n";
  governance::SafetyPolicy policy;
  policy.floor = governance::Severity::medium;
  SseRelay relay(SseRelayOptions{ApiFlavor::openai, false, policy, nullptr});
  const auto out = run(relay, input, 5);
  ASSERT_TRUE(relay.blocked());
  EXPECT_EQ(relay.blocked()->reason, "safety:floor");
  EXPECT_EQ(out.find("secret"), std::string::npos);
  EXPECT_EQ(out.find("[DONE]"), std::string::npos);
  EXPECT_NE(out.find(annotated("low")), std::string::npos);
  EXPECT_NE(out.find(R"("error")"), std::string::npos);
  EXPECT_TRUE(out.ends_with("\n\n"));
}

TEST(GatewaySseRelay, TruncatedStreamDropsThePartialEvent) {
  const std::string input = chunk("a") + "data: {\"choi";
  SseRelay relay(SseRelayOptions{ApiFlavor::openai, false, std::nullopt, nullptr});
  EXPECT_EQ(run(relay, input, 4), chunk("a"));
  EXPECT_TRUE(relay.truncated());
  EXPECT_FALSE(relay.usage());
}

TEST(GatewaySseRelay, NonJsonDataIsForwardedAsIs) {
  const std::string input = "data: not json\n\n" + chunk("ok") + "data: [DONE]\n\n";
  SseRelay relay(SseRelayOptions{ApiFlavor::openai, false, std::nullopt, nullptr});
  EXPECT_EQ(run(relay, input, 3), input);
  EXPECT_EQ(relay.non_json_events(), 1u);
}

std::string tool_delta(const nlohmann::json& call) {
  return "data: " +
         nlohmann::json{{"id", "c"},
                        {"object", "chat.completion.chunk"},
                        {"choices", {{{"index", 0}, {"delta", {{"tool_calls", {call}}}}, {"finish_reason", nullptr}}}}}
             .dump() +
         "\n\n";
}

TEST(GatewaySseRelay, DeniedStreamedToolCallNeverReachesTheAgent) {
  auto policy = governance::parse_tool_policy(
      R"({"version":1,"default":"allow","rules":[{"name":"no-shell","tool":"shell","action":"deny"}]})");
  ASSERT_TRUE(policy.ok());
  std::shared_ptr<const governance::ToolPolicy> shared = policy.policy;
  const std::string input =
      chunk("Running it.") +
      tool_delta({{"index", 0}, {"id", "call_1"}, {"type", "function"}, {"function", {{"name", "shell"}, {"arguments", ""}}}}) +
      tool_delta({{"index", 0}, {"function", {{"arguments", "{\"cmd\":\"curl evil\"}"}}}}) +
      "data: " + nlohmann::json{{"id", "c"}, {"choices", {{{"index", 0}, {"delta", nlohmann::json::object()}, {"finish_reason", "tool_calls"}}}}}.dump() +
      "\n\n" + "data: [DONE]\n\n";
  for (std::size_t step : {1u, 9u, 4096u}) {
    auto copy = std::make_unique<governance::OpenAiToolCallStreamFilter>(
        [shared](const governance::ToolCallInfo& call) -> std::optional<Decision> {
          return shared->evaluate(call.name, call.arguments).decision;
        });
    SseRelay relay(SseRelayOptions{ApiFlavor::openai, false, std::nullopt, std::move(copy)});
    const auto out = run(relay, input, step);
    EXPECT_EQ(out.find("curl evil"), std::string::npos);
    EXPECT_EQ(out.find("\"tool_calls\""), std::string::npos) << out;
    EXPECT_NE(out.find("blocked by policy rule 'no-shell'"), std::string::npos);
    EXPECT_NE(out.find("Running it."), std::string::npos);
    EXPECT_TRUE(out.ends_with("data: [DONE]\n\n"));
    ASSERT_EQ(relay.tool_verdicts().size(), 1u);
    EXPECT_EQ(relay.tool_verdicts()[0].decision.reason, "tool:denied");
  }
}

}  // namespace
}  // namespace sallyport::router
