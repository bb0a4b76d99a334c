// Request tool stripping and non-streamed response rewriting, OpenAI and Anthropic shapes.
#include <gtest/gtest.h>

#include "governance/tool_calls.hpp"

namespace sallyport::governance {
namespace {

using nlohmann::json;

std::shared_ptr<const ToolPolicy> test_policy() {
  auto result = parse_tool_policy(R"({"version":1,"default":"allow","rules":[
    {"name":"no-shell","tool":"shell","action":"deny"},
    {"name":"fetch-no-imds","tool":"fetch","args":"169\\.254\\.169\\.254","action":"deny"},
    {"name":"fs-delete","tool":"fs_delete","action":"require_approval"},
    {"name":"deploy","tool":"deploy","action":"allow","min_trust":800}]})");
  EXPECT_TRUE(result.ok());
  return result.policy;
}

json openai_tool(const std::string& name) {
  return json{{"type", "function"},
              {"function", {{"name", name}, {"parameters", {{"type", "object"}}}}}};
}

TEST(StripDeniedTools, OpenAiRemovesDeniedToolsAndFixesToolChoice) {
  auto policy = test_policy();
  json request = {{"model", "gpt-4o"},
                  {"tools", {openai_tool("shell"), openai_tool("fetch"), openai_tool("fs_delete"),
                             openai_tool("deploy")}},
                  {"tool_choice", {{"type", "function"}, {"function", {{"name", "shell"}}}}}};
  auto result = strip_denied_tools(request, ApiFlavor::openai, *policy, TrustInput{500, 0});
  ASSERT_EQ(result.removed.size(), 2u);
  EXPECT_EQ(result.removed[0].tool, "shell");
  EXPECT_EQ(result.removed[0].decision.reason, "tool:denied");
  EXPECT_EQ(result.removed[0].decision.rule, "no-shell");
  EXPECT_EQ(result.removed[1].tool, "deploy");
  EXPECT_EQ(result.removed[1].decision.reason, "trust:below-threshold");
  EXPECT_TRUE(result.changed);
  ASSERT_EQ(request["tools"].size(), 2u);  // fetch (args-dependent) and fs_delete (approval) stay
  EXPECT_EQ(request["tools"][0]["function"]["name"], "fetch");
  EXPECT_EQ(request["tools"][1]["function"]["name"], "fs_delete");
  EXPECT_EQ(request["tool_choice"], "auto");
}

TEST(StripDeniedTools, OpenAiDropsEmptyToolsWithChoiceAndParallelFlag) {
  auto policy = test_policy();
  json request = {{"tools", {openai_tool("shell")}}, {"tool_choice", "required"},
                  {"parallel_tool_calls", true}, {"messages", json::array()}};
  auto result = strip_denied_tools(request, ApiFlavor::openai, *policy);
  EXPECT_EQ(result.removed.size(), 1u);
  EXPECT_EQ(request, (json{{"messages", json::array()}}));
}

TEST(StripDeniedTools, OpenAiLegacyFunctions) {
  auto policy = test_policy();
  json request = {{"functions", {{{"name", "shell"}}, {{"name", "calculator"}}}},
                  {"function_call", {{"name", "shell"}}}};
  auto result = strip_denied_tools(request, ApiFlavor::openai, *policy);
  ASSERT_EQ(result.removed.size(), 1u);
  EXPECT_EQ(request["functions"], (json{{{"name", "calculator"}}}));
  EXPECT_EQ(request["function_call"], "auto");
}

TEST(StripDeniedTools, AnthropicToolsAndToolChoice) {
  auto policy = test_policy();
  json request = {{"model", "claude"},
                  {"tools", {{{"name", "shell"}, {"input_schema", {{"type", "object"}}}},
                             {{"name", "calculator"}, {"input_schema", {{"type", "object"}}}}}},
                  {"tool_choice", {{"type", "tool"}, {"name", "shell"}}}};
  auto result = strip_denied_tools(request, ApiFlavor::anthropic, *policy);
  ASSERT_EQ(result.removed.size(), 1u);
  EXPECT_EQ(result.removed[0].tool, "shell");
  ASSERT_EQ(request["tools"].size(), 1u);
  EXPECT_EQ(request["tools"][0]["name"], "calculator");
  EXPECT_EQ(request["tool_choice"], (json{{"type", "auto"}}));

  json only_shell = {{"tools", {{{"name", "shell"}}}}, {"tool_choice", {{"type", "any"}}}};
  strip_denied_tools(only_shell, ApiFlavor::anthropic, *policy);
  EXPECT_FALSE(only_shell.contains("tools"));
  EXPECT_FALSE(only_shell.contains("tool_choice"));
}

TEST(StripDeniedTools, LeavesAllowedRequestsAndOddBodiesUntouched) {
  auto policy = test_policy();
  json request = {{"tools", {openai_tool("calculator")}}, {"tool_choice", "auto"}};
  const json before = request;
  auto result = strip_denied_tools(request, ApiFlavor::openai, *policy);
  EXPECT_FALSE(result.changed);
  EXPECT_EQ(request, before);
  json not_object = json::array({1, 2});
  EXPECT_FALSE(strip_denied_tools(not_object, ApiFlavor::openai, *policy).changed);
  json tools_not_array = {{"tools", "shell"}};
  EXPECT_FALSE(strip_denied_tools(tools_not_array, ApiFlavor::anthropic, *policy).changed);
}

json openai_call(const std::string& id, const std::string& name, const std::string& args) {
  return json{{"id", id}, {"type", "function"}, {"function", {{"name", name}, {"arguments", args}}}};
}

TEST(FilterResponse, OpenAiMixedCallsKeepAllowedAndExplainDenied) {
  auto judge = make_policy_judge(test_policy());
  json response = {
      {"id", "chatcmpl-1"},
      {"object", "chat.completion"},
      {"choices",
       {{{"index", 0},
         {"message",
          {{"role", "assistant"},
           {"content", nullptr},
           {"tool_calls",
            {openai_call("call_1", "shell", R"({"command":"rm -rf /"})"),
             openai_call("call_2", "fetch", R"({"url":"https://example.com"})"),
             openai_call("call_3", "fetch", R"({"url":"http://169.254.169.254/latest"})")}}}},
         {"finish_reason", "tool_calls"}}}}};
  auto result = filter_response_tool_calls(response, ApiFlavor::openai, judge);
  EXPECT_EQ(result.blocked, 2u);
  ASSERT_EQ(result.calls.size(), 3u);
  EXPECT_EQ(result.calls[0].call_id, "call_1");
  EXPECT_EQ(result.calls[0].decision.rule, "no-shell");
  EXPECT_TRUE(result.calls[1].decision.allowed());
  EXPECT_EQ(result.calls[2].decision.rule, "fetch-no-imds");
  const json& message = response["choices"][0]["message"];
  ASSERT_EQ(message["tool_calls"].size(), 1u);
  EXPECT_EQ(message["tool_calls"][0]["id"], "call_2");
  EXPECT_EQ(message["content"],
            "[sallyport] tool call 'shell' blocked by policy rule 'no-shell' (tool:denied)\n"
            "[sallyport] tool call 'fetch' blocked by policy rule 'fetch-no-imds' (tool:denied)");
  EXPECT_EQ(response["choices"][0]["finish_reason"], "tool_calls");  // one call remains
}

TEST(FilterResponse, OpenAiAllDeniedBecomesStopWithText) {
  auto judge = make_policy_judge(test_policy());
  json response = {{"choices",
                    {{{"index", 0},
                      {"message", {{"role", "assistant"}, {"content", "Let me run it."},
                                   {"tool_calls", {openai_call("c1", "shell", "{}")}}}},
                      {"finish_reason", "tool_calls"}}}}};
  filter_response_tool_calls(response, ApiFlavor::openai, judge);
  const json& choice = response["choices"][0];
  EXPECT_FALSE(choice["message"].contains("tool_calls"));
  EXPECT_EQ(choice["message"]["content"],
            "Let me run it.\n[sallyport] tool call 'shell' blocked by policy rule 'no-shell' (tool:denied)");
  EXPECT_EQ(choice["finish_reason"], "stop");
}

TEST(FilterResponse, OpenAiLegacyFunctionCallAndApprovalCountsAsDeny) {
  auto judge = make_policy_judge(test_policy());
  json response = {{"choices",
                    {{{"index", 0},
                      {"message", {{"role", "assistant"}, {"content", nullptr},
                                   {"function_call", {{"name", "fs_delete"}, {"arguments", "{}"}}}}},
                      {"finish_reason", "function_call"}}}}};
  auto result = filter_response_tool_calls(response, ApiFlavor::openai, judge);
  EXPECT_EQ(result.calls.at(0).decision.reason, "tool:approval-required");
  EXPECT_FALSE(response["choices"][0]["message"].contains("function_call"));
  EXPECT_EQ(response["choices"][0]["finish_reason"], "stop");
}

TEST(FilterResponse, AnthropicToolUseBecomesTextBlock) {
  auto judge = make_policy_judge(test_policy());
  json response = {
      {"type", "message"},
      {"role", "assistant"},
      {"content",
       {{{"type", "text"}, {"text", "I'll check."}},
        {{"type", "tool_use"}, {"id", "toolu_1"}, {"name", "shell"}, {"input", {{"command", "id"}}}},
        {{"type", "tool_use"}, {"id", "toolu_2"}, {"name", "calculator"}, {"input", {{"x", 1}}}}}},
      {"stop_reason", "tool_use"}};
  auto result = filter_response_tool_calls(response, ApiFlavor::anthropic, judge);
  EXPECT_EQ(result.blocked, 1u);
  EXPECT_EQ(result.calls.at(1).tool, "calculator");
  EXPECT_EQ(response["content"][1],
            (json{{"type", "text"},
                  {"text", "[sallyport] tool call 'shell' blocked by policy rule 'no-shell' (tool:denied)"}}));
  EXPECT_EQ(response["content"][2]["id"], "toolu_2");
  EXPECT_EQ(response["stop_reason"], "tool_use");

  json only_denied = {{"content", {{{"type", "tool_use"}, {"id", "t"}, {"name", "shell"}, {"input", json::object()}}}},
                      {"stop_reason", "tool_use"}};
  filter_response_tool_calls(only_denied, ApiFlavor::anthropic, judge);
  EXPECT_EQ(only_denied["content"][0]["type"], "text");
  EXPECT_EQ(only_denied["stop_reason"], "end_turn");
}

TEST(FilterResponse, ArgumentsSeenByJudgeAreCanonicalisedForAnthropicInput) {
  auto judge = make_policy_judge(test_policy());
  json response = {{"content", {{{"type", "tool_use"}, {"id", "t"}, {"name", "fetch"},
                                 {"input", {{"url", "http://169.254.169.254/"}}}}}},
                   {"stop_reason", "tool_use"}};
  auto result = filter_response_tool_calls(response, ApiFlavor::anthropic, judge);
  EXPECT_EQ(result.calls.at(0).decision.rule, "fetch-no-imds");
}

TEST(FilterResponse, ListCallsForAsyncDecisionsDoesNotModify) {
  json response = {{"choices",
                    {{{"index", 0}, {"message", {{"tool_calls", {openai_call("a", "shell", "{}")}}}}},
                     {{"index", 1}, {"message", {{"tool_calls", {openai_call("b", "fetch", "{}")}}}}}}}};
  const json before = response;
  auto calls = list_response_tool_calls(response, ApiFlavor::openai);
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(calls[1].name, "fetch");
  EXPECT_EQ(calls[1].choice, 1u);
  EXPECT_EQ(calls[1].sequence, 1u);
  EXPECT_EQ(response, before);
}

TEST(FilterResponse, RefusalEscapesHostileToolNames) {
  const std::string text = tool_refusal_text("evil\r\nX-Injected: 1" + std::string(300, 'a'),
                                             Decision::deny("tool:denied", "default"));
  EXPECT_EQ(text.find('\n'), std::string::npos);
  EXPECT_LT(text.size(), 260u);
}

}  // namespace
}  // namespace sallyport::governance
