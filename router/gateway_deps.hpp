#pragma once
// Builds the gateway's governance objects from the typed config (the mapping lives here, once):
//   budgets      → governance::BudgetLedger (journal in state_dir, sandbox = identity.sandbox)
//   rate_limits  → governance::RateLimiter (rpm/tpm) + governance::ConcurrencyLimiter
//   safety       → governance::SafetyPolicy (floor) + governance::PromptShield (default set +
//                  safety.prompt_shield.patterns; mode off/observe/enforce)
//   policy.file  → governance::ToolPolicyStore (+ ApprovalStore); no file = tool policy off
//   trust        → governance::TrustRegistry (state_dir/trust.json)
// The owner keeps the returned object alive longer than the InferenceGateway using deps().
#include "config/config.hpp"
#include "governance/approval_store.hpp"
#include "governance/approval_webhook.hpp"
#include "governance/budget_ledger.hpp"
#include "governance/content_safety.hpp"
#include "governance/prompt_shield.hpp"
#include "governance/rate_limiter.hpp"
#include "governance/tool_policy.hpp"
#include "governance/trust.hpp"
#include "router/gateway.hpp"

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace sallyport::router {

struct GatewayGovernance {
  std::unique_ptr<governance::BudgetLedger> budget;
  std::unique_ptr<governance::RateLimiter> rate_limiter;
  std::unique_ptr<governance::ConcurrencyLimiter> concurrency;
  std::shared_ptr<const governance::PromptShield> prompt_shield;
  std::optional<governance::SafetyPolicy> safety;
  std::unique_ptr<governance::ToolPolicyStore> tool_policy;
  std::optional<std::string> tool_policy_file;  // for reload on SIGHUP
  std::unique_ptr<governance::ApprovalStore> approvals;
  // After `approvals`: destroyed first, while the store that calls it still exists.
  std::unique_ptr<governance::ApprovalWebhook> approval_webhook;  // router/approval_notifier.hpp
  std::unique_ptr<governance::TrustRegistry> trust;
  std::string agent;  // identity.sandbox

  GatewayDeps deps() const;
  // Re-reads policy.file (SIGHUP); the last good policy stays on errors (returned as text).
  std::vector<std::string> reload_tool_policy();
};

struct GatewayGovernanceResult {
  std::unique_ptr<GatewayGovernance> governance;
  std::vector<std::string> errors;  // start-up errors: what and where (file, pattern id, pointer)
};

GatewayGovernanceResult build_gateway_governance(const config::Config& cfg);

}  // namespace sallyport::router
