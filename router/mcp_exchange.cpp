// GCC 12 reports a false -Wmismatched-new-delete on Asio coroutine frames (the awaitable frame's
// operator new/delete pair is Asio's own recycling allocator).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
// The request half of an MCP exchange: parse and check what the agent POSTs (tools/call policy,
// trust, approvals), answer what sallyport decides itself, forward the rest (mcp_relay.cpp).
#include "router/mcp_exchange.hpp"

#include "common/log.hpp"
#include "governance/approval_store.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <cctype>

namespace sallyport::router {
namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
namespace mcp = governance::mcp;
using nlohmann::json;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
constexpr std::chrono::milliseconds kApprovalPoll{100};

std::string compact(const json& value) {
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

bool is_json_content_type(std::string_view content_type) {
  std::string lower(content_type.substr(0, 16));
  for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return lower.starts_with("application/json");
}

// Denials that are the agent's own attempt lower its trust; timeouts and full queues do not.
bool costs_trust(const Decision& decision) {
  return decision.reason == governance::tool_reason::denied ||
         decision.reason == governance::tool_reason::trust_below_threshold ||
         decision.reason == governance::approval_reason::denied;
}

}  // namespace

McpExchange::McpExchange(InferenceGateway::Impl& gw, McpGateway& mcp, const McpUpstream& server,
                         boost::beast::tcp_stream& client, HttpRequest& req, std::string query)
    : gw_(gw), mcp_(mcp), server_(server), client_(client), req_(req), query_(std::move(query)) {}

asio::awaitable<bool> McpExchange::run() {
  if (!server_.url)
    co_return co_await upstream_failure("config", "MCP server url is invalid (see sallyport log)");
  if (req_.method() == http::verb::post) co_return co_await run_post();
  co_return co_await forward(std::nullopt);  // GET (server stream) and DELETE (end session)
}

asio::awaitable<bool> McpExchange::run_post() {
  if (!is_json_content_type(req_[http::field::content_type])) {
    const auto error =
        mcp::jsonrpc_error(nullptr, mcp::kInvalidRequest,
                           "sallyport: MCP messages must be POSTed as application/json");
    co_return co_await reply_json(415, error);
  }
  auto parsed = mcp::parse_mcp_payload(req_.body());
  if (!parsed.payload) {
    const auto error = mcp::jsonrpc_error(nullptr, parsed.code, "sallyport: " + parsed.error);
    co_return co_await reply_json(400, error);
  }
  batch_ = parsed.payload->batch;
  check_messages(*parsed.payload);
  if (!batch_ && !local_errors_.empty() && calls_.empty()) {
    co_return co_await reply_json(400, local_errors_.front());  // one invalid message
  }
  co_await wait_for_approvals();
  auto forwarded = settle_calls();
  if (!forwarded) {
    // Everything was answered here: one error object, or an array for a batch.
    // (Locals, not temporaries, in co_await expressions: GCC 12 may destroy those twice.)
    const json answer = batch_ ? json(local_errors_) : local_errors_.front();
    co_return co_await reply_json(200, answer);
  }
  // Unchanged bodies go upstream byte for byte.
  std::optional<std::string> body;
  if (local_errors_.empty())
    body = std::move(req_.body());
  else
    body = compact(*forwarded);
  co_return co_await forward(std::move(body));
}

// Classifies every message and decides every tools/call; calls that need an operator get an
// approval record (decided in wait_for_approvals). Invalid messages become local_errors_.
void McpExchange::check_messages(mcp::McpPayload& payload) {
  auto& deps = gw_.deps;
  const auto policy = deps.tool_policy ? deps.tool_policy->current() : nullptr;
  const auto trust = deps.trust ? deps.trust->policy_input(deps.agent) : governance::TrustInput{};
  const bool quarantined = deps.trust && deps.trust->status(deps.agent).quarantined();
  messages_ = std::move(payload.messages);
  keep_.assign(messages_.size(), true);
  for (std::size_t i = 0; i < messages_.size(); ++i) {
    const auto& message = messages_[i];
    const auto info = mcp::classify_mcp_message(message);
    if (info.kind == mcp::McpMessageKind::invalid) {
      const json id = message.is_object() && message.contains("id") ? message["id"] : json();
      local_errors_.push_back(
          mcp::jsonrpc_error(id, mcp::kInvalidRequest, "sallyport: " + info.error));
      keep_[i] = false;
      continue;
    }
    if (info.kind != mcp::McpMessageKind::request || info.method != "tools/call") continue;
    auto read = mcp::read_tool_call(message);
    if (!read.call) {
      local_errors_.push_back(
          mcp::jsonrpc_error(info.id, mcp::kInvalidParams, "sallyport: " + read.error));
      keep_[i] = false;
      continue;
    }
    Call call{info.id, read.call->tool, read.call->arguments_json, {}, std::nullopt, i};
    auto check = mcp::check_tool_call(policy.get(), *read.call, trust);
    call.decision = std::move(check.decision);
    if (quarantined) {
      call.decision = Decision::deny(governance::tool_reason::trust_below_threshold, "quarantine",
                                     "agent is quarantined; an operator must reset its trust");
    } else if (check.needs_approval && deps.approvals) {
      auto record = deps.approvals->create(
          {deps.agent, call.tool, call.arguments_json, call.decision.rule, compact(call.id)});
      if (record) {
        call.approval_id = record->id;
        gw_.emit({"approval",
                  "deny",
                  governance::approval_reason::pending,
                  call.decision.rule,
                  server_.config.name,
                  {},
                  0,
                  0,
                  0,
                  "mcp tool=" + call.tool + " approval=" + record->id});
      } else {
        call.decision = Decision::deny(governance::approval_reason::queue_full, call.decision.rule);
      }
    }
    call_tools_[compact(call.id)] = call.tool;
    calls_.push_back(std::move(call));
  }
}

// Holds the POST until every approval of this exchange is decided (approve, deny, or the
// store's timeout). Polls: the store's callbacks fire on the admin thread.
asio::awaitable<void> McpExchange::wait_for_approvals() {
  auto* approvals = gw_.deps.approvals;
  if (!approvals) co_return;
  asio::steady_timer timer(client_.get_executor());
  for (;;) {
    approvals->expire_due();
    bool waiting = false;
    for (auto& call : calls_) {
      if (!call.approval_id) continue;
      const auto record = approvals->get(*call.approval_id);
      if (record && record->state == governance::ApprovalState::pending) {
        waiting = true;
        continue;
      }
      call.decision =
          record ? record->decision()
                 : Decision::deny(governance::approval_reason::timeout, call.decision.rule);
      call.approval_id.reset();
    }
    if (!waiting) co_return;
    timer.expires_after(kApprovalPoll);
    co_await timer.async_wait(kTuple);
  }
}

// Final decisions: denied calls become JSON-RPC errors with their id, every call is recorded.
// Returns what goes upstream (a message, or an array for a batch), nullopt when nothing does.
std::optional<json> McpExchange::settle_calls() {
  for (const auto& call : calls_) {
    record_call(call);
    if (call.decision.allowed()) continue;
    keep_[call.message] = false;
    local_errors_.push_back(mcp::tool_call_denied_error(call.id, call.tool, call.decision));
  }
  json forwarded = json::array();
  for (std::size_t i = 0; i < messages_.size(); ++i) {
    if (keep_[i]) forwarded.push_back(messages_[i]);
  }
  if (forwarded.empty()) return std::nullopt;
  if (!batch_) return forwarded[0];
  return forwarded;
}

void McpExchange::record_call(const Call& call) {
  const auto& d = call.decision;
  const bool allowed = d.allowed();
  std::string detail = "tool=" + call.tool + " id=" + compact(call.id);
  if (!d.detail.empty()) detail += " " + d.detail;
  gw_.emit({"mcp",
            allowed ? "allow" : "deny",
            d.reason,
            d.rule,
            server_.config.name,
            {},
            0,
            0,
            0,
            detail});
  mcp_.metrics()
      .calls
      .Add({{"server", server_.config.name},
            {"decision", allowed ? "allow" : "deny"},
            {"reason", d.reason}})
      .Increment();
  auto& deps = gw_.deps;
  if (!allowed && deps.trust && costs_trust(d)) {
    deps.trust->penalize(deps.agent, governance::TrustEvent::tool_denied, call.tool);
  }
}

}  // namespace sallyport::router
