#pragma once
// MCP (Model Context Protocol) policy: the protocol logic of sallyport's MCP gateway, as pure
// functions over JSON-RPC 2.0 messages (no sockets; router/mcp_gateway.* does the HTTP).
//
// What the gateway does with them, in this order, for one POST from the agent:
//   1. parse_mcp_payload: one message or a batch; nesting depth and batch size bounded; a
//      malformed body is a JSON-RPC parse / invalid-request error (id null).
//   2. classify_mcp_message on each: request (has id + method), notification (method, no id),
//      response (id + result/error, the client answering a server request), or invalid.
//   3. every tools/call request: read_tool_call (params.name, params.arguments) then
//      check_tool_call (ToolPolicy::evaluate on the name and the canonical JSON arguments, with
//      the agent's trust). deny -> tool_call_denied_error (same id, code kPolicyDenied);
//      require_approval -> the caller holds the call in the ApprovalStore first.
//   4. what the server sends back (a JSON body, or the data of each SSE event) goes through
//      inspect_server_payload: tools/list results lose every tool the policy always denies
//      (ToolPolicy::always_denied: argument-dependent rules are checked per call instead), and
//      tools/call results have their text scanned by the prompt shield (observe: reported;
//      enforce: the result is replaced by an isError result saying it was withheld).
// Denials and withheld results carry text the agent's model can read and act on.
#include "common/decision.hpp"
#include "governance/prompt_shield.hpp"
#include "governance/tool_policy.hpp"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sallyport::governance::mcp {

// JSON-RPC error codes sallyport answers with (-32000..-32099 is the implementation range).
inline constexpr int kParseError = -32700;
inline constexpr int kInvalidRequest = -32600;
inline constexpr int kInvalidParams = -32602;
inline constexpr int kPolicyDenied = -32001;  // tools/call denied (policy, trust, approval)
inline constexpr int kUpstreamFailed =
    -32002;  // the MCP server could not be reached / answered badly

struct McpLimits {
  std::size_t max_depth = 64;   // nesting of arrays/objects in one body or SSE event
  std::size_t max_batch = 128;  // messages in one batch
};

// True when `text` nests arrays/objects deeper than max_depth (strings are skipped correctly);
// checked before parsing so hostile input cannot exhaust the parser's stack.
bool json_depth_exceeds(std::string_view text, std::size_t max_depth);

struct McpPayload {
  std::vector<nlohmann::json> messages;
  bool batch = false;  // the body was a JSON array
};

struct McpPayloadResult {
  std::optional<McpPayload> payload;
  int code = 0;       // when !payload: kParseError or kInvalidRequest
  std::string error;  // what was wrong, for the JSON-RPC error message
};

McpPayloadResult parse_mcp_payload(std::string_view body, const McpLimits& limits = {});

enum class McpMessageKind : unsigned char { request, notification, response, invalid };
const char* to_string(McpMessageKind kind) noexcept;

struct McpMessageInfo {
  McpMessageKind kind = McpMessageKind::invalid;
  std::string method;  // requests and notifications
  nlohmann::json id;   // requests and responses (string or integer); null otherwise
  std::string error;   // invalid: why
};

// JSON-RPC 2.0: "jsonrpc":"2.0"; id a string or an integer; method a string.
McpMessageInfo classify_mcp_message(const nlohmann::json& message);

// {"jsonrpc":"2.0","id":id,"error":{"code","message"[,"data"]}}
nlohmann::json jsonrpc_error(const nlohmann::json& id, int code, std::string_view message,
                             const nlohmann::json& data = nullptr);

struct ToolCallRequest {
  std::string tool;
  std::string arguments_json;  // compact JSON of params.arguments ("{}" when absent)
};

struct ToolCallRead {
  std::optional<ToolCallRequest> call;
  std::string error;  // params missing / name not a string / arguments not an object
};

ToolCallRead read_tool_call(const nlohmann::json& request);

struct ToolCallCheck {
  Decision decision;
  bool needs_approval = false;  // policy said require_approval: hold the call for an operator
};

// `policy` null = no tool policy configured: every call is allowed ("tool:allowed", rule
// "no-policy"). require_approval comes back as deny "tool:approval-required" with
// needs_approval set, so a caller without an approval store fails closed.
ToolCallCheck check_tool_call(const ToolPolicy* policy, const ToolCallRequest& call,
                              const TrustInput& trust);

// "sallyport: tool 'shell' denied by rule 'no-shell' (tool:denied)" (tool name escaped and
// truncated to 128 bytes; detail appended when present).
std::string tool_call_denial_message(std::string_view tool, const Decision& decision);

// The JSON-RPC error for a denied call: code kPolicyDenied, data {reason, rule}.
nlohmann::json tool_call_denied_error(const nlohmann::json& id, std::string_view tool,
                                      const Decision& decision);

// Removes from result.tools every tool whose name the policy always denies; returns their
// names. A result without a "tools" array is left alone.
std::vector<std::string> filter_tools_list_result(nlohmann::json& result, const ToolPolicy& policy,
                                                  const TrustInput& trust);

struct ToolResultScan {
  std::vector<std::string> matched_ids;  // shield pattern ids, in set order
  std::string where;                     // "content[2]", "structuredContent"; never the text
};

// Scans result.content text items (type "text"; embedded resources' "text") and
// structuredContent (as compact JSON).
ToolResultScan scan_tool_result(const PromptShield& shield, const nlohmann::json& result);

// Replaces a tools/call result with {"content":[{"type":"text","text":"[sallyport] tool result
// withheld: ..."}],"isError":true}; the original text never reaches the agent.
void withhold_tool_result(nlohmann::json& result, std::string_view tool, const Decision& decision);

struct ServerInspectOptions {
  const ToolPolicy* policy = nullptr;  // null: tools/list results pass unfiltered
  TrustInput trust;
  const PromptShield* shield = nullptr;  // null or mode off: results are not scanned
  // id (compact JSON) -> tool name of the tools/call requests of this exchange, for reports.
  const std::map<std::string, std::string>* calls = nullptr;
};

struct ShieldHit {
  nlohmann::json id;
  std::string tool;   // from ServerInspectOptions::calls, "" when unknown
  Decision decision;  // deny (enforce: withheld) or allow "shield:jailbreak" (observe)
};

struct ServerInspection {
  bool changed = false;                   // payload was modified: re-serialise it
  std::vector<std::string> hidden_tools;  // removed from tools/list results
  std::vector<ShieldHit> shield_hits;
};

// Applies step 4 to one server payload (a message or a batch array) in place. Results are
// recognised by shape, so replayed or resumed responses are covered too: result.tools (array)
// is a tools/list result, result.content (array) a tools/call result.
ServerInspection inspect_server_payload(nlohmann::json& payload,
                                        const ServerInspectOptions& options);

}  // namespace sallyport::governance::mcp
