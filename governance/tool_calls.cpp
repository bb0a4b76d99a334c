// Tool stripping on requests and tool-call blocking on non-streamed responses
// (contracts in tool_calls.hpp).
#include "governance/tool_calls.hpp"

#include <set>
#include <utility>

#include "common/redact.hpp"

namespace sallyport::governance {
namespace {

using nlohmann::json;

constexpr std::size_t kMaxToolNameInRefusal = 128;

const std::string* string_at(const json& object, const char* key) {
  if (!object.is_object()) return nullptr;
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? &it->get_ref<const std::string&>() : nullptr;
}

// The name a tool definition or tool_choice refers to, in any of the supported shapes.
std::string referenced_tool_name(const json& entry) {
  if (!entry.is_object()) return {};
  for (const char* nested : {"function", "custom"}) {
    if (auto it = entry.find(nested); it != entry.end()) {
      if (const auto* name = string_at(*it, "name")) return *name;
    }
  }
  if (const auto* name = string_at(entry, "name")) return *name;
  if (const auto* type = string_at(entry, "type")) {
    // {type:"function"} without a name is malformed; only built-in tools are named by type.
    if (*type != "function" && *type != "custom" && *type != "tool" && *type != "auto" &&
        *type != "any" && *type != "none")
      return *type;
  }
  return {};
}

// Removes always-denied entries from request[key]; returns the removed names.
std::set<std::string> strip_array(json& request, const char* key, const ToolPolicy& policy,
                                  const TrustInput& trust, RequestToolFilterResult& result) {
  std::set<std::string> removed;
  auto it = request.find(key);
  if (it == request.end() || !it->is_array()) return removed;
  json kept = json::array();
  for (auto& tool : *it) {
    const std::string name = referenced_tool_name(tool);
    if (!name.empty() && policy.always_denied(name, trust)) {
      result.removed.push_back({name, {}, policy.evaluate(name, "", trust).decision});
      removed.insert(name);
      continue;
    }
    kept.push_back(std::move(tool));
  }
  *it = std::move(kept);
  return removed;
}

// Fixes a choice key after tools were removed: "auto" when tools remain, dropped otherwise.
void fix_choice(json& request, const char* tools_key, const char* choice_key,
                const std::set<std::string>& removed, const json& auto_choice,
                RequestToolFilterResult& result) {
  const bool tools_left = request.contains(tools_key) && !(*request.find(tools_key)).empty();
  auto choice = request.find(choice_key);
  if (choice == request.end()) return;
  if (!tools_left) {
    request.erase(choice);
    result.changed = true;
    return;
  }
  const std::string named = referenced_tool_name(*choice);
  if (!named.empty() && removed.contains(named)) {
    *choice = auto_choice;
    result.changed = true;
  }
}

void drop_if_empty(json& request, const char* key) {
  auto it = request.find(key);
  if (it != request.end() && it->is_array() && it->empty()) request.erase(it);
}

}  // namespace

RequestToolFilterResult strip_denied_tools(json& request, ApiFlavor shape, const ToolPolicy& policy,
                                           const TrustInput& trust) {
  RequestToolFilterResult result;
  if (!request.is_object()) return result;
  const auto removed_tools = strip_array(request, "tools", policy, trust, result);
  if (shape == ApiFlavor::anthropic) {
    if (removed_tools.empty()) return result;
    result.changed = true;
    drop_if_empty(request, "tools");
    fix_choice(request, "tools", "tool_choice", removed_tools, json{{"type", "auto"}}, result);
    return result;
  }
  const auto removed_functions = strip_array(request, "functions", policy, trust, result);
  if (!removed_tools.empty()) {
    result.changed = true;
    drop_if_empty(request, "tools");
    fix_choice(request, "tools", "tool_choice", removed_tools, json("auto"), result);
    if (!request.contains("tools")) request.erase("parallel_tool_calls");
  }
  if (!removed_functions.empty()) {
    result.changed = true;
    drop_if_empty(request, "functions");
    fix_choice(request, "functions", "function_call", removed_functions, json("auto"), result);
  }
  return result;
}

ToolCallJudge make_policy_judge(std::shared_ptr<const ToolPolicy> policy, TrustInput trust) {
  return [policy = std::move(policy), trust](const ToolCallInfo& call) {
    return policy->evaluate(call.name, call.arguments, trust).decision;
  };
}

std::string tool_refusal_text(std::string_view tool, const Decision& decision) {
  std::string name(tool.substr(0, kMaxToolNameInRefusal));
  std::string text = "[sallyport] tool call '" + escape_untrusted(name) + "' blocked by policy";
  if (!decision.rule.empty()) text += " rule '" + decision.rule + "'";
  if (!decision.reason.empty()) text += " (" + decision.reason + ")";
  return text;
}

namespace {

std::string arguments_text(const json& value) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_null()) return {};
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

ToolCallInfo call_from_openai(const json& call, std::size_t choice, bool legacy) {
  ToolCallInfo info;
  info.choice = choice;
  const json* function = &call;
  if (!legacy) {
    if (const auto* id = string_at(call, "id")) info.id = *id;
    auto it = call.find("function");
    if (it != call.end() && it->is_object()) function = &*it;
  }
  if (const auto* name = string_at(*function, "name")) info.name = *name;
  if (function->is_object() && function->contains("arguments")) {
    info.arguments = arguments_text(function->at("arguments"));
  }
  return info;
}

void append_refusals(json& message, const std::vector<std::string>& refusals) {
  if (refusals.empty()) return;
  std::string joined;
  for (const auto& r : refusals) joined += (joined.empty() ? "" : "\n") + r;
  auto content = message.find("content");
  if (content == message.end() || content->is_null()) {
    message["content"] = joined;
  } else if (content->is_string()) {
    std::string text = content->get<std::string>();
    *content = text.empty() ? joined : text + "\n" + joined;
  } else if (content->is_array()) {
    content->push_back(json{{"type", "text"}, {"text", joined}});
  } else {
    *content = joined;
  }
}

class ResponseRewriter {
 public:
  ResponseRewriter(const ToolCallJudge& judge, ResponseToolFilterResult& result)
      : judge_(judge), result_(result) {}

  // True when the call may stay; otherwise records the refusal text.
  bool keep(ToolCallInfo info, std::vector<std::string>& refusals) {
    info.sequence = next_sequence_++;
    Decision decision = judge_(info);
    const bool allowed = decision.allowed();
    if (!allowed) {
      refusals.push_back(tool_refusal_text(info.name, decision));
      ++result_.blocked;
      result_.changed = true;
    }
    result_.calls.push_back({info.name, info.id, std::move(decision)});
    return allowed;
  }

  void openai_choice(json& choice, std::size_t position) {
    auto message = choice.find("message");
    if (message == choice.end() || !message->is_object()) return;
    const std::size_t index = choice.contains("index") && choice["index"].is_number_integer() &&
                                      choice["index"].get<long long>() >= 0
                                  ? choice["index"].get<std::size_t>()
                                  : position;
    std::vector<std::string> refusals;
    if (auto calls = message->find("tool_calls"); calls != message->end() && calls->is_array()) {
      json kept = json::array();
      for (auto& call : *calls) {
        if (keep(call_from_openai(call, index, false), refusals)) kept.push_back(std::move(call));
      }
      if (kept.empty()) message->erase("tool_calls");
      else *calls = std::move(kept);
    }
    if (auto legacy = message->find("function_call"); legacy != message->end() && legacy->is_object()) {
      if (!keep(call_from_openai(*legacy, index, true), refusals)) message->erase("function_call");
    }
    append_refusals(*message, refusals);
    const bool calls_left = message->contains("tool_calls") || message->contains("function_call");
    auto finish = choice.find("finish_reason");
    if (!calls_left && finish != choice.end() &&
        (*finish == "tool_calls" || *finish == "function_call")) {
      *finish = "stop";
    }
  }

  void anthropic_message(json& response) {
    auto content = response.find("content");
    if (content == response.end() || !content->is_array()) return;
    bool tool_use_left = false;
    for (auto& block : *content) {
      const auto* type = string_at(block, "type");
      if (type == nullptr || *type != "tool_use") continue;
      ToolCallInfo info;
      if (const auto* id = string_at(block, "id")) info.id = *id;
      if (const auto* name = string_at(block, "name")) info.name = *name;
      if (block.contains("input")) info.arguments = arguments_text(block["input"]);
      std::vector<std::string> refusal;
      if (keep(std::move(info), refusal)) {
        tool_use_left = true;
      } else {
        block = json{{"type", "text"}, {"text", refusal.front()}};
      }
    }
    auto stop = response.find("stop_reason");
    if (!tool_use_left && stop != response.end() && *stop == "tool_use") *stop = "end_turn";
  }

 private:
  const ToolCallJudge& judge_;
  ResponseToolFilterResult& result_;
  std::size_t next_sequence_ = 0;
};

}  // namespace

ResponseToolFilterResult filter_response_tool_calls(json& response, ApiFlavor shape,
                                                    const ToolCallJudge& judge) {
  ResponseToolFilterResult result;
  if (!response.is_object()) return result;
  ResponseRewriter rewriter(judge, result);
  if (shape == ApiFlavor::anthropic) {
    rewriter.anthropic_message(response);
    return result;
  }
  auto choices = response.find("choices");
  if (choices == response.end() || !choices->is_array()) return result;
  for (std::size_t i = 0; i < choices->size(); ++i) {
    if ((*choices)[i].is_object()) rewriter.openai_choice((*choices)[i], i);
  }
  return result;
}

std::vector<ToolCallInfo> list_response_tool_calls(const json& response, ApiFlavor shape) {
  std::vector<ToolCallInfo> calls;
  json copy = response;
  filter_response_tool_calls(copy, shape, [&calls](const ToolCallInfo& call) {
    calls.push_back(call);
    return Decision::allow("tool:allowed");
  });
  return calls;
}

}  // namespace sallyport::governance
