// Tool-call enforcement for the OpenAI Responses API (/v1/responses): output items of type
// function_call / custom_tool_call, whole or streamed (contracts in tool_calls.hpp).
#include <limits>
#include <utility>

#include "governance/tool_calls.hpp"

namespace sallyport::governance {
namespace {

using nlohmann::json;

constexpr std::size_t kNoIndex = std::numeric_limits<std::size_t>::max();

std::string string_or_empty(const json& object, const char* key) {
  if (!object.is_object()) return {};
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::size_t index_at(const json& object, const char* key) {
  if (!object.is_object()) return kNoIndex;
  auto it = object.find(key);
  if (it == object.end() || !it->is_number_integer() || it->get<long long>() < 0) return kNoIndex;
  return it->get<std::size_t>();
}

bool is_call_item(const json& item) {
  const std::string type = string_or_empty(item, "type");
  return type == "function_call" || type == "custom_tool_call";
}

// Name, call id and arguments of a call item (custom tools carry free text in "input").
ToolCallInfo call_info(const json& item) {
  ToolCallInfo info;
  info.id = string_or_empty(item, "call_id");
  if (info.id.empty()) info.id = string_or_empty(item, "id");
  info.name = string_or_empty(item, "name");
  const char* key = string_or_empty(item, "type") == "custom_tool_call" ? "input" : "arguments";
  if (item.is_object() && item.contains(key)) {
    const json& value = item.at(key);
    info.arguments = value.is_string() ? value.get<std::string>()
                                       : value.dump(-1, ' ', false, json::error_handler_t::replace);
  }
  return info;
}

std::string refusal_item_id(const json& call_item, std::size_t output_index) {
  std::string id = string_or_empty(call_item, "id");
  if (id.empty()) id = std::to_string(output_index);
  return "msg_sallyport_" + id;
}

json output_text_part(const std::string& text) {
  return json{{"type", "output_text"}, {"text", text}, {"annotations", json::array()}};
}

json refusal_item(const std::string& id, const std::string& text) {
  return json{{"type", "message"},
              {"id", id},
              {"status", "completed"},
              {"role", "assistant"},
              {"content", json::array({output_text_part(text)})}};
}

// Rewrites the output array of a response object; `decide` returns the verdict for a call item
// at an output index (std::nullopt = leave the item as it is).
template <typename Decide>
void rewrite_output(json& response, Decide&& decide) {
  auto output = response.is_object() ? response.find("output") : response.end();
  if (!response.is_object() || output == response.end() || !output->is_array()) return;
  for (std::size_t i = 0; i < output->size(); ++i) {
    json& item = (*output)[i];
    if (!is_call_item(item)) continue;
    const std::optional<Decision> decision = decide(item, i);
    if (decision && !decision->allowed()) {
      item = refusal_item(refusal_item_id(item, i), tool_refusal_text(string_or_empty(item, "name"), *decision));
    }
  }
}

}  // namespace

// ----- whole answers -----

std::vector<ToolCallInfo> list_responses_tool_calls(const json& response) {
  std::vector<ToolCallInfo> calls;
  json copy = response;
  filter_responses_tool_calls(copy, [&calls](const ToolCallInfo& call) {
    calls.push_back(call);
    return Decision::allow("tool:allowed");
  });
  return calls;
}

ResponseToolFilterResult filter_responses_tool_calls(json& response, const ToolCallJudge& judge) {
  ResponseToolFilterResult result;
  std::size_t sequence = 0;
  rewrite_output(response, [&](const json& item, std::size_t) -> std::optional<Decision> {
    ToolCallInfo info = call_info(item);
    info.sequence = sequence++;
    Decision decision = judge(info);
    if (!decision.allowed()) {
      ++result.blocked;
      result.changed = true;
    }
    result.calls.push_back({info.name, info.id, decision});
    return decision;
  });
  return result;
}

// ----- streams -----

ResponsesToolCallStreamFilter::ResponsesToolCallStreamFilter(StreamToolCallJudge judge)
    : ToolCallStreamFilter(std::move(judge)) {}

std::vector<json> ResponsesToolCallStreamFilter::feed(const json& event) {
  if (event.is_object() && event.contains("sequence_number") && !next_sequence_number_ &&
      event["sequence_number"].is_number_integer()) {
    next_sequence_number_ = event["sequence_number"].get<long long>();
  }
  const std::string type = string_or_empty(event, "type");
  const std::size_t output_index = index_at(event, "output_index");
  if (type == "response.output_item.added" && output_index != kNoIndex &&
      is_call_item(event.value("item", json()))) {
    HeldCall call;
    call.info = call_info(event["item"]);
    call.envelope = event["item"];
    call.envelope["output_index"] = output_index;
    call.parts.push_back(event);
    open_[output_index] = std::move(call);  // a repeated added event replaces the item
    seen_.insert(output_index);
    return drain();
  }
  if (auto open = open_.find(output_index); open != open_.end()) {
    HeldCall& call = open->second;
    if (type == "response.function_call_arguments.delta" || type == "response.custom_tool_call_input.delta") {
      call.info.arguments += string_or_empty(event, "delta");
    } else if (type == "response.function_call_arguments.done") {
      if (event.contains("arguments")) call.info.arguments = string_or_empty(event, "arguments");
    }
    call.parts.push_back(event);
    if (type == "response.output_item.done") {
      // The finished item is authoritative: judge what the agent would execute.
      const json& item = event.value("item", json());
      if (is_call_item(item)) {
        const ToolCallInfo final_info = call_info(item);
        if (!final_info.name.empty()) call.info.name = final_info.name;
        if (!final_info.id.empty()) call.info.id = final_info.id;
        const char* key = string_or_empty(item, "type") == "custom_tool_call" ? "input" : "arguments";
        if (item.contains(key)) call.info.arguments = final_info.arguments;
      }
      HeldCall done = std::move(call);
      open_.erase(open);
      complete_call(std::move(done));
    }
    return drain();
  }
  if (type == "response.completed" || type == "response.incomplete" || type == "response.failed") {
    for (auto& [index, call] : open_) complete_call(std::move(call));
    open_.clear();
    // Calls that only appear in the final response object are judged as well.
    const json& response = event.value("response", json());
    const json& output = response.is_object() ? response.value("output", json()) : json();
    for (std::size_t i = 0; output.is_array() && i < output.size(); ++i) {
      if (!is_call_item(output[i]) || seen_.contains(i)) continue;
      HeldCall call;
      call.info = call_info(output[i]);
      call.envelope = output[i];
      call.envelope["output_index"] = i;
      seen_.insert(i);
      complete_call(std::move(call));
    }
    push_finish(event, 0);
    return drain();
  }
  push_ready(event);
  return drain();
}

std::vector<json> ResponsesToolCallStreamFilter::finish() {
  for (auto& [index, call] : open_) complete_call(std::move(call));
  open_.clear();
  return drain();
}

void ResponsesToolCallStreamFilter::render_call(const HeldCall& call, std::vector<json>& out) {
  const std::size_t output_index = call.envelope["output_index"].get<std::size_t>();
  decided_.insert_or_assign(output_index, *call.decision);
  if (call.decision->allowed()) {
    for (const json& part : call.parts) out.push_back(part);
    return;
  }
  if (call.parts.empty()) return;  // only in the final response object (rewritten there)
  const std::string id = refusal_item_id(call.envelope, output_index);
  const std::string text = tool_refusal_text(call.info.name, *call.decision);
  json in_progress = refusal_item(id, "");
  in_progress["status"] = "in_progress";
  in_progress["content"] = json::array();
  const json where{{"item_id", id}, {"output_index", output_index}, {"content_index", 0}};
  auto event = [&](const char* type, json fields) {
    fields["type"] = type;
    return fields;
  };
  out.push_back(event("response.output_item.added", {{"output_index", output_index}, {"item", in_progress}}));
  json part_added = where;
  part_added["part"] = output_text_part("");
  out.push_back(event("response.content_part.added", part_added));
  json delta = where;
  delta["delta"] = text;
  out.push_back(event("response.output_text.delta", delta));
  json text_done = where;
  text_done["text"] = text;
  out.push_back(event("response.output_text.done", text_done));
  json part_done = where;
  part_done["part"] = output_text_part(text);
  out.push_back(event("response.content_part.done", part_done));
  out.push_back(event("response.output_item.done",
                      {{"output_index", output_index}, {"item", refusal_item(id, text)}}));
}

void ResponsesToolCallStreamFilter::render_finish(const QueueItem& item, std::vector<json>& out) {
  json event = item.payload;
  if (event.contains("response")) {
    rewrite_output(event["response"], [this](const json&, std::size_t index) -> std::optional<Decision> {
      auto it = decided_.find(index);
      if (it == decided_.end()) return std::nullopt;
      return it->second;
    });
  }
  out.push_back(std::move(event));
}

void ResponsesToolCallStreamFilter::on_drained(std::vector<json>& out) {
  if (!next_sequence_number_) return;
  for (json& event : out) {
    if (event.is_object() && string_or_empty(event, "type").starts_with("response.")) {
      event["sequence_number"] = (*next_sequence_number_)++;
    }
  }
}

}  // namespace sallyport::governance
