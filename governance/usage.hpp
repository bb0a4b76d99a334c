#pragma once
// Token usage and request facts for budget accounting in the inference gateway.
//
// Response side: reads `usage` from OpenAI / Azure OpenAI (chat completions, responses,
// embeddings) and Anthropic (messages) answers, non-streamed and streamed.
// Request side: reads model / max output tokens / stream flags, injects
// stream_options.include_usage, rewrites the max output tokens, and estimates prompt tokens.
//
// All functions take already-parsed JSON (the gateway parses each body or SSE data once and
// hands the same value to usage, content safety and tool policy); parse_json() is the
// non-throwing parser to use. Nothing here throws on malformed input: wrong types read as
// "absent" and request validation returns an error value.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "governance/api_error.hpp"
#include "governance/sse.hpp"

namespace sallyport::governance {

struct TokenUsage {
  std::int64_t input_tokens = 0;   // prompt tokens (Anthropic: input + cache creation + cache read)
  std::int64_t output_tokens = 0;  // completion tokens
  std::int64_t total_tokens = 0;   // as reported, else input + output

  friend bool operator==(const TokenUsage&, const TokenUsage&) = default;
};

// Parses JSON without exceptions; std::nullopt on invalid JSON (also on invalid UTF-8 strings).
std::optional<nlohmann::json> parse_json(std::string_view text);

// Reads a `usage` object in any supported naming: {prompt_tokens, completion_tokens,
// total_tokens} (chat, embeddings), {input_tokens, output_tokens, total_tokens} (responses,
// Anthropic, incl. cache_creation_input_tokens / cache_read_input_tokens). nullopt when the
// value is not an object or holds no token count.
std::optional<TokenUsage> usage_from_usage_object(const nlohmann::json& usage);

// Usage of a complete (non-streamed) response body. OpenAI responses API nests nothing:
// body.usage; also accepts body.response.usage (a `response.completed` event payload).
std::optional<TokenUsage> usage_from_response(const nlohmann::json& body);

// OpenAI/Azure stream with stream_options.include_usage: the extra final chunk that carries
// only usage (`choices` present and empty, `usage` an object). Strip it when the client did not
// ask for usage itself.
bool is_usage_only_chunk(const nlohmann::json& chunk);

// Accumulates usage over one streamed answer. Feed every SSE event in order.
//   OpenAI/Azure chat: the chunk whose `usage` is an object (the include_usage chunk).
//   OpenAI responses:  `response.completed` / `response.incomplete` → response.usage.
//   Anthropic: message_start.message.usage (input + initial output), then
//              message_delta.usage.output_tokens (cumulative; the last one wins).
class StreamUsageTracker {
 public:
  explicit StreamUsageTracker(ApiFlavor flavor) : flavor_(flavor) {}

  // Parses event.data itself; ignores [DONE], keep-alives and non-JSON data.
  void observe(const SseEvent& event);
  // For callers that already parsed event.data.
  void observe(std::string_view event_type, const nlohmann::json& data);

  // What has been seen so far; nullopt when the stream carried no usage at all (the gateway
  // must count this as an uncharged response and settle at the reserved amount).
  [[nodiscard]] std::optional<TokenUsage> usage() const;
  // True once the final usage was seen (OpenAI usage chunk / responses completed / Anthropic
  // message_delta). Before that, Anthropic usage holds only message_start's numbers.
  [[nodiscard]] bool final_usage_seen() const noexcept { return final_seen_; }

 private:
  ApiFlavor flavor_;
  std::optional<TokenUsage> usage_;
  bool final_seen_ = false;
};

// ---- request side ----------------------------------------------------------------------------

struct RequestFacts {
  std::string model;  // "" when absent (Azure: the deployment in the URL names the model)
  std::optional<std::int64_t> max_output_tokens;
  // Key that held max_output_tokens: "max_completion_tokens", "max_tokens" or
  // "max_output_tokens"; empty when absent.
  std::string max_output_field;
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage == true
  std::int64_t prompt_estimate = 0;  // estimate_prompt_tokens(body)
};

struct RequestFactsResult {
  std::optional<RequestFacts> facts;
  std::string error;  // set when facts is empty: what/where (JSON pointer)/expected
};

// Validates the fields sallyport relies on: body is an object; model (if present) a string;
// stream (if present) a boolean; max tokens fields (if present) non-negative integers;
// Anthropic requests must carry max_tokens.
RequestFactsResult read_request_facts(const nlohmann::json& body, ApiFlavor flavor);

// OpenAI/Azure chat completions: when body.stream is true and include_usage is not already
// true, sets stream_options.include_usage = true. Returns true when it injected (the client
// did not ask, so the usage-only chunk must be stripped before it reaches the client).
bool inject_include_usage(nlohmann::json& body);

// Writes max output tokens into `field`, or, when empty, into the field the request already
// used, else the flavor's default ("max_tokens" for Anthropic, "max_completion_tokens" for
// OpenAI; pass "max_output_tokens" for /v1/responses). Other max-token keys are removed so the
// upstream sees exactly one limit.
void set_max_output_tokens(nlohmann::json& body, ApiFlavor flavor, std::int64_t value,
                           std::string_view field = {});

// Conservative prompt-token estimate (over-estimates on purpose; settle() corrects it):
//   ceil(text_bytes / 3)   over every string in messages, input, prompt, system, instructions,
//                          tools and functions (English averages ~4 bytes per token; 3 leaves
//                          room for code and non-Latin scripts),
// + 4 per message / input item (role and framing), + 3 for reply priming,
// + 1600 per inline binary part (a string starting with "data:" or a base64 `data` field longer
//   than 256 bytes: images/files are billed by size, not by their base64 text).
std::int64_t estimate_prompt_tokens(const nlohmann::json& body);

}  // namespace sallyport::governance
