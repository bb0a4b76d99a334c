// GCC 12 reports a false -Wmismatched-new-delete on Asio coroutine frames (the awaitable frame's
// operator new/delete pair is Asio's own recycling allocator).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
// Tool policy in the gateway: judging tool calls in answers (non-streamed and streamed), holding
// require_approval calls until an operator decides (or the approval times out), and recording
// every verdict (audit events, trust penalties).
#include "common/log.hpp"
#include "router/gateway_exchange.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace sallyport::router {
namespace {

namespace asio = boost::asio;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
constexpr std::chrono::milliseconds kApprovalPoll{100};

}  // namespace

bool GatewayExchange::tools_active() const { return gw_.deps.tool_policy != nullptr; }

governance::TrustInput GatewayExchange::trust_input() const {
  if (!gw_.deps.trust) return {};
  return gw_.deps.trust->policy_input(gw_.deps.agent);
}

void GatewayExchange::record_tool_verdicts(const std::vector<governance::ToolVerdict>& verdicts,
                                           std::string_view kind) {
  auto& deps = gw_.deps;
  for (const auto& v : verdicts) {
    const bool allowed = v.decision.allowed();
    gw_.emit({std::string(kind), allowed ? "allow" : "deny", v.decision.reason, v.decision.rule,
              provider_ ? provider_->name : "", model_, 0, 0, 0,
              "tool=" + v.tool + (v.call_id.empty() ? "" : " call=" + v.call_id)});
    // A denied call in an answer is the agent's (model's) attempt; a stripped request tool is not.
    if (!allowed && kind == "tool_call") {
      violation_ = true;
      if (deps.trust) deps.trust->penalize(deps.agent, governance::TrustEvent::tool_denied, v.tool);
    }
  }
}

std::unique_ptr<governance::ToolCallStreamFilter> GatewayExchange::make_stream_filter() {
  auto policy = tool_policy_;
  const auto trust = trust_input();
  auto judge = [this, policy, trust](const governance::ToolCallInfo& call) -> std::optional<Decision> {
    const auto evaluation = policy->evaluate(call.name, call.arguments, trust);
    const bool needs_approval = evaluation.action == governance::ToolAction::require_approval &&
                                evaluation.decision.reason == governance::tool_reason::approval_required;
    if (!needs_approval || !gw_.deps.approvals) return evaluation.decision;
    auto record = gw_.deps.approvals->create(
        {gw_.deps.agent, call.name, call.arguments, evaluation.decision.rule, call.id});
    if (!record) return Decision::deny(governance::approval_reason::queue_full, evaluation.decision.rule);
    gw_.emit({"approval", "deny", governance::approval_reason::pending, evaluation.decision.rule,
              provider_->name, model_, 0, 0, 0, "tool=" + call.name + " approval=" + record->id});
    stream_approvals_.emplace(call.sequence, record->id);
    return std::nullopt;
  };
  if (route_.route == GatewayRoute::responses) {
    return std::make_unique<governance::ResponsesToolCallStreamFilter>(std::move(judge));
  }
  if (flavor_ == governance::ApiFlavor::anthropic) {
    return std::make_unique<governance::AnthropicToolCallStreamFilter>(std::move(judge));
  }
  return std::make_unique<governance::OpenAiToolCallStreamFilter>(std::move(judge));
}

// Polls the approval store while a streamed call is held (the store's callbacks fire on the
// admin thread; polling keeps this coroutine the only one touching the relay).
asio::awaitable<void> GatewayExchange::wait_for_approvals(SseRelay& relay, std::string& out) {
  auto* approvals = gw_.deps.approvals;
  asio::steady_timer timer(client_.get_executor());
  while (relay.waiting() && approvals) {
    approvals->expire_due();
    bool progressed = false;
    for (auto it = stream_approvals_.begin(); it != stream_approvals_.end();) {
      const auto record = approvals->get(it->second);
      if (record && record->state == governance::ApprovalState::pending) {
        ++it;
        continue;
      }
      const auto decision = record ? record->decision()
                                   : Decision::deny(governance::approval_reason::timeout, "approval");
      relay.resolve(it->first, decision, out);
      it = stream_approvals_.erase(it);
      progressed = true;
    }
    if (progressed) continue;
    if (stream_approvals_.empty()) break;  // nothing we can wait for
    timer.expires_after(kApprovalPoll);
    co_await timer.async_wait(kTuple);
  }
}

asio::awaitable<void> GatewayExchange::filter_response_tools(nlohmann::json& response, bool& changed) {
  const bool responses_api = route_.route == GatewayRoute::responses;
  const auto calls = responses_api ? governance::list_responses_tool_calls(response)
                                   : governance::list_response_tool_calls(response, flavor_);
  if (calls.empty()) co_return;
  const auto trust = trust_input();
  std::map<std::size_t, Decision> decided;
  std::map<std::size_t, std::string> pending;  // sequence → approval id
  for (const auto& call : calls) {
    const auto evaluation = tool_policy_->evaluate(call.name, call.arguments, trust);
    const bool needs_approval = evaluation.action == governance::ToolAction::require_approval &&
                                evaluation.decision.reason == governance::tool_reason::approval_required;
    if (!needs_approval || !gw_.deps.approvals) {
      decided.emplace(call.sequence, evaluation.decision);
      continue;
    }
    auto record = gw_.deps.approvals->create(
        {gw_.deps.agent, call.name, call.arguments, evaluation.decision.rule, call.id});
    if (!record) {
      decided.emplace(call.sequence, Decision::deny(governance::approval_reason::queue_full, evaluation.decision.rule));
      continue;
    }
    gw_.emit({"approval", "deny", governance::approval_reason::pending, evaluation.decision.rule,
              provider_->name, model_, 0, 0, 0, "tool=" + call.name + " approval=" + record->id});
    pending.emplace(call.sequence, record->id);
  }
  asio::steady_timer timer(client_.get_executor());
  while (!pending.empty()) {
    gw_.deps.approvals->expire_due();
    for (auto it = pending.begin(); it != pending.end();) {
      const auto record = gw_.deps.approvals->get(it->second);
      if (record && record->state == governance::ApprovalState::pending) {
        ++it;
        continue;
      }
      decided.emplace(it->first, record ? record->decision()
                                        : Decision::deny(governance::approval_reason::timeout, "approval"));
      it = pending.erase(it);
    }
    if (pending.empty()) break;
    timer.expires_after(kApprovalPoll);
    co_await timer.async_wait(kTuple);
  }
  auto policy = tool_policy_;
  auto judge = [&decided, policy, trust](const governance::ToolCallInfo& call) {
    if (auto it = decided.find(call.sequence); it != decided.end()) return it->second;
    return policy->evaluate(call.name, call.arguments, trust).decision;  // fails closed on approval
  };
  auto result = responses_api ? governance::filter_responses_tool_calls(response, judge)
                              : governance::filter_response_tool_calls(response, flavor_, judge);
  changed = result.changed;
  record_tool_verdicts(result.calls, "tool_call");
}

}  // namespace sallyport::router
