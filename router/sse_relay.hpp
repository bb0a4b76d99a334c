#pragma once
// Event-by-event transformation of one streamed (SSE) model answer on its way to the agent.
// No sockets here: the gateway feeds upstream TCP chunks and writes what comes out, so every
// rule below is unit-tested with arbitrary chunk splits.
//
// Per complete SSE block (governance::SseParser; events may be split anywhere in TCP chunks):
//   - blocks without data (comments, keep-alives, id/retry) are forwarded byte for byte;
//   - `data: [DONE]` is forwarded after whatever the tool-call filter still holds;
//   - data that is not JSON is forwarded unchanged (counted in non_json_events());
//   - JSON data: usage is observed (StreamUsageTracker), content-safety annotations are checked
//     on EVERY chunk (a later chunk may be worse than the first); a deny ends the stream with an
//     error event in the client's shape and no further upstream bytes are forwarded;
//   - the usage-only chunk (OpenAI include_usage) is dropped when sallyport injected the option;
//   - with a tool-call filter, events pass through it (tool-call deltas are held until the call
//     is complete and judged, text streams on) and leave re-serialised; without one, the raw
//     bytes of the block are forwarded unchanged (no re-serialisation on the common path).
// A limit error from the SSE parser ends the stream with an upstream_error event.
#include "common/decision.hpp"
#include "governance/api_error.hpp"
#include "governance/content_safety.hpp"
#include "governance/sse.hpp"
#include "governance/tool_calls.hpp"
#include "governance/usage.hpp"

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sallyport::router {

struct SseRelayOptions {
  governance::ApiFlavor flavor = governance::ApiFlavor::openai;
  bool strip_usage_chunk = false;                    // sallyport injected include_usage
  std::optional<governance::SafetyPolicy> safety;    // check Azure annotations (OpenAI shape)
  std::unique_ptr<governance::ToolCallStreamFilter> tool_filter;  // null = no tool policy
  // Re-serialised events get an `event: <type>` line (Anthropic always; the Responses API too).
  bool named_events = false;
};

class SseRelay {
 public:
  explicit SseRelay(SseRelayOptions options);

  // Appends the bytes for the client to `out`. Returns false once the stream has been ended
  // (safety block or SSE limit error; `out` then ends with the error event): stop reading.
  bool feed(std::string_view chunk, std::string& out);
  // Upstream ended. Appends what the tool filter still releases and, when the last event was cut
  // off, nothing of it (the spec discards a partial event; truncated() reports it).
  void finish(std::string& out);

  // A streamed tool call waits for an approval decision: output is held until resolve().
  bool waiting() const;
  void resolve(std::size_t sequence, const Decision& decision, std::string& out);

  std::optional<governance::TokenUsage> usage() const { return usage_.usage(); }
  bool final_usage_seen() const { return usage_.final_usage_seen(); }
  const std::optional<Decision>& blocked() const { return blocked_; }  // safety deny that ended it
  bool truncated() const { return truncated_; }
  bool ended() const { return ended_; }
  std::size_t non_json_events() const { return non_json_events_; }
  // Tool calls judged so far (and calls removed), for audit and trust.
  std::vector<governance::ToolVerdict> tool_verdicts() const;
  std::size_t events_forwarded() const { return events_forwarded_; }

 private:
  void handle_event(const governance::SseEvent& event, std::string& out);
  void emit_json(const nlohmann::json& value, std::string& out);
  void emit_outputs(const std::vector<nlohmann::json>& outputs, std::string& out);
  void end_with_error(const Decision& decision, std::string& out);
  void flush_held(std::string& out);

  SseRelayOptions options_;
  governance::SseParser parser_;
  governance::StreamUsageTracker usage_;
  std::vector<governance::SseEvent> events_;  // reused between feed() calls
  std::optional<Decision> blocked_;
  std::string held_;  // raw blocks that must follow outputs the tool filter still holds
  bool truncated_ = false;
  bool ended_ = false;
  std::size_t non_json_events_ = 0;
  std::size_t events_forwarded_ = 0;
};

// The SSE error event that ends a stream, in the client's shape.
std::string sse_error_event(const governance::ApiErrorResponse& error, governance::ApiFlavor flavor);

}  // namespace sallyport::router
