// Streamed tool-call enforcement: tool-call fragments are held until the call is complete, then
// released or replaced by a refusal; everything else streams through (contracts in
// tool_calls.hpp).
#include <limits>
#include <utility>

#include "governance/tool_calls.hpp"

namespace sallyport::governance {
namespace {

using nlohmann::json;

// Provider index for a legacy delta.function_call (there is at most one per choice).
constexpr std::size_t kLegacyIndex = std::numeric_limits<std::size_t>::max();

std::size_t unsigned_at(const json& object, const char* key, std::size_t fallback) {
  auto it = object.find(key);
  // Signed and unsigned JSON integers both count; negative ones do not.
  if (it == object.end() || !it->is_number_integer() || it->get<long long>() < 0) return fallback;
  return it->get<std::size_t>();
}

void append_string(std::string& target, const json& object, const char* key) {
  if (!object.is_object()) return;
  auto it = object.find(key);
  if (it != object.end() && it->is_string()) target += it->get_ref<const std::string&>();
}

}  // namespace

// ----- ordering shared by both providers -----

void ToolCallStreamFilter::complete_call(HeldCall call) {
  call.info.sequence = calls_.size();
  call.decision = judge_(call.info);
  if (call.decision) {
    if (!call.decision->allowed()) ++blocked_;
    verdicts_.push_back({call.info.name, call.info.id, *call.decision});
  }
  queue_.push_back({QueueItem::Kind::call, json(), call.info.sequence});
  calls_.push_back(std::move(call));
}

void ToolCallStreamFilter::push_ready(json out) {
  queue_.push_back({QueueItem::Kind::ready, std::move(out), 0});
}

void ToolCallStreamFilter::push_finish(json original, std::size_t choice) {
  queue_.push_back({QueueItem::Kind::finish, std::move(original), choice});
}

std::vector<json> ToolCallStreamFilter::resolve(std::size_t sequence, const Decision& decision) {
  if (sequence < calls_.size() && !calls_[sequence].decision) {
    HeldCall& call = calls_[sequence];
    call.decision = decision;
    if (!decision.allowed()) ++blocked_;
    verdicts_.push_back({call.info.name, call.info.id, decision});
  }
  return drain();
}

bool ToolCallStreamFilter::waiting() const {
  for (const QueueItem& item : queue_) {
    if (item.kind == QueueItem::Kind::call && !calls_[item.index].decision) return true;
  }
  return false;
}

std::vector<json> ToolCallStreamFilter::drain() {
  std::vector<json> out;
  while (!queue_.empty()) {
    QueueItem& item = queue_.front();
    if (item.kind == QueueItem::Kind::call) {
      HeldCall& call = calls_[item.index];
      if (!call.decision) break;  // pending approval: everything behind it waits
      render_call(call, out);
      call.parts.clear();  // released; keep only the verdict
    } else if (item.kind == QueueItem::Kind::finish) {
      render_finish(item, out);
    } else {
      out.push_back(std::move(item.payload));
    }
    queue_.pop_front();
  }
  on_drained(out);
  return out;
}

// ----- OpenAI chat.completion.chunk -----

OpenAiToolCallStreamFilter::OpenAiToolCallStreamFilter(StreamToolCallJudge judge)
    : ToolCallStreamFilter(std::move(judge)) {}

void OpenAiToolCallStreamFilter::close_open_call(std::size_t choice) {
  ChoiceState& state = choices_[choice];
  if (!state.open) return;
  state.closed_indexes.push_back(*state.open_index);
  HeldCall call = std::move(*state.open);
  state.open.reset();
  state.open_index.reset();
  complete_call(std::move(call));
}

std::vector<json> OpenAiToolCallStreamFilter::feed(const json& chunk) {
  auto choices = chunk.is_object() ? chunk.find("choices") : chunk.end();
  if (!chunk.is_object() || choices == chunk.end() || !choices->is_array()) {
    push_ready(chunk);  // not a chunk we understand (e.g. an error object): pass it on
    return drain();
  }
  envelope_ = chunk;
  envelope_.erase("choices");
  envelope_.erase("usage");

  json passthrough = chunk;
  passthrough["choices"] = json::array();
  std::vector<std::pair<json, std::size_t>> finishes;
  for (std::size_t position = 0; position < choices->size(); ++position) {
    json choice = (*choices)[position];
    if (!choice.is_object()) continue;
    const std::size_t index = unsigned_at(choice, "index", position);
    ChoiceState& state = choices_[index];
    auto delta = choice.find("delta");
    bool held_something = false;
    if (delta != choice.end() && delta->is_object()) {
      std::vector<std::pair<std::size_t, json>> fragments;
      if (auto calls = delta->find("tool_calls"); calls != delta->end() && calls->is_array()) {
        for (const auto& fragment : *calls) {
          fragments.emplace_back(unsigned_at(fragment, "index", state.open_index.value_or(0)), fragment);
        }
        delta->erase("tool_calls");
        held_something = true;
      }
      if (auto legacy = delta->find("function_call"); legacy != delta->end() && legacy->is_object()) {
        fragments.emplace_back(kLegacyIndex, *legacy);
        delta->erase("function_call");
        held_something = true;
      }
      for (auto& [provider_index, fragment] : fragments) {
        if (!state.open_index || *state.open_index != provider_index) {
          bool closed = false;
          for (auto seen : state.closed_indexes) closed = closed || seen == provider_index;
          if (closed) continue;  // late fragment of a judged call: dropped
          close_open_call(index);
          state.open.emplace();
          state.open->info.choice = index;
          state.open->envelope = envelope_;
          state.open->legacy_function_call = provider_index == kLegacyIndex;
          state.open_index = provider_index;
        }
        HeldCall& call = *state.open;
        if (fragment.contains("id") && fragment["id"].is_string()) call.info.id = fragment["id"];
        const json& function = call.legacy_function_call ? fragment : fragment.value("function", json());
        append_string(call.info.name, function, "name");
        append_string(call.info.arguments, function, "arguments");
        call.parts.push_back(std::move(fragment));
      }
      if (auto content = delta->find("content"); content != delta->end() && content->is_string() &&
                                                 !content->get_ref<const std::string&>().empty()) {
        state.saw_text = true;
      }
    }
    const bool finishing = choice.contains("finish_reason") && !choice["finish_reason"].is_null();
    if (finishing) {
      close_open_call(index);
      finishes.emplace_back(choice, index);
      choice["finish_reason"] = nullptr;
    }
    const bool delta_left = delta != choice.end() && delta->is_object() && !delta->empty();
    if (delta_left || (!held_something && !finishing)) passthrough["choices"].push_back(std::move(choice));
  }
  const bool has_usage = passthrough.contains("usage") && !passthrough["usage"].is_null();
  if (!passthrough["choices"].empty() || (choices->empty() && !has_usage)) push_ready(passthrough);
  for (auto& [choice, index] : finishes) push_finish(json{{"envelope", envelope_}, {"choice", std::move(choice)}}, index);
  if (passthrough["choices"].empty() && has_usage) push_ready(std::move(passthrough));
  return drain();
}

std::vector<json> OpenAiToolCallStreamFilter::finish() {
  for (auto& [index, state] : choices_) close_open_call(index);
  return drain();
}

void OpenAiToolCallStreamFilter::render_call(const HeldCall& call, std::vector<json>& out) {
  ChoiceState& state = choices_[call.info.choice];
  if (call.decision->allowed()) {
    const std::size_t output_index = state.released++;
    for (const json& part : call.parts) {
      json delta;
      if (call.legacy_function_call) {
        delta["function_call"] = part;
      } else {
        json fragment = part;
        fragment["index"] = output_index;  // consecutive indexes for the agent's assembler
        delta["tool_calls"] = json::array({std::move(fragment)});
      }
      json chunk = call.envelope;
      chunk["choices"] = json::array(
          {json{{"index", call.info.choice}, {"delta", std::move(delta)}, {"finish_reason", nullptr}}});
      out.push_back(std::move(chunk));
    }
    return;
  }
  std::string text = tool_refusal_text(call.info.name, *call.decision);
  if (state.saw_text) text = std::string("\n").append(text);
  state.saw_text = true;
  json chunk = call.envelope;
  chunk["choices"] = json::array({json{{"index", call.info.choice},
                                       {"delta", json{{"content", std::move(text)}}},
                                       {"finish_reason", nullptr}}});
  out.push_back(std::move(chunk));
}

void OpenAiToolCallStreamFilter::render_finish(const QueueItem& item, std::vector<json>& out) {
  const ChoiceState& state = choices_[item.index];
  json finish_reason = item.payload["choice"]["finish_reason"];
  if (state.released == 0 && (finish_reason == "tool_calls" || finish_reason == "function_call")) {
    finish_reason = "stop";
  }
  json chunk = item.payload["envelope"];
  chunk["choices"] = json::array({json{{"index", item.index}, {"delta", json::object()},
                                       {"finish_reason", std::move(finish_reason)}}});
  out.push_back(std::move(chunk));
}

// ----- Anthropic stream events -----

AnthropicToolCallStreamFilter::AnthropicToolCallStreamFilter(StreamToolCallJudge judge)
    : ToolCallStreamFilter(std::move(judge)) {}

std::vector<json> AnthropicToolCallStreamFilter::feed(const json& event) {
  const std::string type = event.is_object() ? event.value("type", std::string()) : std::string();
  const std::size_t block = event.is_object() ? unsigned_at(event, "index", kLegacyIndex) : kLegacyIndex;
  if (type == "content_block_start" && event.contains("content_block") &&
      event["content_block"].is_object() && event["content_block"].value("type", "") == "tool_use" &&
      block != kLegacyIndex) {
    HeldCall call;
    const json& content = event["content_block"];
    append_string(call.info.id, content, "id");
    append_string(call.info.name, content, "name");
    call.parts.push_back(event);
    open_[block] = std::move(call);  // a repeated start for the same index replaces the block
    return drain();
  }
  auto open = open_.find(block);
  if (open != open_.end() && type == "content_block_delta") {
    const json& delta = event.value("delta", json());
    if (delta.is_object() && delta.value("type", "") == "input_json_delta") {
      append_string(open->second.info.arguments, delta, "partial_json");
    }
    open->second.parts.push_back(event);
    return drain();
  }
  if (open != open_.end() && type == "content_block_stop") {
    open->second.parts.push_back(event);
    HeldCall call = std::move(open->second);
    open_.erase(open);
    if (call.info.arguments.empty()) {
      const json& input = call.parts.front()["content_block"].value("input", json::object());
      call.info.arguments = input.dump(-1, ' ', false, json::error_handler_t::replace);
    }
    complete_call(std::move(call));
    return drain();
  }
  if (type == "message_delta") {
    push_finish(event, 0);
  } else {
    push_ready(event);
  }
  return drain();
}

std::vector<json> AnthropicToolCallStreamFilter::finish() {
  for (auto& [index, call] : open_) complete_call(std::move(call));
  open_.clear();
  return drain();
}

void AnthropicToolCallStreamFilter::render_call(const HeldCall& call, std::vector<json>& out) {
  if (call.decision->allowed()) {
    ++released_;
    for (const json& part : call.parts) out.push_back(part);
    return;
  }
  const json index = call.parts.front()["index"];
  out.push_back(json{{"type", "content_block_start"}, {"index", index},
                     {"content_block", json{{"type", "text"}, {"text", ""}}}});
  out.push_back(json{{"type", "content_block_delta"}, {"index", index},
                     {"delta", json{{"type", "text_delta"},
                                    {"text", tool_refusal_text(call.info.name, *call.decision)}}}});
  out.push_back(json{{"type", "content_block_stop"}, {"index", index}});
}

void AnthropicToolCallStreamFilter::render_finish(const QueueItem& item, std::vector<json>& out) {
  json event = item.payload;
  auto delta = event.find("delta");
  if (released_ == 0 && delta != event.end() && delta->is_object() &&
      delta->value("stop_reason", json()) == "tool_use") {
    (*delta)["stop_reason"] = "end_turn";
  }
  out.push_back(std::move(event));
}

}  // namespace sallyport::governance
