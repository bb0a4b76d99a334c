#include <gtest/gtest.h>

#include "governance/usage.hpp"

namespace sallyport::governance {
namespace {

using nlohmann::json;

json J(std::string_view text) {
  auto parsed = parse_json(text);
  EXPECT_TRUE(parsed.has_value()) << text;
  return parsed.value_or(json());
}

TEST(Usage, ParseJsonNeverThrows) {
  EXPECT_FALSE(parse_json("{\"a\":").has_value());
  EXPECT_FALSE(parse_json("\xFF\xFE").has_value());
  EXPECT_FALSE(parse_json("").has_value());
  EXPECT_TRUE(parse_json("[1,2]").has_value());
}

TEST(Usage, OpenAiChatCompletion) {
  const auto usage = usage_from_response(J(R"({"id":"chatcmpl-1","object":"chat.completion",
    "choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],
    "usage":{"prompt_tokens":12,"completion_tokens":5,"total_tokens":17,
             "prompt_tokens_details":{"cached_tokens":0}}})"));
  ASSERT_TRUE(usage);
  EXPECT_EQ(*usage, (TokenUsage{12, 5, 17}));
}

TEST(Usage, OpenAiResponsesApi) {
  const auto usage = usage_from_response(J(R"({"id":"resp_1","object":"response",
    "usage":{"input_tokens":30,"output_tokens":70,"total_tokens":100,
             "output_tokens_details":{"reasoning_tokens":40}}})"));
  ASSERT_TRUE(usage);
  EXPECT_EQ(*usage, (TokenUsage{30, 70, 100}));
}

TEST(Usage, OpenAiEmbeddings) {
  const auto usage = usage_from_response(J(R"({"object":"list","data":[],
    "model":"text-embedding-3-small","usage":{"prompt_tokens":8,"total_tokens":8}})"));
  ASSERT_TRUE(usage);
  EXPECT_EQ(*usage, (TokenUsage{8, 0, 8}));
}

TEST(Usage, AnthropicNonStreamCountsCacheTokens) {
  const auto usage = usage_from_response(J(R"({"id":"msg_1","type":"message",
    "usage":{"input_tokens":10,"cache_creation_input_tokens":100,"cache_read_input_tokens":5,
             "output_tokens":20}})"));
  ASSERT_TRUE(usage);
  EXPECT_EQ(*usage, (TokenUsage{115, 20, 135}));
}

TEST(Usage, MissingOrMalformedUsageIsAbsent) {
  EXPECT_FALSE(usage_from_response(J(R"({"choices":[]})")));
  EXPECT_FALSE(usage_from_response(J(R"({"usage":null})")));
  EXPECT_FALSE(usage_from_response(J(R"({"usage":{"prompt_tokens":"12"}})")));
  EXPECT_FALSE(usage_from_response(J(R"({"usage":{"prompt_tokens":-4}})")));
  EXPECT_FALSE(usage_from_response(J("[]")));
}

TEST(Usage, ReportedTotalSmallerThanSumNeverUndercharges) {
  const auto usage = usage_from_response(
      J(R"({"usage":{"prompt_tokens":10,"completion_tokens":10,"total_tokens":3}})"));
  ASSERT_TRUE(usage);
  EXPECT_EQ(usage->total_tokens, 20);
}

TEST(Usage, UsageOnlyChunkDetection) {
  EXPECT_TRUE(is_usage_only_chunk(J(R"({"choices":[],"usage":{"prompt_tokens":1,
    "completion_tokens":1,"total_tokens":2}})")));
  EXPECT_FALSE(is_usage_only_chunk(J(R"({"choices":[{"index":0,"delta":{}}],"usage":null})")));
  EXPECT_FALSE(is_usage_only_chunk(J(R"({"choices":[],"usage":null})")));
  // Azure's first chunk: empty choices + prompt_filter_results, no usage — must be kept.
  EXPECT_FALSE(is_usage_only_chunk(J(R"({"choices":[],"prompt_filter_results":[]})")));
}

SseEvent event(std::string type, std::string data) {
  SseEvent e;
  e.event = std::move(type);
  e.data = std::move(data);
  e.has_data = true;
  return e;
}

TEST(Usage, OpenAiStreamTracker) {
  StreamUsageTracker tracker(ApiFlavor::openai);
  tracker.observe(event("message", R"({"choices":[{"delta":{"content":"a"}}],"usage":null})"));
  EXPECT_FALSE(tracker.usage());
  EXPECT_FALSE(tracker.final_usage_seen());
  tracker.observe(event("message", R"({"choices":[],"usage":{"prompt_tokens":9,
    "completion_tokens":2,"total_tokens":11}})"));
  tracker.observe(event("message", "[DONE]"));
  tracker.observe(event("message", "not json with usage"));
  ASSERT_TRUE(tracker.usage());
  EXPECT_EQ(*tracker.usage(), (TokenUsage{9, 2, 11}));
  EXPECT_TRUE(tracker.final_usage_seen());
}

TEST(Usage, ResponsesApiStreamTracker) {
  StreamUsageTracker tracker(ApiFlavor::openai);
  tracker.observe(event("response.created", R"({"type":"response.created","response":{"usage":null}})"));
  EXPECT_FALSE(tracker.usage());
  tracker.observe(event("response.completed", R"({"type":"response.completed",
    "response":{"id":"resp_1","usage":{"input_tokens":4,"output_tokens":6,"total_tokens":10}}})"));
  ASSERT_TRUE(tracker.usage());
  EXPECT_EQ(*tracker.usage(), (TokenUsage{4, 6, 10}));
}

TEST(Usage, AnthropicStreamTracker) {
  StreamUsageTracker tracker(ApiFlavor::anthropic);
  tracker.observe(event("message_start", R"({"type":"message_start","message":{"id":"m",
    "usage":{"input_tokens":25,"cache_read_input_tokens":5,"output_tokens":1}}})"));
  ASSERT_TRUE(tracker.usage());
  EXPECT_EQ(tracker.usage()->input_tokens, 30);
  EXPECT_FALSE(tracker.final_usage_seen());
  tracker.observe(event("content_block_delta", R"({"type":"content_block_delta","index":0,
    "delta":{"type":"text_delta","text":"usage"}})"));
  tracker.observe(event("message_delta", R"({"type":"message_delta",
    "delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":15}})"));
  EXPECT_TRUE(tracker.final_usage_seen());
  EXPECT_EQ(*tracker.usage(), (TokenUsage{30, 15, 45}));
}

TEST(UsageRequest, ReadsOpenAiFacts) {
  const auto result = read_request_facts(J(R"({"model":"gpt-4o","stream":true,
    "stream_options":{"include_usage":true},"max_completion_tokens":256,
    "messages":[{"role":"user","content":"hello"}]})"), ApiFlavor::openai);
  ASSERT_TRUE(result.facts) << result.error;
  EXPECT_EQ(result.facts->model, "gpt-4o");
  EXPECT_TRUE(result.facts->stream);
  EXPECT_TRUE(result.facts->include_usage);
  EXPECT_EQ(result.facts->max_output_tokens, 256);
  EXPECT_EQ(result.facts->max_output_field, "max_completion_tokens");
  EXPECT_GT(result.facts->prompt_estimate, 0);
}

TEST(UsageRequest, LegacyMaxTokensAndResponsesField) {
  auto legacy = read_request_facts(J(R"({"model":"m","max_tokens":100})"), ApiFlavor::openai);
  ASSERT_TRUE(legacy.facts);
  EXPECT_EQ(legacy.facts->max_output_field, "max_tokens");
  auto responses = read_request_facts(J(R"({"model":"m","input":"hi","max_output_tokens":7})"),
                                      ApiFlavor::openai);
  ASSERT_TRUE(responses.facts);
  EXPECT_EQ(responses.facts->max_output_field, "max_output_tokens");
  EXPECT_EQ(responses.facts->max_output_tokens, 7);
  auto none = read_request_facts(J(R"({"model":"m"})"), ApiFlavor::openai);
  ASSERT_TRUE(none.facts);
  EXPECT_FALSE(none.facts->max_output_tokens);
  EXPECT_FALSE(none.facts->stream);
}

TEST(UsageRequest, ValidationErrorsNameTheField) {
  struct Case {
    const char* body;
    ApiFlavor flavor;
    const char* expected;
  };
  const Case cases[] = {
      {"[1]", ApiFlavor::openai, "expected a JSON object"},
      {R"({"model":5})", ApiFlavor::openai, "/model"},
      {R"({"stream":"yes"})", ApiFlavor::openai, "/stream"},
      {R"({"max_tokens":-1})", ApiFlavor::openai, "/max_tokens"},
      {R"({"max_completion_tokens":1.5})", ApiFlavor::openai, "/max_completion_tokens"},
      {R"({"model":"claude","messages":[]})", ApiFlavor::anthropic, "/max_tokens: required"},
  };
  for (const Case& c : cases) {
    const auto result = read_request_facts(J(c.body), c.flavor);
    EXPECT_FALSE(result.facts) << c.body;
    EXPECT_NE(result.error.find(c.expected), std::string::npos) << c.body << " → " << result.error;
  }
}

TEST(UsageRequest, InjectIncludeUsage) {
  json body = J(R"({"model":"m","stream":true})");
  EXPECT_TRUE(inject_include_usage(body));
  EXPECT_EQ(body["stream_options"]["include_usage"], true);
  EXPECT_FALSE(inject_include_usage(body));  // already set: client asked, nothing to strip

  json asked = J(R"({"stream":true,"stream_options":{"include_usage":true}})");
  EXPECT_FALSE(inject_include_usage(asked));
  json not_streaming = J(R"({"stream":false})");
  EXPECT_FALSE(inject_include_usage(not_streaming));
  EXPECT_FALSE(not_streaming.contains("stream_options"));
  json explicit_false = J(R"({"stream":true,"stream_options":{"include_usage":false}})");
  EXPECT_TRUE(inject_include_usage(explicit_false));
  EXPECT_EQ(explicit_false["stream_options"]["include_usage"], true);
}

TEST(UsageRequest, SetMaxOutputTokens) {
  json legacy = J(R"({"max_tokens":5000})");
  set_max_output_tokens(legacy, ApiFlavor::openai, 1000);
  EXPECT_EQ(legacy, J(R"({"max_tokens":1000})"));

  json absent = J(R"({"model":"m"})");
  set_max_output_tokens(absent, ApiFlavor::openai, 10);
  EXPECT_EQ(absent["max_completion_tokens"], 10);

  json both = J(R"({"max_tokens":5,"max_completion_tokens":9})");
  set_max_output_tokens(both, ApiFlavor::openai, 3);
  EXPECT_EQ(both, J(R"({"max_completion_tokens":3})"));

  json anthropic = J(R"({"model":"claude"})");
  set_max_output_tokens(anthropic, ApiFlavor::anthropic, 64);
  EXPECT_EQ(anthropic["max_tokens"], 64);

  json responses = J(R"({"input":"x"})");
  set_max_output_tokens(responses, ApiFlavor::openai, 64, "max_output_tokens");
  EXPECT_EQ(responses["max_output_tokens"], 64);
}

TEST(UsageRequest, PromptEstimateIsConservativeAndBounded) {
  // 300 bytes of text in one message.
  json body = {{"model", "m"},
               {"messages", json::array({{{"role", "user"}, {"content", std::string(300, 'a')}}})}};
  EXPECT_EQ(estimate_prompt_tokens(body), 109);  // "user" counts too: (304+2)/3 + 4 + 3
  // Real tokenizers give ~75 tokens for 300 bytes of English; the estimate must not be lower.
  EXPECT_GE(estimate_prompt_tokens(body), 75);

  // A base64 image counts as a flat 1600, not as 1 MB / 3.
  json image = {{"messages", json::array({{{"role", "user"},
                                           {"content", json::array({{{"type", "image_url"},
                                                                     {"image_url",
                                                                      {{"url", "data:image/png;base64," +
                                                                                   std::string(1 << 20, 'A')}}}}})}}})}};
  EXPECT_EQ(estimate_prompt_tokens(image), 1600 + (4 + 9 + 2) / 3 + 4 + 3);

  // Anthropic system + tool_result blocks count too.
  json anthropic = J(R"({"system":"abc","messages":[{"role":"user","content":[
    {"type":"tool_result","tool_use_id":"t","content":"defghi"}]}]})");
  EXPECT_GT(estimate_prompt_tokens(anthropic), 7);
}

TEST(UsageRequest, DeepNestingDoesNotOverflowTheStack) {
  std::string deep = R"({"messages":[)";
  for (int i = 0; i < 100000; ++i) deep += "[";
  for (int i = 0; i < 100000; ++i) deep += "]";
  deep += "]}";
  auto parsed = parse_json(deep);
  ASSERT_TRUE(parsed);
  EXPECT_GE(estimate_prompt_tokens(*parsed), 3);
}

}  // namespace
}  // namespace sallyport::governance
