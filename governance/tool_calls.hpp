#pragma once
// Tool-call enforcement on model traffic (DESIGN.md "Governance": denied tools are removed from
// requests; denied tool calls in responses, streamed or not, never reach the agent).
// Works on parsed JSON bodies (nlohmann::json); the gateway does HTTP/SSE framing.
//
// Shapes handled:
//   OpenAI chat completions: request `tools` [{type:"function", function:{name}}] (also
//     {type:"custom", custom:{name}} and Responses-style {type, name}), legacy `functions`
//     [{name}], `tool_choice`, `function_call`, `parallel_tool_calls`; response
//     choices[].message.tool_calls / legacy function_call; stream chat.completion.chunk objects.
//   Anthropic messages: request `tools` [{name,...}] and `tool_choice`; response content[]
//     tool_use blocks and stop_reason; stream events (message_start, content_block_start/delta/
//     stop, message_delta, message_stop, ping).
// A blocked call is replaced by a refusal the agent can read:
//   "[sallyport] tool call 'shell' blocked by policy rule 'no-shell' (tool:denied)"
// and finish_reason / stop_reason are kept consistent (OpenAI "tool_calls"/"function_call" ->
// "stop", Anthropic "tool_use" -> "end_turn", only when no tool call remains).
#include <cstddef>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/decision.hpp"
#include "governance/api_error.hpp"
#include "governance/tool_policy.hpp"

namespace sallyport::governance {

// ApiFlavor (openai | anthropic; Azure OpenAI speaks openai) comes from api_error.hpp.

// One tool call found in a response.
struct ToolCallInfo {
  std::string id;         // provider call id ("call_…", "toolu_…"); empty for legacy function_call
  std::string name;       // untrusted (model output)
  std::string arguments;  // JSON text as produced (Anthropic non-stream: input re-serialised)
  std::size_t choice = 0;    // OpenAI choice index (0 for Anthropic)
  std::size_t sequence = 0;  // 0-based order in which the filter completed this call
};

// A tool (request) or call (response) and what was decided, for the audit log.
struct ToolVerdict {
  std::string tool;
  std::string call_id;  // empty for request tools
  Decision decision;
};

// ----- requests -----

struct RequestToolFilterResult {
  std::vector<ToolVerdict> removed;  // every tool taken out, with the deny decision
  bool changed = false;              // body was modified (tools, tool_choice, …)
};

// Removes every tool the policy always denies (ToolPolicy::always_denied) from `request`.
// tool_choice / function_call naming a removed tool becomes "auto" (OpenAI) / {"type":"auto"}
// (Anthropic); when no tool is left, `tools`/`functions` and tool_choice/function_call/
// parallel_tool_calls are dropped (providers reject an empty tools array). Bodies that are not
// objects, or tools without a readable name, are left as they are (tools without a name are
// matched by their "type", e.g. "web_search_preview").
RequestToolFilterResult strip_denied_tools(nlohmann::json& request, ApiFlavor shape,
                                           const ToolPolicy& policy, const TrustInput& trust = {});

// ----- non-streamed responses -----

// Synchronous verdict for one complete call. Verdict deny blocks it (whatever the reason).
using ToolCallJudge = std::function<Decision(const ToolCallInfo&)>;

// Plain policy judge: evaluate() with the trust input; require_approval counts as deny. The
// gateway with approvals builds its own judge (see ApprovalStore).
ToolCallJudge make_policy_judge(std::shared_ptr<const ToolPolicy> policy, TrustInput trust = {});

// The calls in a response, in order (for callers that decide asynchronously first — e.g. wait
// for approvals — and then call filter_response_tool_calls with a judge that looks them up).
std::vector<ToolCallInfo> list_response_tool_calls(const nlohmann::json& response, ApiFlavor shape);

struct ResponseToolFilterResult {
  std::vector<ToolVerdict> calls;  // every call with its decision, allowed or not
  std::size_t blocked = 0;
  bool changed = false;
};

// Judges every call and rewrites `response` in place: OpenAI denied calls are removed from
// message.tool_calls (the key is dropped when empty; legacy function_call removed) and a refusal
// is appended to message.content; Anthropic denied tool_use blocks become text blocks.
ResponseToolFilterResult filter_response_tool_calls(nlohmann::json& response, ApiFlavor shape,
                                                    const ToolCallJudge& judge);

// The refusal text for a blocked call (tool name escaped and truncated to 128 bytes).
std::string tool_refusal_text(std::string_view tool, const Decision& decision);

// ----- streamed responses -----

// Verdict for a completed streamed call; std::nullopt = not decided yet (pending approval): the
// call, and everything after it, is held until resolve() is called with its sequence number.
using StreamToolCallJudge = std::function<std::optional<Decision>(const ToolCallInfo&)>;

// Shared ordering logic: outputs leave in input order; a completed call takes its place in the
// order when it completes (text that arrived while it was being assembled already went out).
class ToolCallStreamFilter {
 public:
  virtual ~ToolCallStreamFilter() = default;

  // Feed one parsed chunk/event; returns what to send to the agent now, in order.
  virtual std::vector<nlohmann::json> feed(const nlohmann::json& event) = 0;
  // End of the upstream stream ([DONE] / connection end): judges calls still being assembled
  // and returns what can be sent. Calls still pending stay held (waiting() stays true).
  virtual std::vector<nlohmann::json> finish() = 0;
  // Decision for a call the judge left pending. Unknown or already decided sequences are ignored.
  std::vector<nlohmann::json> resolve(std::size_t sequence, const Decision& decision);

  [[nodiscard]] bool waiting() const;  // a completed call awaits resolve()
  [[nodiscard]] const std::vector<ToolVerdict>& verdicts() const noexcept { return verdicts_; }
  [[nodiscard]] std::size_t blocked() const noexcept { return blocked_; }

 protected:
  explicit ToolCallStreamFilter(StreamToolCallJudge judge) : judge_(std::move(judge)) {}

  struct HeldCall {
    ToolCallInfo info;
    std::vector<nlohmann::json> parts;  // original fragments/events, in arrival order
    nlohmann::json envelope;            // top-level fields to copy into synthesized chunks
    std::optional<Decision> decision;
    bool legacy_function_call = false;  // OpenAI delta.function_call rather than tool_calls
  };
  struct QueueItem {
    enum class Kind : unsigned char { ready, call, finish } kind = Kind::ready;
    nlohmann::json payload;  // ready: the output; finish: the original finish chunk/event
    std::size_t index = 0;   // call: sequence; finish: choice index
  };

  // Completes a call: asks the judge, queues it in order.
  void complete_call(HeldCall call);
  void push_ready(nlohmann::json out);
  void push_finish(nlohmann::json original, std::size_t choice);
  std::vector<nlohmann::json> drain();

  virtual void render_call(const HeldCall& call, std::vector<nlohmann::json>& out) = 0;
  virtual void render_finish(const QueueItem& item, std::vector<nlohmann::json>& out) = 0;
  // Last look at everything drain() releases, in order (e.g. to renumber events).
  virtual void on_drained(std::vector<nlohmann::json>& /*out*/) {}

 private:
  StreamToolCallJudge judge_;
  std::vector<HeldCall> calls_;  // by sequence
  std::deque<QueueItem> queue_;
  std::vector<ToolVerdict> verdicts_;
  std::size_t blocked_ = 0;
};

// OpenAI chat.completion.chunk objects (n >= 1 choices). Allowed calls are released as their
// original fragments, re-indexed so the agent sees consecutive tool_calls indexes; denied calls
// become one content delta with the refusal. Fragments arriving for a call that is already
// complete are dropped (the agent only ever gets arguments that were judged).
class OpenAiToolCallStreamFilter final : public ToolCallStreamFilter {
 public:
  explicit OpenAiToolCallStreamFilter(StreamToolCallJudge judge);
  std::vector<nlohmann::json> feed(const nlohmann::json& chunk) override;
  std::vector<nlohmann::json> finish() override;

 private:
  struct ChoiceState {
    std::optional<HeldCall> open;
    std::optional<std::size_t> open_index;  // provider's tool_calls[].index of `open`
    std::vector<std::size_t> closed_indexes;
    std::size_t released = 0;  // allowed calls emitted so far (next output index)
    bool saw_text = false;     // refusals after text start on a new line
  };
  void close_open_call(std::size_t choice);
  void render_call(const HeldCall& call, std::vector<nlohmann::json>& out) override;
  void render_finish(const QueueItem& item, std::vector<nlohmann::json>& out) override;

  std::map<std::size_t, ChoiceState> choices_;
  nlohmann::json envelope_ = nlohmann::json::object();
};

// Anthropic stream events (the `data:` JSON of each SSE event; its "type" is the SSE event
// name). tool_use blocks are held from content_block_start to content_block_stop, then released
// as the original events or replaced, at the same block index, by a text block carrying the
// refusal. message_delta's stop_reason "tool_use" becomes "end_turn" when none was released.
class AnthropicToolCallStreamFilter final : public ToolCallStreamFilter {
 public:
  explicit AnthropicToolCallStreamFilter(StreamToolCallJudge judge);
  std::vector<nlohmann::json> feed(const nlohmann::json& event) override;
  std::vector<nlohmann::json> finish() override;

 private:
  void render_call(const HeldCall& call, std::vector<nlohmann::json>& out) override;
  void render_finish(const QueueItem& item, std::vector<nlohmann::json>& out) override;

  std::map<std::size_t, HeldCall> open_;  // by content block index
  std::size_t released_ = 0;
};

// ----- OpenAI Responses API (/v1/responses) -----
// Requests need nothing extra: strip_denied_tools(…, ApiFlavor::openai, …) reads Responses tools
// ({type:"function", name}) and tool_choice ({type:"function", name}).
// Answers carry calls as output items: {type:"function_call", id:"fc_…", call_id:"call_…", name,
// arguments} and {type:"custom_tool_call", call_id, name, input}. A denied call's item is
// replaced, at the same output index, by an assistant message item
//   {type:"message", id:"msg_sallyport_<item id>", status:"completed", role:"assistant",
//    content:[{type:"output_text", text:<refusal>, annotations:[]}]}
// so output indexes, ids and the response status stay valid. Built-in tools that the provider
// runs itself (web_search_call, mcp_call, …) are not calls the agent executes and pass.

// The function_call / custom_tool_call items of a Responses API answer, in output order
// (ToolCallInfo::id = call_id).
std::vector<ToolCallInfo> list_responses_tool_calls(const nlohmann::json& response);
// Judges every call item and replaces denied ones by the refusal message item.
ResponseToolFilterResult filter_responses_tool_calls(nlohmann::json& response,
                                                     const ToolCallJudge& judge);

// Responses API stream events (the `data:` JSON of each SSE event; its "type" is the event
// name). A call item is held from response.output_item.added to response.output_item.done
// (argument deltas included), then released as the original events or replaced by the events of
// a refusal message item at the same output_index (output_item.added, content_part.added,
// output_text.delta/done, content_part.done, output_item.done). The final response.completed /
// .incomplete / .failed event has its output rewritten the same way; calls that only appear
// there are judged too. When the upstream numbers its events (sequence_number), the released
// events are renumbered consecutively.
class ResponsesToolCallStreamFilter final : public ToolCallStreamFilter {
 public:
  explicit ResponsesToolCallStreamFilter(StreamToolCallJudge judge);
  std::vector<nlohmann::json> feed(const nlohmann::json& event) override;
  std::vector<nlohmann::json> finish() override;

 private:
  void render_call(const HeldCall& call, std::vector<nlohmann::json>& out) override;
  void render_finish(const QueueItem& item, std::vector<nlohmann::json>& out) override;
  void on_drained(std::vector<nlohmann::json>& out) override;

  std::map<std::size_t, HeldCall> open_;          // by output_index
  std::set<std::size_t> seen_;                    // output indexes of call items
  std::map<std::size_t, Decision> decided_;       // by output_index, once rendered
  std::optional<long long> next_sequence_number_;  // set when the upstream numbers events
};

}  // namespace sallyport::governance
