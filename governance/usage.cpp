#include "governance/usage.hpp"

#include <array>
#include <utility>
#include <vector>

namespace sallyport::governance {

using nlohmann::json;

namespace {

// Reads a non-negative integer field; anything else counts as absent.
std::optional<std::int64_t> read_count(const json& object, std::string_view key) {
  if (!object.is_object()) return std::nullopt;
  const auto it = object.find(key);
  if (it == object.end()) return std::nullopt;
  if (it->is_number_unsigned()) {
    const auto value = it->get<std::uint64_t>();
    if (value > static_cast<std::uint64_t>(INT64_MAX)) return std::nullopt;
    return static_cast<std::int64_t>(value);
  }
  if (it->is_number_integer()) {
    const auto value = it->get<std::int64_t>();
    return value >= 0 ? std::optional<std::int64_t>(value) : std::nullopt;
  }
  return std::nullopt;
}

const json* member(const json& object, std::string_view key) {
  if (!object.is_object()) return nullptr;
  const auto it = object.find(key);
  return it == object.end() ? nullptr : &*it;
}

// Saturating add: usage numbers are untrusted, an overflow must not wrap to a refund.
std::int64_t add_sat(std::int64_t a, std::int64_t b) {
  return a > INT64_MAX - b ? INT64_MAX : a + b;
}

}  // namespace

std::optional<json> parse_json(std::string_view text) {
  json value = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) return std::nullopt;
  return value;
}

std::optional<TokenUsage> usage_from_usage_object(const json& usage) {
  if (!usage.is_object()) return std::nullopt;
  const auto prompt = read_count(usage, "prompt_tokens");
  const auto completion = read_count(usage, "completion_tokens");
  const auto input = read_count(usage, "input_tokens");
  const auto output = read_count(usage, "output_tokens");
  const auto total = read_count(usage, "total_tokens");
  const auto cache_creation = read_count(usage, "cache_creation_input_tokens");
  const auto cache_read = read_count(usage, "cache_read_input_tokens");
  if (!prompt && !completion && !input && !output && !total) return std::nullopt;

  TokenUsage result;
  result.input_tokens = prompt ? *prompt : input.value_or(0);
  // Anthropic reports cached prompt tokens beside input_tokens; they are billed, so count them.
  result.input_tokens = add_sat(result.input_tokens, cache_creation.value_or(0));
  result.input_tokens = add_sat(result.input_tokens, cache_read.value_or(0));
  result.output_tokens = completion ? *completion : output.value_or(0);
  const std::int64_t sum = add_sat(result.input_tokens, result.output_tokens);
  // Take the larger of reported and computed totals: never under-charge.
  result.total_tokens = total && *total > sum ? *total : sum;
  return result;
}

std::optional<TokenUsage> usage_from_response(const json& body) {
  if (const json* usage = member(body, "usage")) {
    if (auto parsed = usage_from_usage_object(*usage)) return parsed;
  }
  if (const json* response = member(body, "response")) {
    if (const json* usage = member(*response, "usage")) return usage_from_usage_object(*usage);
  }
  return std::nullopt;
}

bool is_usage_only_chunk(const json& chunk) {
  const json* choices = member(chunk, "choices");
  const json* usage = member(chunk, "usage");
  return choices != nullptr && choices->is_array() && choices->empty() && usage != nullptr &&
         usage->is_object();
}

void StreamUsageTracker::observe(const SseEvent& event) {
  if (!event.has_data || event.is_done()) return;
  // Cheap pre-check: most chunks carry no usage; skip parsing them.
  if (event.data.find("usage") == std::string::npos) return;
  if (auto data = parse_json(event.data)) observe(event.event, *data);
}

void StreamUsageTracker::observe(std::string_view event_type, const json& data) {
  if (!data.is_object()) return;
  if (flavor_ == ApiFlavor::openai) {
    auto found = usage_from_response(data);
    if (!found) return;
    // Chat chunks before the last carry "usage": null; any usage object here is final.
    usage_ = found;
    final_seen_ = true;
    return;
  }
  // Anthropic: the type is in both the SSE event name and data.type; trust data.type first.
  std::string_view type = event_type;
  if (const json* t = member(data, "type"); t != nullptr && t->is_string()) {
    type = t->get_ref<const std::string&>();
  }
  if (type == "message_start") {
    const json* message = member(data, "message");
    if (message == nullptr) return;
    if (const json* usage = member(*message, "usage")) {
      if (auto found = usage_from_usage_object(*usage)) usage_ = found;
    }
  } else if (type == "message_delta") {
    const json* usage = member(data, "usage");
    if (usage == nullptr) return;
    TokenUsage merged = usage_.value_or(TokenUsage{});
    if (auto output = read_count(*usage, "output_tokens")) merged.output_tokens = *output;
    // Newer API versions repeat input counts in message_delta; keep the larger.
    if (auto delta_usage = usage_from_usage_object(*usage);
        delta_usage && delta_usage->input_tokens > merged.input_tokens) {
      merged.input_tokens = delta_usage->input_tokens;
    }
    merged.total_tokens = add_sat(merged.input_tokens, merged.output_tokens);
    usage_ = merged;
    final_seen_ = true;
  }
}

std::optional<TokenUsage> StreamUsageTracker::usage() const { return usage_; }

// ---- request side ----------------------------------------------------------------------------

namespace {

constexpr std::array<std::string_view, 3> kMaxTokenFields = {
    "max_completion_tokens", "max_tokens", "max_output_tokens"};

}  // namespace

RequestFactsResult read_request_facts(const json& body, ApiFlavor flavor) {
  RequestFactsResult result;
  if (!body.is_object()) {
    result.error = "request body: expected a JSON object";
    return result;
  }
  RequestFacts facts;
  if (const json* model = member(body, "model")) {
    if (!model->is_string()) {
      result.error = "/model: expected a string";
      return result;
    }
    facts.model = model->get<std::string>();
  }
  if (const json* stream = member(body, "stream"); stream != nullptr && !stream->is_null()) {
    if (!stream->is_boolean()) {
      result.error = "/stream: expected a boolean";
      return result;
    }
    facts.stream = stream->get<bool>();
  }
  if (const json* options = member(body, "stream_options")) {
    const json* include = member(*options, "include_usage");
    facts.include_usage = include != nullptr && include->is_boolean() && include->get<bool>();
  }
  for (std::string_view field : kMaxTokenFields) {
    const json* value = member(body, field);
    if (value == nullptr || value->is_null()) continue;
    const auto count = read_count(body, field);
    if (!count) {
      result.error = "/" + std::string(field) + ": expected a non-negative integer";
      return result;
    }
    if (!facts.max_output_tokens) {  // first in kMaxTokenFields order wins
      facts.max_output_tokens = count;
      facts.max_output_field = std::string(field);
    }
  }
  if (flavor == ApiFlavor::anthropic && facts.max_output_field != "max_tokens") {
    result.error = "/max_tokens: required for Anthropic messages, expected a positive integer";
    return result;
  }
  facts.prompt_estimate = estimate_prompt_tokens(body);
  result.facts = std::move(facts);
  return result;
}

bool inject_include_usage(json& body) {
  if (!body.is_object()) return false;
  const json* stream = member(body, "stream");
  if (stream == nullptr || !stream->is_boolean() || !stream->get<bool>()) return false;
  json& options = body["stream_options"];
  if (!options.is_object()) options = json::object();
  const json* include = member(options, "include_usage");
  if (include != nullptr && include->is_boolean() && include->get<bool>()) return false;
  options["include_usage"] = true;
  return true;
}

void set_max_output_tokens(json& body, ApiFlavor flavor, std::int64_t value,
                           std::string_view field) {
  if (!body.is_object()) return;
  std::string target(field);
  if (target.empty()) {
    for (std::string_view candidate : kMaxTokenFields) {
      if (const json* v = member(body, candidate); v != nullptr && !v->is_null()) {
        target = std::string(candidate);
        break;
      }
    }
  }
  if (target.empty()) {
    target = flavor == ApiFlavor::anthropic ? "max_tokens" : "max_completion_tokens";
  }
  for (std::string_view candidate : kMaxTokenFields) {
    if (candidate != target) body.erase(std::string(candidate));
  }
  body[target] = value;
}

namespace {

constexpr std::int64_t kPerMessageTokens = 4;
constexpr std::int64_t kReplyPrimingTokens = 3;
constexpr std::int64_t kBinaryPartTokens = 1600;
constexpr std::size_t kBinaryMinBytes = 256;

struct EstimateTotals {
  std::uint64_t text_bytes = 0;
  std::int64_t binary_parts = 0;
};

bool looks_binary(std::string_view key, const std::string& text) {
  if (text.size() < kBinaryMinBytes) return false;
  return text.compare(0, 5, "data:") == 0 || key == "data";
}

// Iterative walk (no recursion: request nesting depth is attacker-controlled).
void count_strings(const json& root, EstimateTotals& totals) {
  std::vector<std::pair<std::string_view, const json*>> pending{{"", &root}};
  while (!pending.empty()) {
    const auto [key, node] = pending.back();
    pending.pop_back();
    if (node->is_string()) {
      const auto& text = node->get_ref<const std::string&>();
      if (looks_binary(key, text)) {
        ++totals.binary_parts;
      } else {
        totals.text_bytes += text.size();
      }
    } else if (node->is_object()) {
      for (auto it = node->begin(); it != node->end(); ++it) {
        pending.emplace_back(it.key(), &it.value());
      }
    } else if (node->is_array()) {
      for (const json& element : *node) pending.emplace_back(std::string_view{}, &element);
    }
  }
}

}  // namespace

std::int64_t estimate_prompt_tokens(const json& body) {
  if (!body.is_object()) return 0;
  EstimateTotals totals;
  std::int64_t items = 0;
  for (std::string_view field :
       {"messages", "input", "prompt", "system", "instructions", "tools", "functions"}) {
    const json* value = member(body, field);
    if (value == nullptr) continue;
    count_strings(*value, totals);
    if ((field == "messages" || field == "input") && value->is_array()) {
      items += static_cast<std::int64_t>(value->size());
    }
  }
  const auto text_tokens = static_cast<std::int64_t>((totals.text_bytes + 2) / 3);
  return text_tokens + items * kPerMessageTokens + kReplyPrimingTokens +
         totals.binary_parts * kBinaryPartTokens;
}

}  // namespace sallyport::governance
